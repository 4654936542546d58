#include "services/snapshots_service.h"

#include <deque>
#include <memory>
#include <utility>

#include "berth/call_context.h"
#include "berth/grpc/batched_list.h"
#include "berth/grpc/convert.h"
#include "berth/grpc_service.h"
#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "berth/snapshotter.h"
#include "metadata/plugin.h"
#include "server/blocking_pool.h"
#include "services/grpc_status.h"

namespace berth::host {
namespace {

using grpc_util::FromProto;
using grpc_util::ToProto;

constexpr int kListBatch = 100;

// Resolves the namespace and the snapshotter of a request. While the Target
// lives, the call's namespace and lease are the thread's call context
// (berth/call_context.h) for the backend (a proxy forwards them).
struct Target {
  std::string ns;
  metadata::NamespacedSnapshotter* sn = nullptr;
  std::unique_ptr<CallScope> scope;
};

Result<Target> Resolve(SnapshotsService& service, grpc::CallbackServerContext* ctx,
                       const std::string& snapshotter) {
  auto ns = NamespaceOf(*ctx);
  if (!ns.ok()) return ns.status();
  auto sn = service.Find(snapshotter);
  if (!sn.ok()) return sn.status();
  auto scope = std::make_unique<CallScope>(CallContext{*ns, LeaseOf(*ctx)});
  return Target{std::move(*ns), *sn, std::move(scope)};
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
  explicit SnapshotsServicePlugin(std::shared_ptr<metadata::MetadataPlugin> md)
      : md_(std::move(md)), service_(md_.get()) {}
  std::vector<grpc::Service*> Services() override { return {&service_}; }

 private:
  std::shared_ptr<metadata::MetadataPlugin> md_;
  SnapshotsService service_;
};

}  // namespace

Result<metadata::NamespacedSnapshotter*> SnapshotsService::Find(const std::string& name) {
  if (name.empty()) return Status::InvalidArgument("snapshotter argument missing");
  metadata::NamespacedSnapshotter* sn = md_->snapshotter(name);
  if (sn == nullptr) return Status::InvalidArgument("snapshotter not loaded: " + name);
  return sn;
}

grpc::ServerUnaryReactor* SnapshotsService::Prepare(grpc::CallbackServerContext* ctx,
                                                    const snapshots_pb::PrepareSnapshotRequest* req,
                                                    snapshots_pb::PrepareSnapshotResponse* resp) {
  return FinishOnPool(ctx, [=, this]() -> Status {
    auto t = Resolve(*this, ctx, req->snapshotter());
    if (!t.ok()) return t.status();
    auto m =
        t->sn->Prepare(t->ns, req->key(), req->parent(), FromProto(req->labels()), LeaseOf(*ctx));
    if (!m.ok()) return m.status();
    ToProto(*m, resp->mutable_mounts());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* SnapshotsService::View(grpc::CallbackServerContext* ctx,
                                                 const snapshots_pb::ViewSnapshotRequest* req,
                                                 snapshots_pb::ViewSnapshotResponse* resp) {
  return FinishOnPool(ctx, [=, this]() -> Status {
    auto t = Resolve(*this, ctx, req->snapshotter());
    if (!t.ok()) return t.status();
    auto m = t->sn->View(t->ns, req->key(), req->parent(), FromProto(req->labels()), LeaseOf(*ctx));
    if (!m.ok()) return m.status();
    ToProto(*m, resp->mutable_mounts());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* SnapshotsService::Mounts(grpc::CallbackServerContext* ctx,
                                                   const snapshots_pb::MountsRequest* req,
                                                   snapshots_pb::MountsResponse* resp) {
  return FinishOnPool(ctx, [=, this]() -> Status {
    auto t = Resolve(*this, ctx, req->snapshotter());
    if (!t.ok()) return t.status();
    auto m = t->sn->Mounts(t->ns, req->key());
    if (!m.ok()) return m.status();
    ToProto(*m, resp->mutable_mounts());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* SnapshotsService::Commit(grpc::CallbackServerContext* ctx,
                                                   const snapshots_pb::CommitSnapshotRequest* req,
                                                   google::protobuf::Empty*) {
  return FinishOnPool(ctx, [=, this]() -> Status {
    auto t = Resolve(*this, ctx, req->snapshotter());
    if (!t.ok()) return t.status();
    return t->sn->Commit(t->ns, req->name(), req->key(), FromProto(req->labels()), LeaseOf(*ctx));
  });
}

grpc::ServerUnaryReactor* SnapshotsService::Remove(grpc::CallbackServerContext* ctx,
                                                   const snapshots_pb::RemoveSnapshotRequest* req,
                                                   google::protobuf::Empty*) {
  return FinishOnPool(ctx, [=, this]() -> Status {
    auto t = Resolve(*this, ctx, req->snapshotter());
    if (!t.ok()) return t.status();
    return t->sn->Remove(t->ns, req->key(), LeaseOf(*ctx));
  });
}

grpc::ServerUnaryReactor* SnapshotsService::Stat(grpc::CallbackServerContext* ctx,
                                                 const snapshots_pb::StatSnapshotRequest* req,
                                                 snapshots_pb::StatSnapshotResponse* resp) {
  return FinishOnPool(ctx, [=, this]() -> Status {
    auto t = Resolve(*this, ctx, req->snapshotter());
    if (!t.ok()) return t.status();
    auto info = t->sn->Stat(t->ns, req->key());
    if (!info.ok()) return info.status();
    ToProto(*info, resp->mutable_info());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* SnapshotsService::Update(grpc::CallbackServerContext* ctx,
                                                   const snapshots_pb::UpdateSnapshotRequest* req,
                                                   snapshots_pb::UpdateSnapshotResponse* resp) {
  return FinishOnPool(ctx, [=, this]() -> Status {
    auto t = Resolve(*this, ctx, req->snapshotter());
    if (!t.ok()) return t.status();
    snapshots::Info in;
    in.name = req->info().name();
    in.labels = FromProto(req->info().labels());
    std::vector<std::string> paths(req->update_mask().paths().begin(),
                                   req->update_mask().paths().end());
    auto info = t->sn->Update(t->ns, in, paths);
    if (!info.ok()) return info.status();
    ToProto(*info, resp->mutable_info());
    return Status::Ok();
  });
}

grpc::ServerWriteReactor<snapshots_pb::ListSnapshotsResponse>* SnapshotsService::List(
    grpc::CallbackServerContext* ctx, const snapshots_pb::ListSnapshotsRequest* req) {
  return new grpc_util::BatchedListReactor<snapshots_pb::ListSnapshotsResponse>(
      [this, ctx, req](std::deque<snapshots_pb::ListSnapshotsResponse>& batches) {
        return CollectSnapshots(*this, ctx, req, batches);
      },
      RunOnPool);
}

grpc::ServerUnaryReactor* SnapshotsService::Usage(grpc::CallbackServerContext* ctx,
                                                  const snapshots_pb::UsageRequest* req,
                                                  snapshots_pb::UsageResponse* resp) {
  return FinishOnPool(ctx, [=, this]() -> Status {
    auto t = Resolve(*this, ctx, req->snapshotter());
    if (!t.ok()) return t.status();
    auto u = t->sn->Usage(t->ns, req->key());
    if (!u.ok()) return u.status();
    resp->set_size(u->size);
    resp->set_inodes(u->inodes);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* SnapshotsService::Cleanup(grpc::CallbackServerContext* ctx,
                                                    const snapshots_pb::CleanupRequest* req,
                                                    google::protobuf::Empty*) {
  return FinishOnPool(ctx, [=, this]() -> Status {
    auto sn = Find(req->snapshotter());
    if (!sn.ok()) return sn.status();
    return (*sn)->Cleanup();
  });
}

Registration SnapshotsServiceRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "snapshots";
  r.required_types = {std::string(types::kMetadata)};
  r.init = [](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    auto md = ctx.GetAs<metadata::MetadataPlugin>(types::kMetadata);
    if (!md.ok()) return md.status();
    return std::shared_ptr<Plugin>(std::make_shared<SnapshotsServicePlugin>(std::move(*md)));
  };
  return r;
}

}  // namespace berth::host
