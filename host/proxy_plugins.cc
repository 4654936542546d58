#include "proxy_plugins.h"

#include <chrono>

#include "client/registration.h"

namespace berth::host {

std::vector<Registration> ProxyRegistrations(const Config& config) {
  std::vector<Registration> out;
  for (const auto& [name, entry] : config.proxy_plugins) {
    proxy::ProxySpec spec;
    spec.name = name;
    spec.type = entry.type;
    spec.address = entry.address;
    spec.platform = entry.platform;
    spec.exports = entry.exports;
    spec.capabilities = entry.capabilities;
    if (entry.timeout.value.count() > 0) {
      spec.timeout = std::chrono::ceil<std::chrono::milliseconds>(entry.timeout.value);
    }
    out.push_back(proxy::ProxyRegistration(spec));
  }
  return out;
}

}  // namespace berth::host
