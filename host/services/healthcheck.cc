#include "services/healthcheck.h"

#include <memory>
#include <string>

#include "berth/plugin_types.h"

namespace berth::host {
namespace {

// Marks that health checks are wanted; the server provides the service.
class HealthcheckPlugin final : public Plugin {};

}  // namespace

Registration HealthcheckRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "healthcheck";
  r.init = [](InitContext&) -> Result<std::shared_ptr<Plugin>> {
    return std::shared_ptr<Plugin>(std::make_shared<HealthcheckPlugin>());
  };
  return r;
}

}  // namespace berth::host
