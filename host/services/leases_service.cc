#include "services/leases_service.h"

#include <chrono>
#include <cstdio>
#include <random>
#include <utility>

#include "berth/grpc_service.h"
#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "services/gc_service.h"
#include "berth/grpc/call.h"

namespace berth::host {
namespace {

class LeasesServicePlugin final : public GrpcServicePlugin {
 public:
  LeasesServicePlugin(HostEnv env, std::shared_ptr<LeaseManager> leases,
                      std::shared_ptr<GarbageCollector> collector)
      : leases_(std::move(leases)),
        collector_(std::move(collector)),
        service_(env, leases_.get(), collector_.get()) {}
  std::vector<grpc::Service*> Services() override { return {&service_}; }

 private:
  std::shared_ptr<LeaseManager> leases_;
  std::shared_ptr<GarbageCollector> collector_;
  LeasesService service_;
};

std::string RandomLeaseId() {
  static thread_local std::mt19937 rng(std::random_device{}());
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%06x", static_cast<unsigned>(rng() & 0xffffff));
  return std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() %
                        1000000000) +
         "-" + suffix;
}

void ToProto(const Lease& lease, leases_pb::Lease* out) {
  out->set_id(lease.id);
  auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(lease.created_at.time_since_epoch())
          .count();
  out->mutable_created_at()->set_seconds(ns / 1000000000);
  out->mutable_created_at()->set_nanos(static_cast<int>(ns % 1000000000));
  for (const auto& [k, v] : lease.labels) (*out->mutable_labels())[k] = v;
}

LeaseResource FromProto(const leases_pb::Resource& r) {
  return LeaseResource{r.id(), r.type()};
}

}  // namespace

namespace {
constexpr grpc_util::CallRules kRules{.namespace_required = true};
}  // namespace

grpc::ServerUnaryReactor* LeasesService::Create(grpc::CallbackServerContext* ctx,
                                                const leases_pb::CreateRequest* req,
                                                leases_pb::CreateResponse* resp) {
  return grpc_util::ServeUnary(ctx, kRules, [this, req, resp](const CallContext& call) -> Status {
    const std::string id = req->id().empty() ? RandomLeaseId() : req->id();
    auto lease = leases_->CreateLease(call.ns, id, Labels(req->labels().begin(), req->labels().end()));
    if (!lease.ok()) return lease.status();
    ToProto(*lease, resp->mutable_lease());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* LeasesService::Delete(grpc::CallbackServerContext* ctx,
                                                const leases_pb::DeleteRequest* req,
                                                google::protobuf::Empty*) {
  return grpc_util::ServeUnary(ctx, kRules, [this, req](const CallContext& call) -> Status {
    BERTH_RETURN_IF_ERROR(leases_->DeleteLease(call.ns, req->id()));
    if (!req->sync()) return Status::Ok();
    return CollectNow(env_, *collector_).status();
  });
}

grpc::ServerUnaryReactor* LeasesService::List(grpc::CallbackServerContext* ctx,
                                              const leases_pb::ListRequest* req,
                                              leases_pb::ListResponse* resp) {
  return grpc_util::ServeUnary(ctx, kRules, [this, req, resp](const CallContext& call) -> Status {
    auto filter = filters::ParseAll({req->filters().begin(), req->filters().end()});
    if (!filter.ok()) return filter.status();
    auto leases = leases_->ListLeases(call.ns, *filter);
    if (!leases.ok()) return leases.status();
    for (const Lease& lease : *leases) ToProto(lease, resp->add_leases());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* LeasesService::AddResource(grpc::CallbackServerContext* ctx,
                                                     const leases_pb::AddResourceRequest* req,
                                                     google::protobuf::Empty*) {
  return grpc_util::ServeUnary(ctx, kRules, [this, req](const CallContext& call) {
    return leases_->AddLeaseResource(call.ns, req->id(), FromProto(req->resource()));
  });
}

grpc::ServerUnaryReactor* LeasesService::DeleteResource(grpc::CallbackServerContext* ctx,
                                                        const leases_pb::DeleteResourceRequest* req,
                                                        google::protobuf::Empty*) {
  return grpc_util::ServeUnary(ctx, kRules, [this, req](const CallContext& call) {
    return leases_->DeleteLeaseResource(call.ns, req->id(), FromProto(req->resource()));
  });
}

grpc::ServerUnaryReactor* LeasesService::ListResources(grpc::CallbackServerContext* ctx,
                                                       const leases_pb::ListResourcesRequest* req,
                                                       leases_pb::ListResourcesResponse* resp) {
  return grpc_util::ServeUnary(ctx, kRules, [this, req, resp](const CallContext& call) -> Status {
    auto resources = leases_->ListLeaseResources(call.ns, req->id());
    if (!resources.ok()) return resources.status();
    for (const LeaseResource& r : *resources) {
      leases_pb::Resource* out = resp->add_resources();
      out->set_id(r.id);
      out->set_type(r.type);
    }
    return Status::Ok();
  });
}

Registration LeasesServiceRegistration(HostEnv env) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "leases";
  r.required_types = {std::string(types::kMetadata)};
  r.init = [env](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    auto leases = ctx.GetAs<LeaseManager>(types::kMetadata);
    if (!leases.ok()) return leases.status();
    auto collector = ctx.GetAs<GarbageCollector>(types::kMetadata);
    if (!collector.ok()) return collector.status();
    return std::shared_ptr<Plugin>(
        std::make_shared<LeasesServicePlugin>(env, std::move(*leases), std::move(*collector)));
  };
  return r;
}

}  // namespace berth::host
