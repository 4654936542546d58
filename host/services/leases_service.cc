#include "services/leases_service.h"

#include <chrono>
#include <cstdio>
#include <random>
#include <utility>

#include "berth/grpc_service.h"
#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "server/blocking_pool.h"
#include "services/gc_service.h"
#include "services/grpc_status.h"

namespace berth::host {
namespace {

class LeasesServicePlugin final : public GrpcServicePlugin {
 public:
  LeasesServicePlugin(HostEnv env, std::shared_ptr<metadata::MetadataPlugin> md)
      : md_(std::move(md)), service_(env, md_.get()) {}
  std::vector<grpc::Service*> Services() override { return {&service_}; }

 private:
  std::shared_ptr<metadata::MetadataPlugin> md_;
  LeasesService service_;
};

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const Status& s) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpc(s));
  return reactor;
}

std::string RandomLeaseId() {
  static thread_local std::mt19937 rng(std::random_device{}());
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%06x", static_cast<unsigned>(rng() & 0xffffff));
  return std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() %
                        1000000000) +
         "-" + suffix;
}

void ToProto(const metadata::Lease& lease, leases_pb::Lease* out) {
  out->set_id(lease.id);
  auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(lease.created_at.time_since_epoch())
          .count();
  out->mutable_created_at()->set_seconds(ns / 1000000000);
  out->mutable_created_at()->set_nanos(static_cast<int>(ns % 1000000000));
  for (const auto& [k, v] : lease.labels) (*out->mutable_labels())[k] = v;
}

metadata::LeaseResource FromProto(const leases_pb::Resource& r) {
  return metadata::LeaseResource{r.id(), r.type()};
}

}  // namespace

grpc::ServerUnaryReactor* LeasesService::Create(grpc::CallbackServerContext* ctx,
                                                const leases_pb::CreateRequest* req,
                                                leases_pb::CreateResponse* resp) {
  auto ns = NamespaceOf(*ctx);
  if (!ns.ok()) return Done(ctx, ns.status());
  return FinishOnPool(ctx, [this, ns = *ns, req, resp]() -> Status {
    const std::string id = req->id().empty() ? RandomLeaseId() : req->id();
    auto lease = md_->leases().Create(ns, id, Labels(req->labels().begin(), req->labels().end()));
    if (!lease.ok()) return lease.status();
    ToProto(*lease, resp->mutable_lease());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* LeasesService::Delete(grpc::CallbackServerContext* ctx,
                                                const leases_pb::DeleteRequest* req,
                                                google::protobuf::Empty*) {
  auto ns = NamespaceOf(*ctx);
  if (!ns.ok()) return Done(ctx, ns.status());
  return FinishOnPool(ctx, [this, ns = *ns, req]() -> Status {
    BERTH_RETURN_IF_ERROR(md_->leases().Delete(ns, req->id()));
    if (!req->sync()) return Status::Ok();
    return CollectNow(env_, *md_).status();
  });
}

grpc::ServerUnaryReactor* LeasesService::List(grpc::CallbackServerContext* ctx,
                                              const leases_pb::ListRequest* req,
                                              leases_pb::ListResponse* resp) {
  auto ns = NamespaceOf(*ctx);
  if (!ns.ok()) return Done(ctx, ns.status());
  auto filter = filters::ParseAll({req->filters().begin(), req->filters().end()});
  if (!filter.ok()) return Done(ctx, filter.status());
  auto leases = md_->leases().List(*ns, *filter);
  if (!leases.ok()) return Done(ctx, leases.status());
  for (const metadata::Lease& lease : *leases) ToProto(lease, resp->add_leases());
  return Done(ctx, Status::Ok());
}

grpc::ServerUnaryReactor* LeasesService::AddResource(grpc::CallbackServerContext* ctx,
                                                     const leases_pb::AddResourceRequest* req,
                                                     google::protobuf::Empty*) {
  auto ns = NamespaceOf(*ctx);
  if (!ns.ok()) return Done(ctx, ns.status());
  return FinishOnPool(ctx, [this, ns = *ns, req] {
    return md_->leases().AddResource(ns, req->id(), FromProto(req->resource()));
  });
}

grpc::ServerUnaryReactor* LeasesService::DeleteResource(grpc::CallbackServerContext* ctx,
                                                        const leases_pb::DeleteResourceRequest* req,
                                                        google::protobuf::Empty*) {
  auto ns = NamespaceOf(*ctx);
  if (!ns.ok()) return Done(ctx, ns.status());
  return FinishOnPool(ctx, [this, ns = *ns, req] {
    return md_->leases().DeleteResource(ns, req->id(), FromProto(req->resource()));
  });
}

grpc::ServerUnaryReactor* LeasesService::ListResources(grpc::CallbackServerContext* ctx,
                                                       const leases_pb::ListResourcesRequest* req,
                                                       leases_pb::ListResourcesResponse* resp) {
  auto ns = NamespaceOf(*ctx);
  if (!ns.ok()) return Done(ctx, ns.status());
  auto resources = md_->leases().ListResources(*ns, req->id());
  if (!resources.ok()) return Done(ctx, resources.status());
  for (const metadata::LeaseResource& r : *resources) {
    leases_pb::Resource* out = resp->add_resources();
    out->set_id(r.id);
    out->set_type(r.type);
  }
  return Done(ctx, Status::Ok());
}

Registration LeasesServiceRegistration(HostEnv env) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "leases";
  r.required_types = {std::string(types::kMetadata)};
  r.init = [env](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    auto md = ctx.GetAs<metadata::MetadataPlugin>(types::kMetadata);
    if (!md.ok()) return md.status();
    return std::shared_ptr<Plugin>(std::make_shared<LeasesServicePlugin>(env, std::move(*md)));
  };
  return r;
}

}  // namespace berth::host
