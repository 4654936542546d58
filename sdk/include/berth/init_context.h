// InitContext: what the host gives a plugin's init function.
//
// Valid only during the init call; copy out what you keep. Lookups see only
// plugins initialised before this one (those the graph ordered first).
#ifndef BERTH_INIT_CONTEXT_H_
#define BERTH_INIT_CONTEXT_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "berth/logger.h"
#include "berth/plugin.h"
#include "berth/status.h"

namespace berth {

class InitContext {
 public:
  virtual ~InitContext();

  // "<root>/<uri>" and "<state>/<uri>"; not created by the host.
  virtual const std::string& root() const = 0;
  virtual const std::string& state() const = 0;
  // The daemon's gRPC and ttrpc socket addresses.
  virtual const std::string& grpc_address() const = 0;
  virtual const std::string& ttrpc_address() const = 0;
  // The decoded configuration: the registration's default with the operator's
  // table merged over it. Null when the registration has no config.
  virtual const PluginConfig* config() const = 0;
  // Filled in by the plugin: platforms, exports, capabilities.
  virtual PluginMeta& meta() = 0;
  // The plugin's logger. Unlike the context, it stays valid until the
  // plugin's instance is released, so the instance may keep it.
  virtual Logger& log() = 0;

  // The first initialised plugin of `type`, in init order.
  // NotFound if none; the plugin's init error if the first one failed.
  virtual Result<std::shared_ptr<Plugin>> Get(std::string_view type) const = 0;
  // The plugin "<type>.<id>". NotFound if absent, its init error if it failed.
  virtual Result<std::shared_ptr<Plugin>> GetByID(std::string_view type,
                                                  std::string_view id) const = 0;
  // Every successfully initialised plugin of `type`, by id.
  virtual std::map<std::string, std::shared_ptr<Plugin>> GetAll(
      std::string_view type) const = 0;

  // The config, typed. REQUIRES: the registration's config builds a T.
  template <typename T>
  const T& Config() const {
    return static_cast<const T&>(*config());
  }

  // Get() cast to an interface; InvalidArgument if the instance is not a T.
  template <typename T>
  Result<std::shared_ptr<T>> GetAs(std::string_view type) const {
    return Cast<T>(Get(type));
  }
  template <typename T>
  Result<std::shared_ptr<T>> GetByIDAs(std::string_view type,
                                       std::string_view id) const {
    return Cast<T>(GetByID(type, id));
  }

 private:
  template <typename T>
  static Result<std::shared_ptr<T>> Cast(Result<std::shared_ptr<Plugin>> r) {
    if (!r.ok()) return r.status();
    auto typed = std::dynamic_pointer_cast<T>(*r);
    if (!typed) return Status::InvalidArgument("plugin has unexpected interface");
    return typed;
  }
};

}  // namespace berth

#endif  // BERTH_INIT_CONTEXT_H_
