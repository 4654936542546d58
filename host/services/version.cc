#include "services/version.h"

#include <memory>
#include <string>

#include "berth/grpc_service.h"
#include "berth/plugin_types.h"
#include "build_info.h"

namespace berth::host {
namespace {

class VersionPlugin final : public GrpcServicePlugin {
 public:
  std::vector<grpc::Service*> Services() override { return {&service_}; }

 private:
  VersionService service_;
};

}  // namespace

grpc::ServerUnaryReactor* VersionService::Version(
    grpc::CallbackServerContext* context, const google::protobuf::Empty*,
    containerd::services::version::v1::VersionResponse* response) {
  response->set_version(kVersion);
  response->set_revision("");
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

Registration VersionRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "version";
  r.init = [](InitContext&) -> Result<std::shared_ptr<Plugin>> {
    return std::shared_ptr<Plugin>(std::make_shared<VersionPlugin>());
  };
  return r;
}

}  // namespace berth::host
