// StandalonePlugin: one plugin of a library, loaded and initialised outside
// berthd, the way berthd would: the library goes through berthd's loader
// (berth/runner/loader.h, every load stage checked), the plugin's typed config is decoded from a
// TOML table as berthd decodes [plugins."<uri>"], and its init runs with an
// InitContext whose root is the given folder itself (not "<root>/<uri>").
// Lookups see no other plugin, so a plugin that requires other types is
// refused before init. berth-snapshotter serves a snapshotter this way; any
// program built against the installed SDK can do the same by linking
// libberth-runner (CMake: Berth::runner).
//
// Ownership: the loaded library stays resident until the StandalonePlugin is
// destroyed, after the instance is closed and released.
// Not thread-safe; Start and Close from one thread. instance() may be used
// from any thread between them.
#ifndef BERTH_RUNNER_STANDALONE_H_
#define BERTH_RUNNER_STANDALONE_H_

#include <memory>
#include <string>
#include <vector>

#include "berth/logger.h"
#include "berth/plugin.h"
#include "berth/runner/loader.h"
#include "berth/status.h"

namespace berth::runner {

struct StandaloneOptions {
  // A path to a .so, or a name looked up in berth's own plugin folder
  // ("<exe>/../lib/berth/plugins/<name>[.so]").
  std::string library;
  std::string type;     // e.g. "io.containerd.snapshotter.v1"
  std::string id;       // "" = the library's only plugin of `type`
  std::string root;     // required; the plugin's root as is
  std::string state;    // "" = root
  std::string address;  // what InitContext::grpc_address() answers
  // A TOML file: either the plugin's table itself, or a containerd config
  // whose [plugins."<uri>"] table is used. "" = the plugin's defaults.
  std::string config_file;
};

// The file `library` names: an existing path as given, or
// "<plugin_dir>/<library>" then "<plugin_dir>/<library>.so" for a bare name.
// NotFound naming every place looked at.
Result<std::string> ResolveLibrary(const std::string& library, const std::string& plugin_dir);

class StandalonePlugin {
 public:
  // Errors: NotFound for a missing library, or one without a plugin of the
  // type (or id); the loader's stage error for a library that does not load;
  // InvalidArgument when several plugins of the type need an id, or the
  // config does not decode; FailedPrecondition when the plugin requires
  // other plugin types; the init's own Status (SkipPlugin for a skip),
  // annotated with the plugin's URI, when init fails.
  static Result<std::unique_ptr<StandalonePlugin>> Start(const StandaloneOptions& options);
  ~StandalonePlugin();  // Close(), then releases the instance, then the library
  StandalonePlugin(const StandalonePlugin&) = delete;
  StandalonePlugin& operator=(const StandalonePlugin&) = delete;

  const std::string& uri() const { return uri_; }
  const std::string& library_path() const { return library_path_; }
  const std::shared_ptr<Plugin>& instance() const { return instance_; }
  // Warnings about the config (unknown keys), "<file>:<line>: <message>".
  const std::vector<std::string>& warnings() const { return warnings_; }

  // Calls the instance's Close() once (an exception becomes Unknown).
  // Idempotent; later calls return OK.
  Status Close();

 private:
  StandalonePlugin() = default;
  Status Init(const StandaloneOptions& options, const Registration& registration);

  // Declared first: destroyed last, after everything from the library.
  PluginLoader loader_;
  std::string library_path_;
  std::string uri_;
  std::unique_ptr<PluginConfig> config_;
  PluginMeta meta_;
  std::unique_ptr<Logger> logger_;  // outlives the instance, which may keep it
  std::shared_ptr<Plugin> instance_;
  std::vector<std::string> warnings_;
  bool closed_ = false;
};

}  // namespace berth::runner

#endif  // BERTH_RUNNER_STANDALONE_H_
