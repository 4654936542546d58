#include "services/content_service.h"

#include <memory>
#include <string>

#include "berth/call_context.h"
#include "berth/grpc/convert.h"
#include "berth/grpc_service.h"
#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "metadata/plugin.h"
#include "server/blocking_pool.h"
#include "services/grpc_status.h"

namespace berth::host {
namespace {

using grpc_util::ToProto;

class ContentServicePlugin final : public GrpcServicePlugin {
 public:
  explicit ContentServicePlugin(std::shared_ptr<metadata::MetadataPlugin> md)
      : md_(std::move(md)), service_(&md_->content()) {}
  std::vector<grpc::Service*> Services() override { return {&service_}; }

 private:
  std::shared_ptr<metadata::MetadataPlugin> md_;
  ContentService service_;
};

}  // namespace

grpc::ServerUnaryReactor* ContentService::Info(grpc::CallbackServerContext* ctx,
                                               const content_pb::InfoRequest* req,
                                               content_pb::InfoResponse* resp) {
  return FinishOnPool(ctx, [=, this]() -> berth::Status {
    auto ns = NamespaceOf(*ctx);
    if (!ns.ok()) return ns.status();
    CallScope scope({*ns, LeaseOf(*ctx)});
    auto info = store_->Info(*ns, req->digest());
    if (!info.ok()) return info.status();
    ToProto(*info, resp->mutable_info());
    return berth::Status::Ok();
  });
}

grpc::ServerUnaryReactor* ContentService::Update(grpc::CallbackServerContext* ctx,
                                                 const content_pb::UpdateRequest* req,
                                                 content_pb::UpdateResponse* resp) {
  return FinishOnPool(ctx, [=, this]() -> berth::Status {
    auto ns = NamespaceOf(*ctx);
    if (!ns.ok()) return ns.status();
    CallScope scope({*ns, LeaseOf(*ctx)});
    ContentInfo info;
    info.digest = req->info().digest();
    info.labels = grpc_util::FromProto(req->info().labels());
    std::vector<std::string> paths(req->update_mask().paths().begin(),
                                   req->update_mask().paths().end());
    auto updated = store_->Update(*ns, info, paths);
    if (!updated.ok()) return updated.status();
    ToProto(*updated, resp->mutable_info());
    return berth::Status::Ok();
  });
}

grpc::ServerUnaryReactor* ContentService::Delete(grpc::CallbackServerContext* ctx,
                                                 const content_pb::DeleteContentRequest* req,
                                                 google::protobuf::Empty*) {
  return FinishOnPool(ctx, [=, this]() -> berth::Status {
    auto ns = NamespaceOf(*ctx);
    if (!ns.ok()) return ns.status();
    CallScope scope({*ns, LeaseOf(*ctx)});
    return store_->Delete(*ns, req->digest(), LeaseOf(*ctx));
  });
}

grpc::ServerUnaryReactor* ContentService::Status(grpc::CallbackServerContext* ctx,
                                                 const content_pb::StatusRequest* req,
                                                 content_pb::StatusResponse* resp) {
  return FinishOnPool(ctx, [=, this]() -> berth::Status {
    auto ns = NamespaceOf(*ctx);
    if (!ns.ok()) return ns.status();
    CallScope scope({*ns, LeaseOf(*ctx)});
    auto st = store_->GetStatus(*ns, req->ref());
    if (!st.ok()) return st.status();
    ToProto(*st, resp->mutable_status());
    return berth::Status::Ok();
  });
}

grpc::ServerUnaryReactor* ContentService::ListStatuses(grpc::CallbackServerContext* ctx,
                                                       const content_pb::ListStatusesRequest* req,
                                                       content_pb::ListStatusesResponse* resp) {
  return FinishOnPool(ctx, [=, this]() -> berth::Status {
    auto ns = NamespaceOf(*ctx);
    if (!ns.ok()) return ns.status();
    CallScope scope({*ns, LeaseOf(*ctx)});
    auto filter = filters::ParseAll({req->filters().begin(), req->filters().end()});
    if (!filter.ok()) return filter.status();
    auto list = store_->ListStatuses(*ns, *filter);
    if (!list.ok()) return list.status();
    for (const IngestStatus& st : *list) ToProto(st, resp->add_statuses());
    return berth::Status::Ok();
  });
}

grpc::ServerUnaryReactor* ContentService::Abort(grpc::CallbackServerContext* ctx,
                                                const content_pb::AbortRequest* req,
                                                google::protobuf::Empty*) {
  return FinishOnPool(ctx, [=, this]() -> berth::Status {
    auto ns = NamespaceOf(*ctx);
    if (!ns.ok()) return ns.status();
    CallScope scope({*ns, LeaseOf(*ctx)});
    return store_->Abort(*ns, req->ref(), LeaseOf(*ctx));
  });
}

Registration ContentServiceRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "content";
  r.required_types = {std::string(types::kMetadata)};
  r.init = [](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    auto md = ctx.GetAs<metadata::MetadataPlugin>(types::kMetadata);
    if (!md.ok()) return md.status();
    return std::shared_ptr<Plugin>(std::make_shared<ContentServicePlugin>(std::move(*md)));
  };
  return r;
}

}  // namespace berth::host
