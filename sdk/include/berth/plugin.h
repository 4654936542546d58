// Plugin: the base of every object a plugin's init returns, and
// Registration: what a library declares for each plugin it provides.
//
// Ownership: the host holds each instance in a shared_ptr until shutdown and
// hands shared_ptrs to dependants through InitContext lookups. Close() is
// called in reverse init order before any instance or library is released.
#ifndef BERTH_PLUGIN_H_
#define BERTH_PLUGIN_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "berth/config.h"
#include "berth/status.h"

namespace berth {

class InitContext;

// Base of plugin instances. Interfaces (Snapshotter, ContentStore, ...) derive
// from it virtually so one object may implement several.
class Plugin {
 public:
  virtual ~Plugin();
  // Releases what the plugin holds (files, threads, connections). Called once,
  // at shutdown, after every plugin that required this one was closed.
  virtual Status Close();
};

// A platform a plugin supports, as in OCI image specs.
struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
};

// What a plugin publishes about itself; filled in during init.
struct PluginMeta {
  std::vector<Platform> platforms;
  std::map<std::string, std::string> exports;
  std::vector<std::string> capabilities;
};

struct Registration {
  // One of berth::types (or a custom "<reverse-domain>.<name>.v<N>").
  std::string type;
  // Unique within the type. Neither type nor id may contain whitespace.
  std::string id;
  // Types that must be initialised first, in this order; or "*" alone, meaning
  // every other plugin. (containerd's Registration.Requires.)
  std::vector<std::string> required_types;
  // Types initialised first when any plugin of them is loaded, but not needed:
  // the plugin initialises (and looks them up itself) when none is present
  // or all failed. Ordering only; "*" is not allowed here.
  std::vector<std::string> optional_types;
  // Builds the default configuration; empty when the plugin takes none.
  std::function<std::unique_ptr<PluginConfig>()> config;
  // Creates the instance. Return Status::SkipPlugin to decline without error.
  // May throw; the host catches and records the failure.
  std::function<Result<std::shared_ptr<Plugin>>(InitContext&)> init;

  std::string uri() const { return type + "." + id; }
};

// What a library's registration function adds its plugins to.
class Registrar {
 public:
  virtual ~Registrar();
  virtual void Add(Registration registration) = 0;
};

}  // namespace berth

#endif  // BERTH_PLUGIN_H_
