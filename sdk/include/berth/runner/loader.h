// PluginLoader: finds plugin libraries, dlopens them with Boost.DLL and
// collects their registrations, checking each stage in order:
//   "permissions"  file (and its folder) owned by root or the daemon's user,
//                  not group- or world-writable
//   "open"         a shared object that loads (rtld_now | rtld_local)
//   "entry point"  exports berth_plugin_descriptor
//   "magic"        descriptor magic is berth's
//   "abi version"  SDK ABI major equal, minor <= the host's; size sane
//   "compiler abi" __GXX_ABI_VERSION and _GLIBCXX_USE_CXX11_ABI equal
//   "register"     the registration function succeeded and every
//                  registration is valid (type, id, requires)
// A failed library is recorded (and logged with path and stage); loading goes
// on. Libraries stay loaded until the loader is destroyed, which must happen
// after every plugin object from them is released.
//
// Part of libberth-runner: berthd, berth-snapshotter and any program that runs
// plugin libraries load them through this one loader.
//
// Not thread-safe; used once at startup.
#ifndef BERTH_RUNNER_LOADER_H_
#define BERTH_RUNNER_LOADER_H_

#include <memory>
#include <string>
#include <vector>

#include "berth/plugin.h"
#include "berth/status.h"

namespace berth {
struct PluginLibraryDescriptor;
}  // namespace berth

namespace berth::runner {

// The introspection type under which a library that failed before it could
// register anything is listed; its id is the file's name without ".so".
inline constexpr char kLibraryPseudoType[] = "io.berth.library.v1";

struct LibraryFailure {
  std::string path;
  std::string stage;  // one of the stage names above
  Status status;      // message: "<path>: <stage>: <detail>"
  std::string uri() const;  // "io.berth.library.v1.<stem>"
};

// A registration and the library it came from ("" for built-ins).
struct SourcedRegistration {
  Registration registration;
  std::string library;
};

class PluginLoader {
 public:
  PluginLoader();
  ~PluginLoader();
  PluginLoader(const PluginLoader&) = delete;
  PluginLoader& operator=(const PluginLoader&) = delete;

  // Loads every "*.so" in `dir` in name order. A missing folder is fine (no
  // plugins); a folder with unsafe permissions is one failure for the folder.
  void LoadDirectory(const std::string& dir,
                     std::vector<SourcedRegistration>& out);
  // Loads one file. Returns its failure's Status too. A registration whose
  // URI is already in `out` (or earlier in the same library) is refused.
  Status LoadFile(const std::string& path,
                  std::vector<SourcedRegistration>& out);

  const std::vector<LibraryFailure>& failures() const { return failures_; }

 private:
  struct Library;
  // Records (and logs) a failure; returns its Status.
  Status Fail(const std::string& path, const std::string& stage,
              const Status& detail);
  // Calls the library's registration function and checks what it added.
  Status Register(const std::string& path,
                  const PluginLibraryDescriptor& descriptor,
                  std::vector<SourcedRegistration>& out);

  std::vector<std::unique_ptr<Library>> libraries_;
  std::vector<LibraryFailure> failures_;
};

// Berth's own plugin folder for the running executable:
// "<dir of this executable>/../lib/berth/plugins" (the install's plugin
// subdir), normalised; "" when /proc/self/exe cannot be read.
std::string OwnPluginDir();

// Checks one registration: non-empty type and id without whitespace, "*"
// alone in required_types, an init function. InvalidArgument naming the fault.
Status ValidateRegistration(const Registration& r);

}  // namespace berth::runner

#endif  // BERTH_RUNNER_LOADER_H_
