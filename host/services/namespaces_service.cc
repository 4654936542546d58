#include "services/namespaces_service.h"

#include <memory>
#include <string>

#include "berth/grpc_service.h"
#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "metadata/plugin.h"
#include "services/grpc_status.h"

namespace berth::host {
namespace {

class NamespacesServicePlugin final : public GrpcServicePlugin {
 public:
  explicit NamespacesServicePlugin(std::shared_ptr<metadata::MetadataPlugin> md)
      : md_(std::move(md)), service_(&md_->db()) {}
  std::vector<grpc::Service*> Services() override { return {&service_}; }

 private:
  std::shared_ptr<metadata::MetadataPlugin> md_;
  NamespacesService service_;
};

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const Status& s) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpc(s));
  return reactor;
}

void ToProto(const metadata::NamespaceRecord& r, ns_pb::Namespace* out) {
  out->set_name(r.name);
  for (const auto& [k, v] : r.labels) (*out->mutable_labels())[k] = v;
}

metadata::NamespaceRecord FromProto(const ns_pb::Namespace& pb) {
  metadata::NamespaceRecord r;
  r.name = pb.name();
  r.labels.insert(pb.labels().begin(), pb.labels().end());
  return r;
}

}  // namespace

grpc::ServerUnaryReactor* NamespacesService::Get(
    grpc::CallbackServerContext* ctx, const ns_pb::GetNamespaceRequest* req,
    ns_pb::GetNamespaceResponse* resp) {
  auto r = db_->GetNamespace(req->name());
  if (!r.ok()) return Done(ctx, r.status());
  ToProto(*r, resp->mutable_namespace_());
  return Done(ctx, Status::Ok());
}

grpc::ServerUnaryReactor* NamespacesService::List(
    grpc::CallbackServerContext* ctx, const ns_pb::ListNamespacesRequest*,
    ns_pb::ListNamespacesResponse* resp) {
  auto list = db_->ListNamespaces();
  if (!list.ok()) return Done(ctx, list.status());
  for (const auto& r : *list) ToProto(r, resp->add_namespaces());
  return Done(ctx, Status::Ok());
}

grpc::ServerUnaryReactor* NamespacesService::Create(
    grpc::CallbackServerContext* ctx, const ns_pb::CreateNamespaceRequest* req,
    ns_pb::CreateNamespaceResponse* resp) {
  metadata::NamespaceRecord r = FromProto(req->namespace_());
  Status s = db_->CreateNamespace(r);
  if (!s.ok()) return Done(ctx, s);
  ToProto(r, resp->mutable_namespace_());
  return Done(ctx, Status::Ok());
}

grpc::ServerUnaryReactor* NamespacesService::Update(
    grpc::CallbackServerContext* ctx, const ns_pb::UpdateNamespaceRequest* req,
    ns_pb::UpdateNamespaceResponse* resp) {
  std::vector<std::string> paths(req->update_mask().paths().begin(),
                                 req->update_mask().paths().end());
  auto r = db_->UpdateNamespace(FromProto(req->namespace_()), paths);
  if (!r.ok()) return Done(ctx, r.status());
  ToProto(*r, resp->mutable_namespace_());
  return Done(ctx, Status::Ok());
}

grpc::ServerUnaryReactor* NamespacesService::Delete(
    grpc::CallbackServerContext* ctx, const ns_pb::DeleteNamespaceRequest* req,
    google::protobuf::Empty*) {
  return Done(ctx, db_->DeleteNamespace(req->name()));
}

Registration NamespacesServiceRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "namespaces";
  r.required_types = {std::string(types::kMetadata)};
  r.init = [](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    auto md = ctx.GetAs<metadata::MetadataPlugin>(types::kMetadata);
    if (!md.ok()) return md.status();
    return std::shared_ptr<Plugin>(
        std::make_shared<NamespacesServicePlugin>(std::move(*md)));
  };
  return r;
}

}  // namespace berth::host
