// io.containerd.grpc.v1.version: containerd.services.version.v1.Version,
// answering berthd's version. Thread-safe (stateless).
#ifndef BERTH_HOST_SERVICES_VERSION_H_
#define BERTH_HOST_SERVICES_VERSION_H_

#include "berth/plugin.h"
#include "builtins.h"
#include "containerd/services/version/v1/version.grpc.pb.h"

namespace berth::host {

class VersionService final
    : public containerd::services::version::v1::Version::CallbackService {
 public:
  grpc::ServerUnaryReactor* Version(
      grpc::CallbackServerContext* context,
      const google::protobuf::Empty* request,
      containerd::services::version::v1::VersionResponse* response) override;
};

Registration VersionRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_VERSION_H_
