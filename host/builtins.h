// The plugins compiled into berthd itself, registered before any library's.
//
// Built-ins that need the daemon's own state (the config, the set of plugins
// for introspection) get it through HostEnv. The pointers are captured when
// the registrations are made, before PluginSet::Init, and read only when the
// plugins run; both objects outlive every plugin instance.
#ifndef BERTH_HOST_BUILTINS_H_
#define BERTH_HOST_BUILTINS_H_

#include <vector>

#include "berth/runner/loader.h"
#include "config/config.h"

namespace berth::host {

using runner::SourcedRegistration;

class PluginSet;

struct HostEnv {
  const Config* config = nullptr;
  const PluginSet* plugins = nullptr;  // read after Init only
};

// Every built-in registration, in registration order.
std::vector<SourcedRegistration> BuiltinRegistrations(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_BUILTINS_H_
