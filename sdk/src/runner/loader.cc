#include "berth/runner/loader.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>

#include <boost/dll/shared_library.hpp>

#include "berth/entry.h"
#include "berth/plugin_types.h"
#include "berth/runner/log.h"

namespace berth::runner {

namespace fs = std::filesystem;

struct PluginLoader::Library {
  std::string path;
  boost::dll::shared_library lib;
};

namespace {

constexpr char kStagePermissions[] = "permissions";
constexpr char kStageOpen[] = "open";
constexpr char kStageEntryPoint[] = "entry point";
constexpr char kStageMagic[] = "magic";
constexpr char kStageAbiVersion[] = "abi version";
constexpr char kStageCompilerAbi[] = "compiler abi";
constexpr char kStageRegister[] = "register";

// The descriptor must at least reach the end of register_plugins.
constexpr std::uint32_t kMinDescriptorSize =
    offsetof(PluginLibraryDescriptor, register_plugins) +
    sizeof(PluginLibraryDescriptor::register_plugins);

class CollectingRegistrar : public Registrar {
 public:
  void Add(Registration registration) override {
    registrations.push_back(std::move(registration));
  }
  std::vector<Registration> registrations;
};

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Owner root or us, not writable by group or others. `what` names the thing.
Status CheckOwnerAndMode(const struct stat& st, const std::string& what) {
  if (st.st_uid != 0 && st.st_uid != geteuid()) {
    return Status::FailedPrecondition(what + " is owned by uid " +
                                      std::to_string(st.st_uid) +
                                      ", not root or the daemon's user");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Status::FailedPrecondition(what + " is group- or world-writable (mode " +
                                      Octal(st.st_mode) + ")");
  }
  return Status::Ok();
}

Status CheckFolder(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return Status::NotFound("folder " + dir + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::FailedPrecondition(dir + " is not a folder");
  }
  return CheckOwnerAndMode(st, "folder " + dir);
}

// The file (and, for a symlink, its target) and the folder holding it.
Status CheckFilePermissions(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return Status::NotFound(std::string("lstat: ") + std::strerror(errno));
  }
  std::string target = path;
  if (S_ISLNK(st.st_mode)) {
    // A link's own mode is always 0777 on Linux; only its owner matters.
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
      return Status::FailedPrecondition("symlink is owned by uid " +
                                        std::to_string(st.st_uid));
    }
    std::error_code ec;
    fs::path resolved = fs::canonical(path, ec);
    if (ec || ::stat(resolved.c_str(), &st) != 0) {
      return Status::NotFound("symlink target does not resolve");
    }
    target = resolved.string();
    BERTH_RETURN_IF_ERROR(CheckFolder(resolved.parent_path().string()));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::FailedPrecondition(target + " is not a regular file");
  }
  BERTH_RETURN_IF_ERROR(CheckOwnerAndMode(st, "file " + target));
  return CheckFolder(fs::path(path).parent_path().string());
}

// Boost.DLL clears dlerror(); ask the dynamic loader again for its text.
std::string OpenErrorText(const std::string& path, const std::string& fallback) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* text = ::dlerror();
    if (text != nullptr) return text;
  } else {
    ::dlclose(handle);
  }
  return fallback;
}

Status CheckDescriptor(const PluginLibraryDescriptor& d, std::string& stage) {
  stage = kStageMagic;
  if (d.magic != kPluginMagic) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "bad magic 0x%016llx",
                  static_cast<unsigned long long>(d.magic));
    return Status::InvalidArgument(buf);
  }
  stage = kStageAbiVersion;
  if (d.abi_major != kSdkAbiMajor || d.abi_minor > kSdkAbiMinor) {
    return Status::FailedPrecondition(
        "built against SDK ABI " + std::to_string(d.abi_major) + "." +
        std::to_string(d.abi_minor) + ", host has " + std::to_string(kSdkAbiMajor) +
        "." + std::to_string(kSdkAbiMinor));
  }
  if (d.size < kMinDescriptorSize) {
    return Status::FailedPrecondition("descriptor size " + std::to_string(d.size) +
                                      " is below " +
                                      std::to_string(kMinDescriptorSize));
  }
  stage = kStageCompilerAbi;
  if (d.gxx_abi_version != kGxxAbiVersion || d.cxx11_abi != kCxx11Abi) {
    return Status::FailedPrecondition(
        "compiler ABI gxx " + std::to_string(d.gxx_abi_version) + " cxx11 " +
        std::to_string(d.cxx11_abi) + ", host has gxx " +
        std::to_string(kGxxAbiVersion) + " cxx11 " + std::to_string(kCxx11Abi));
  }
  stage = kStageRegister;
  if (d.register_plugins == nullptr) {
    return Status::InvalidArgument("descriptor has no registration function");
  }
  return Status::Ok();
}

bool HasWhitespace(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isspace(c) != 0 || std::iscntrl(c) != 0;
  });
}

}  // namespace

std::string LibraryFailure::uri() const {
  return std::string(kLibraryPseudoType) + "." + fs::path(path).stem().string();
}

Status ValidateRegistration(const Registration& r) {
  if (r.type.empty()) return Status::InvalidArgument("plugin: no type");
  if (r.id.empty()) return Status::InvalidArgument(r.type + ": plugin: no id");
  if (HasWhitespace(r.type) || HasWhitespace(r.id)) {
    return Status::InvalidArgument("\"" + r.uri() +
                                   "\": type and id may not contain whitespace");
  }
  for (const std::string& t : r.required_types) {
    if (t.empty() || HasWhitespace(t)) {
      return Status::InvalidArgument(r.uri() + ": invalid requires: bad type \"" +
                                     t + "\"");
    }
    if (t == types::kAllPlugins && r.required_types.size() != 1) {
      return Status::InvalidArgument(r.uri() +
                                     ": invalid requires: \"*\" must stand alone");
    }
  }
  for (const std::string& t : r.optional_types) {
    if (t.empty() || HasWhitespace(t) || t == types::kAllPlugins) {
      return Status::InvalidArgument(r.uri() + ": invalid optional requires: bad type \"" +
                                     t + "\"");
    }
  }
  if (!r.init) return Status::InvalidArgument(r.uri() + ": no init function");
  return Status::Ok();
}

std::string OwnPluginDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  return (exe.parent_path() / ".." / BERTH_PLUGIN_SUBDIR).lexically_normal().string();
}

PluginLoader::PluginLoader() = default;
PluginLoader::~PluginLoader() {
  // Last loaded first, mirroring load order.
  while (!libraries_.empty()) libraries_.pop_back();
}

Status PluginLoader::Fail(const std::string& path, const std::string& stage,
                          const Status& detail) {
  Status status(detail.code(), path + ": " + stage + ": " + detail.message());
  log::Error("failed to load plugin library",
             {{"path", path}, {"stage", stage}, {"error", detail.message()}});
  failures_.push_back(LibraryFailure{path, stage, status});
  return status;
}

void PluginLoader::LoadDirectory(const std::string& dir,
                                 std::vector<SourcedRegistration>& out) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  Status folder = CheckFolder(dir);
  if (!folder.ok()) {
    (void)Fail(dir, kStagePermissions, folder);
    return;
  }
  std::vector<std::string> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().extension() != ".so") continue;
    if (it->is_directory(ec)) continue;
    files.push_back(it->path().string());
  }
  if (ec) {
    (void)Fail(dir, kStageOpen, Status::Unavailable("list: " + ec.message()));
    return;
  }
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) (void)LoadFile(f, out);
}

Status PluginLoader::LoadFile(const std::string& path_in,
                              std::vector<SourcedRegistration>& out) {
  std::error_code ec;
  fs::path abs = fs::absolute(path_in, ec);
  const std::string path = ec ? path_in : abs.lexically_normal().string();

  Status perms = CheckFilePermissions(path);
  if (!perms.ok()) return Fail(path, kStagePermissions, perms);

  auto library = std::make_unique<Library>();
  library->path = path;
  boost::dll::fs::error_code bec;
  library->lib.load(boost::dll::fs::path(path),
                    boost::dll::load_mode::rtld_now |
                        boost::dll::load_mode::rtld_local,
                    bec);
  if (bec || !library->lib.is_loaded()) {
    return Fail(path, kStageOpen,
                Status::InvalidArgument(OpenErrorText(path, bec.message())));
  }
  // Resident from here on, whatever happens next.
  Library& lib = *library;
  libraries_.push_back(std::move(library));

  if (!lib.lib.has(kPluginEntryPoint)) {
    return Fail(path, kStageEntryPoint,
                Status::NotFound(std::string("no symbol ") + kPluginEntryPoint));
  }
  auto& entry =
      lib.lib.get_alias<const PluginLibraryDescriptor*()>(kPluginEntryPoint);
  const PluginLibraryDescriptor* descriptor = entry();
  if (descriptor == nullptr) {
    return Fail(path, kStageMagic,
                Status::InvalidArgument("entry point returned no descriptor"));
  }
  std::string stage;
  Status valid = CheckDescriptor(*descriptor, stage);
  if (!valid.ok()) return Fail(path, stage, valid);
  return Register(path, *descriptor, out);
}

Status PluginLoader::Register(const std::string& path,
                              const PluginLibraryDescriptor& descriptor,
                              std::vector<SourcedRegistration>& out) {
  CollectingRegistrar registrar;
  Status registered = descriptor.register_plugins(registrar);
  if (!registered.ok()) return Fail(path, kStageRegister, registered);

  std::set<std::string> taken;
  for (const SourcedRegistration& s : out) taken.insert(s.registration.uri());
  Status last;
  for (Registration& r : registrar.registrations) {
    Status v = ValidateRegistration(r);
    if (v.ok() && !taken.insert(r.uri()).second) {
      v = Status::AlreadyExists(r.uri() + ": plugin id already registered");
    }
    if (!v.ok()) {
      last = Fail(path, kStageRegister, v);
      continue;
    }
    out.push_back(SourcedRegistration{std::move(r), path});
  }
  return last;
}

}  // namespace berth::runner
