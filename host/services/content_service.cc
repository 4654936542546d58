#include "services/content_service.h"

#include <memory>
#include <string>

#include "berth/grpc_service.h"
#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "metadata/plugin.h"
#include "services/grpc_status.h"

namespace berth::host {
namespace {

class ContentServicePlugin final : public GrpcServicePlugin {
 public:
  explicit ContentServicePlugin(std::shared_ptr<metadata::MetadataPlugin> md)
      : md_(std::move(md)), service_(&md_->content()) {}
  std::vector<grpc::Service*> Services() override { return {&service_}; }

 private:
  std::shared_ptr<metadata::MetadataPlugin> md_;
  ContentService service_;
};

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx,
                               const berth::Status& s) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpc(s));
  return reactor;
}

}  // namespace

void ToProtoTime(Timestamp t, google::protobuf::Timestamp* out) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                t.time_since_epoch()).count();
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int>(ns % 1000000000));
}

void ToProto(const ContentInfo& info, content_pb::Info* out) {
  out->set_digest(info.digest);
  out->set_size(info.size);
  ToProtoTime(info.created_at, out->mutable_created_at());
  ToProtoTime(info.updated_at, out->mutable_updated_at());
  for (const auto& [k, v] : info.labels) (*out->mutable_labels())[k] = v;
}

void ToProto(const IngestStatus& st, content_pb::Status* out) {
  out->set_ref(st.ref);
  out->set_offset(st.offset);
  out->set_total(st.total);
  out->set_expected(st.expected);
  ToProtoTime(st.started_at, out->mutable_started_at());
  ToProtoTime(st.updated_at, out->mutable_updated_at());
}

grpc::ServerUnaryReactor* ContentService::Info(grpc::CallbackServerContext* ctx,
                                               const content_pb::InfoRequest* req,
                                               content_pb::InfoResponse* resp) {
  auto ns = NamespaceOf(*ctx);
  if (!ns.ok()) return Done(ctx, ns.status());
  auto info = store_->Info(*ns, req->digest());
  if (!info.ok()) return Done(ctx, info.status());
  ToProto(*info, resp->mutable_info());
  return Done(ctx, berth::Status::Ok());
}

grpc::ServerUnaryReactor* ContentService::Update(grpc::CallbackServerContext* ctx,
                                                 const content_pb::UpdateRequest* req,
                                                 content_pb::UpdateResponse* resp) {
  auto ns = NamespaceOf(*ctx);
  if (!ns.ok()) return Done(ctx, ns.status());
  ContentInfo info;
  info.digest = req->info().digest();
  info.labels.insert(req->info().labels().begin(), req->info().labels().end());
  std::vector<std::string> paths(req->update_mask().paths().begin(),
                                 req->update_mask().paths().end());
  auto updated = store_->Update(*ns, info, paths);
  if (!updated.ok()) return Done(ctx, updated.status());
  ToProto(*updated, resp->mutable_info());
  return Done(ctx, berth::Status::Ok());
}

grpc::ServerUnaryReactor* ContentService::Delete(
    grpc::CallbackServerContext* ctx, const content_pb::DeleteContentRequest* req,
    google::protobuf::Empty*) {
  auto ns = NamespaceOf(*ctx);
  if (!ns.ok()) return Done(ctx, ns.status());
  return Done(ctx, store_->Delete(*ns, req->digest()));
}

grpc::ServerUnaryReactor* ContentService::Status(grpc::CallbackServerContext* ctx,
                                                 const content_pb::StatusRequest* req,
                                                 content_pb::StatusResponse* resp) {
  auto ns = NamespaceOf(*ctx);
  if (!ns.ok()) return Done(ctx, ns.status());
  auto st = store_->GetStatus(*ns, req->ref());
  if (!st.ok()) return Done(ctx, st.status());
  ToProto(*st, resp->mutable_status());
  return Done(ctx, berth::Status::Ok());
}

grpc::ServerUnaryReactor* ContentService::ListStatuses(
    grpc::CallbackServerContext* ctx, const content_pb::ListStatusesRequest* req,
    content_pb::ListStatusesResponse* resp) {
  auto ns = NamespaceOf(*ctx);
  if (!ns.ok()) return Done(ctx, ns.status());
  auto filter = filters::ParseAll({req->filters().begin(), req->filters().end()});
  if (!filter.ok()) return Done(ctx, filter.status());
  auto list = store_->ListStatuses(*ns, *filter);
  if (!list.ok()) return Done(ctx, list.status());
  for (const IngestStatus& st : *list) ToProto(st, resp->add_statuses());
  return Done(ctx, berth::Status::Ok());
}

grpc::ServerUnaryReactor* ContentService::Abort(grpc::CallbackServerContext* ctx,
                                                const content_pb::AbortRequest* req,
                                                google::protobuf::Empty*) {
  auto ns = NamespaceOf(*ctx);
  if (!ns.ok()) return Done(ctx, ns.status());
  return Done(ctx, store_->Abort(*ns, req->ref()));
}

Registration ContentServiceRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "content";
  r.required_types = {std::string(types::kMetadata)};
  r.init = [](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    auto md = ctx.GetAs<metadata::MetadataPlugin>(types::kMetadata);
    if (!md.ok()) return md.status();
    return std::shared_ptr<Plugin>(
        std::make_shared<ContentServicePlugin>(std::move(*md)));
  };
  return r;
}

}  // namespace berth::host
