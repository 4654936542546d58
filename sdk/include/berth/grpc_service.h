// GrpcServicePlugin: a plugin (type io.containerd.grpc.v1) that adds gRPC
// services to the daemon's server. The host registers every such plugin's
// services before it starts serving, in init order.
//
// The services are owned by the plugin and must outlive the server; the host
// stops the server before it closes any plugin.
#ifndef BERTH_GRPC_SERVICE_H_
#define BERTH_GRPC_SERVICE_H_

#include <vector>

#include "berth/plugin.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace berth {

class GrpcServicePlugin : public virtual Plugin {
 public:
  ~GrpcServicePlugin() override;
  virtual std::vector<grpc::Service*> Services() = 0;
};

}  // namespace berth

#endif  // BERTH_GRPC_SERVICE_H_
