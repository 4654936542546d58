#include "services/gc_service.h"

#include <utility>

#include "berth/grpc_service.h"
#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "core/plugin_set.h"
#include "berth/grpc/call.h"

namespace berth::host {
namespace {

class GcServicePlugin final : public GrpcServicePlugin {
 public:
  GcServicePlugin(HostEnv env, std::shared_ptr<GarbageCollector> collector)
      : collector_(std::move(collector)), service_(env, collector_.get()) {}
  std::vector<grpc::Service*> Services() override { return {&service_}; }

 private:
  std::shared_ptr<GarbageCollector> collector_;
  GcService service_;
};

// The first initialised io.containerd.gc.v1 plugin that schedules
// collections, or null.
std::shared_ptr<GcScheduler> FindScheduler(const HostEnv& env) {
  if (env.plugins == nullptr) return nullptr;
  for (const auto& record : env.plugins->records()) {
    if (record->registration.type != types::kGc || record->state != PluginState::kOk) continue;
    if (auto scheduler = std::dynamic_pointer_cast<GcScheduler>(record->instance)) {
      return scheduler;
    }
  }
  return nullptr;
}

void SetDuration(std::chrono::nanoseconds d, google::protobuf::Duration* out) {
  out->set_seconds(d.count() / 1000000000);
  out->set_nanos(static_cast<int>(d.count() % 1000000000));
}

}  // namespace

Result<gc::Stats> CollectNow(const HostEnv& env, GarbageCollector& collector) {
  if (auto scheduler = FindScheduler(env)) return scheduler->ScheduleAndWait();
  return collector.GarbageCollect();
}

grpc::ServerUnaryReactor* GcService::Collect(grpc::CallbackServerContext* ctx,
                                             const gc_pb::CollectRequest*,
                                             gc_pb::CollectResponse* resp) {
  return grpc_util::ServeUnary(ctx, {.namespace_required = false}, [resp, env = env_, collector = collector_](const CallContext&) -> Status {
    auto stats = CollectNow(env, *collector);
    if (!stats.ok()) return stats.status();
    SetDuration(stats->mark, resp->mutable_mark());
    SetDuration(stats->sweep, resp->mutable_sweep());
    SetDuration(stats->backend, resp->mutable_backend());
    resp->set_content_removed(stats->content_removed);
    resp->set_ingests_removed(stats->ingests_removed);
    resp->set_snapshots_removed(stats->snapshots_removed);
    resp->set_leases_removed(stats->leases_removed);
    resp->set_records_removed(stats->records_removed);
    resp->set_backends_pending(stats->backends_pending);
    resp->set_backend_errors(stats->backend_errors);
    return Status::Ok();
  });
}

Registration GcServiceRegistration(HostEnv env) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "gc";
  r.required_types = {std::string(types::kMetadata)};
  r.init = [env](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    auto collector = ctx.GetAs<GarbageCollector>(types::kMetadata);
    if (!collector.ok()) return collector.status();
    return std::shared_ptr<Plugin>(std::make_shared<GcServicePlugin>(env, std::move(*collector)));
  };
  return r;
}

}  // namespace berth::host
