// The proxy plugins of a config: one registration per `[proxy_plugins.NAME]`
// entry, in name order (see proxy/client/registration.h for what each does).
// Thread-safe: pure construction.
#ifndef BERTH_HOST_PROXY_PLUGINS_H_
#define BERTH_HOST_PROXY_PLUGINS_H_

#include <vector>

#include "berth/plugin.h"
#include "config/config.h"

namespace berth::host {

std::vector<Registration> ProxyRegistrations(const Config& config);

}  // namespace berth::host

#endif  // BERTH_HOST_PROXY_PLUGINS_H_
