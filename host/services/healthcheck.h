// io.containerd.grpc.v1.healthcheck: grpc.health.v1.Health. The service is
// gRPC's own default health service, which the daemon's server turns on when
// this plugin initialised (so disabling the plugin turns health checks off).
// Thread-safe (stateless).
#ifndef BERTH_HOST_SERVICES_HEALTHCHECK_H_
#define BERTH_HOST_SERVICES_HEALTHCHECK_H_

#include "berth/plugin.h"
#include "builtins.h"

namespace berth::host {

inline constexpr char kHealthcheckUri[] = "io.containerd.grpc.v1.healthcheck";

Registration HealthcheckRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_HEALTHCHECK_H_
