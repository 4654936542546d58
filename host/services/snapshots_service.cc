#include "services/snapshots_service.h"

#include <deque>
#include <utility>

#include "berth/grpc_service.h"
#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "berth/snapshotter.h"
#include "metadata/plugin.h"
#include "services/batched_list.h"
#include "services/grpc_status.h"

namespace berth::host {
namespace {

constexpr int kListBatch = 100;

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const Status& s) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpc(s));
  return reactor;
}

void MountsToProto(const std::vector<Mount>& mounts,
                   google::protobuf::RepeatedPtrField<containerd::types::Mount>* out) {
  for (const auto& m : mounts) {
    auto* pm = out->Add();
    pm->set_type(m.type);
    pm->set_source(m.source);
    pm->set_target(m.target);
    for (const auto& o : m.options) pm->add_options(o);
  }
}

void ToTimestamp(snapshots::Time t, google::protobuf::Timestamp* out) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch())
                .count();
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int>(ns % 1000000000));
}

snapshots::Labels LabelsOf(const google::protobuf::Map<std::string, std::string>& m) {
  return snapshots::Labels(m.begin(), m.end());
}

// Resolves the namespace and the snapshotter of a request.
struct Target {
  std::string ns;
  metadata::NamespacedSnapshotter* sn = nullptr;
};

Result<Target> Resolve(SnapshotsService& service, grpc::CallbackServerContext* ctx,
                       const std::string& snapshotter) {
  auto ns = NamespaceOf(*ctx);
  if (!ns.ok()) return ns.status();
  auto sn = service.Find(snapshotter);
  if (!sn.ok()) return sn.status();
  return Target{std::move(*ns), *sn};
}

// Collects a namespace's snapshot infos, kListBatch to a response.
Status CollectSnapshots(SnapshotsService& service, grpc::CallbackServerContext* ctx,
                        const snapshots_pb::ListSnapshotsRequest* req,
                        std::deque<snapshots_pb::ListSnapshotsResponse>& batches) {
  auto t = Resolve(service, ctx, req->snapshotter());
  if (!t.ok()) return t.status();
  return t->sn->Walk(t->ns, {req->filters().begin(), req->filters().end()},
                     [&](const snapshots::Info& info) {
                       if (batches.empty() || batches.back().info_size() >= kListBatch) {
                         batches.emplace_back();
                       }
                       ToProto(info, batches.back().add_info());
                       return Status::Ok();
                     });
}

class SnapshotsServicePlugin final : public GrpcServicePlugin {
 public:
  SnapshotsServicePlugin(std::shared_ptr<metadata::MetadataPlugin> md,
                         SnapshotsService::SnapshotterMap snapshotters)
      : md_(std::move(md)), service_(std::move(snapshotters)) {}
  std::vector<grpc::Service*> Services() override { return {&service_}; }

 private:
  std::shared_ptr<metadata::MetadataPlugin> md_;
  SnapshotsService service_;
};

}  // namespace

void ToProto(const snapshots::Info& info, snapshots_pb::Info* out) {
  out->set_name(info.name);
  out->set_parent(info.parent);
  out->set_kind(static_cast<snapshots_pb::Kind>(info.kind));
  ToTimestamp(info.created, out->mutable_created_at());
  ToTimestamp(info.updated, out->mutable_updated_at());
  for (const auto& [k, v] : info.labels) (*out->mutable_labels())[k] = v;
}

Result<metadata::NamespacedSnapshotter*> SnapshotsService::Find(const std::string& name) {
  if (name.empty()) return Status::InvalidArgument("snapshotter argument missing");
  auto it = snapshotters_.find(name);
  if (it == snapshotters_.end()) {
    return Status::InvalidArgument("snapshotter not loaded: " + name);
  }
  return it->second.get();
}

grpc::ServerUnaryReactor* SnapshotsService::Prepare(
    grpc::CallbackServerContext* ctx, const snapshots_pb::PrepareSnapshotRequest* req,
    snapshots_pb::PrepareSnapshotResponse* resp) {
  auto t = Resolve(*this, ctx, req->snapshotter());
  if (!t.ok()) return Done(ctx, t.status());
  auto m = t->sn->Prepare(t->ns, req->key(), req->parent(), LabelsOf(req->labels()));
  if (!m.ok()) return Done(ctx, m.status());
  MountsToProto(*m, resp->mutable_mounts());
  return Done(ctx, Status::Ok());
}

grpc::ServerUnaryReactor* SnapshotsService::View(
    grpc::CallbackServerContext* ctx, const snapshots_pb::ViewSnapshotRequest* req,
    snapshots_pb::ViewSnapshotResponse* resp) {
  auto t = Resolve(*this, ctx, req->snapshotter());
  if (!t.ok()) return Done(ctx, t.status());
  auto m = t->sn->View(t->ns, req->key(), req->parent(), LabelsOf(req->labels()));
  if (!m.ok()) return Done(ctx, m.status());
  MountsToProto(*m, resp->mutable_mounts());
  return Done(ctx, Status::Ok());
}

grpc::ServerUnaryReactor* SnapshotsService::Mounts(grpc::CallbackServerContext* ctx,
                                                   const snapshots_pb::MountsRequest* req,
                                                   snapshots_pb::MountsResponse* resp) {
  auto t = Resolve(*this, ctx, req->snapshotter());
  if (!t.ok()) return Done(ctx, t.status());
  auto m = t->sn->Mounts(t->ns, req->key());
  if (!m.ok()) return Done(ctx, m.status());
  MountsToProto(*m, resp->mutable_mounts());
  return Done(ctx, Status::Ok());
}

grpc::ServerUnaryReactor* SnapshotsService::Commit(
    grpc::CallbackServerContext* ctx, const snapshots_pb::CommitSnapshotRequest* req,
    google::protobuf::Empty*) {
  auto t = Resolve(*this, ctx, req->snapshotter());
  if (!t.ok()) return Done(ctx, t.status());
  return Done(ctx, t->sn->Commit(t->ns, req->name(), req->key(), LabelsOf(req->labels())));
}

grpc::ServerUnaryReactor* SnapshotsService::Remove(
    grpc::CallbackServerContext* ctx, const snapshots_pb::RemoveSnapshotRequest* req,
    google::protobuf::Empty*) {
  auto t = Resolve(*this, ctx, req->snapshotter());
  if (!t.ok()) return Done(ctx, t.status());
  return Done(ctx, t->sn->Remove(t->ns, req->key()));
}

grpc::ServerUnaryReactor* SnapshotsService::Stat(
    grpc::CallbackServerContext* ctx, const snapshots_pb::StatSnapshotRequest* req,
    snapshots_pb::StatSnapshotResponse* resp) {
  auto t = Resolve(*this, ctx, req->snapshotter());
  if (!t.ok()) return Done(ctx, t.status());
  auto info = t->sn->Stat(t->ns, req->key());
  if (!info.ok()) return Done(ctx, info.status());
  ToProto(*info, resp->mutable_info());
  return Done(ctx, Status::Ok());
}

grpc::ServerUnaryReactor* SnapshotsService::Update(
    grpc::CallbackServerContext* ctx, const snapshots_pb::UpdateSnapshotRequest* req,
    snapshots_pb::UpdateSnapshotResponse* resp) {
  auto t = Resolve(*this, ctx, req->snapshotter());
  if (!t.ok()) return Done(ctx, t.status());
  snapshots::Info in;
  in.name = req->info().name();
  in.labels = LabelsOf(req->info().labels());
  std::vector<std::string> paths(req->update_mask().paths().begin(),
                                 req->update_mask().paths().end());
  auto info = t->sn->Update(t->ns, in, paths);
  if (!info.ok()) return Done(ctx, info.status());
  ToProto(*info, resp->mutable_info());
  return Done(ctx, Status::Ok());
}

grpc::ServerWriteReactor<snapshots_pb::ListSnapshotsResponse>* SnapshotsService::List(
    grpc::CallbackServerContext* ctx, const snapshots_pb::ListSnapshotsRequest* req) {
  return new BatchedListReactor<snapshots_pb::ListSnapshotsResponse>(
      [&](std::deque<snapshots_pb::ListSnapshotsResponse>& batches) {
        return CollectSnapshots(*this, ctx, req, batches);
      });
}

grpc::ServerUnaryReactor* SnapshotsService::Usage(grpc::CallbackServerContext* ctx,
                                                  const snapshots_pb::UsageRequest* req,
                                                  snapshots_pb::UsageResponse* resp) {
  auto t = Resolve(*this, ctx, req->snapshotter());
  if (!t.ok()) return Done(ctx, t.status());
  auto u = t->sn->Usage(t->ns, req->key());
  if (!u.ok()) return Done(ctx, u.status());
  resp->set_size(u->size);
  resp->set_inodes(u->inodes);
  return Done(ctx, Status::Ok());
}

grpc::ServerUnaryReactor* SnapshotsService::Cleanup(
    grpc::CallbackServerContext* ctx, const snapshots_pb::CleanupRequest* req,
    google::protobuf::Empty*) {
  auto sn = Find(req->snapshotter());
  if (!sn.ok()) return Done(ctx, sn.status());
  return Done(ctx, (*sn)->Cleanup());
}

Registration SnapshotsServiceRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "snapshots";
  r.required_types = {std::string(types::kMetadata), std::string(types::kSnapshotter)};
  r.init = [](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    auto md = ctx.GetAs<metadata::MetadataPlugin>(types::kMetadata);
    if (!md.ok()) return md.status();
    SnapshotsService::SnapshotterMap snapshotters;
    for (auto& [id, plugin] : ctx.GetAll(types::kSnapshotter)) {
      auto sn = std::dynamic_pointer_cast<Snapshotter>(plugin);
      if (!sn) continue;
      auto namespaced =
          std::make_unique<metadata::NamespacedSnapshotter>(&(*md)->db(), id, std::move(sn));
      // A crash can leave storage without a record (and records without
      // storage); a snapshotter may not hand out new snapshots cleanly until
      // that is gone, so clean up before serving, as containerd's first
      // garbage collection does.
      Status cleaned = namespaced->Cleanup();
      if (!cleaned.ok()) {
        ctx.log().Warn("cleanup of snapshotter " + id + " failed: " + cleaned.ToString());
      }
      snapshotters.emplace(id, std::move(namespaced));
    }
    return std::shared_ptr<Plugin>(
        std::make_shared<SnapshotsServicePlugin>(std::move(*md), std::move(snapshotters)));
  };
  return r;
}

}  // namespace berth::host
