// SnapshotsServer: containerd.services.snapshots.v1.Snapshots over one
// Snapshotter, as containerd's contrib/snapshotservice serves one. Each call
// translates its request, calls the backend once and translates back.
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "berth/grpc/convert.h"
#include "berth/grpc/serve.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "server_util.h"

namespace berth::grpc_util {

using internal::Done;
using internal::Guarded;

namespace {

// containerd sends a List in blocks of this many infos.
constexpr int kListBatch = 100;

std::vector<std::string> Paths(const google::protobuf::FieldMask& mask) {
  return {mask.paths().begin(), mask.paths().end()};
}

}  // namespace

class SnapshotsServer::Impl final : public snapshots_pb::Snapshots::CallbackService {
 public:
  explicit Impl(std::shared_ptr<Snapshotter> backend) : sn_(std::move(backend)) {}

  grpc::ServerUnaryReactor* Prepare(grpc::CallbackServerContext* ctx,
                                    const snapshots_pb::PrepareSnapshotRequest* req,
                                    snapshots_pb::PrepareSnapshotResponse* resp) override {
    auto m =
        Guarded([&] { return sn_->Prepare(req->key(), req->parent(), FromProto(req->labels())); });
    if (!m.ok()) return Done(ctx, m.status());
    ToProto(*m, resp->mutable_mounts());
    return Done(ctx, Status::Ok());
  }

  grpc::ServerUnaryReactor* View(grpc::CallbackServerContext* ctx,
                                 const snapshots_pb::ViewSnapshotRequest* req,
                                 snapshots_pb::ViewSnapshotResponse* resp) override {
    auto m =
        Guarded([&] { return sn_->View(req->key(), req->parent(), FromProto(req->labels())); });
    if (!m.ok()) return Done(ctx, m.status());
    ToProto(*m, resp->mutable_mounts());
    return Done(ctx, Status::Ok());
  }

  grpc::ServerUnaryReactor* Mounts(grpc::CallbackServerContext* ctx,
                                   const snapshots_pb::MountsRequest* req,
                                   snapshots_pb::MountsResponse* resp) override {
    auto m = Guarded([&] { return sn_->Mounts(req->key()); });
    if (!m.ok()) return Done(ctx, m.status());
    ToProto(*m, resp->mutable_mounts());
    return Done(ctx, Status::Ok());
  }

  grpc::ServerUnaryReactor* Commit(grpc::CallbackServerContext* ctx,
                                   const snapshots_pb::CommitSnapshotRequest* req,
                                   google::protobuf::Empty*) override {
    return Done(ctx, Guarded([&] {
                  return sn_->Commit(req->name(), req->key(), FromProto(req->labels()));
                }));
  }

  grpc::ServerUnaryReactor* Remove(grpc::CallbackServerContext* ctx,
                                   const snapshots_pb::RemoveSnapshotRequest* req,
                                   google::protobuf::Empty*) override {
    return Done(ctx, Guarded([&] { return sn_->Remove(req->key()); }));
  }

  grpc::ServerUnaryReactor* Stat(grpc::CallbackServerContext* ctx,
                                 const snapshots_pb::StatSnapshotRequest* req,
                                 snapshots_pb::StatSnapshotResponse* resp) override {
    auto info = Guarded([&] { return sn_->Stat(req->key()); });
    if (!info.ok()) return Done(ctx, info.status());
    ToProto(*info, resp->mutable_info());
    return Done(ctx, Status::Ok());
  }

  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* ctx,
                                   const snapshots_pb::UpdateSnapshotRequest* req,
                                   snapshots_pb::UpdateSnapshotResponse* resp) override {
    auto info =
        Guarded([&] { return sn_->Update(FromProto(req->info()), Paths(req->update_mask())); });
    if (!info.ok()) return Done(ctx, info.status());
    ToProto(*info, resp->mutable_info());
    return Done(ctx, Status::Ok());
  }

  grpc::ServerWriteReactor<snapshots_pb::ListSnapshotsResponse>* List(
      grpc::CallbackServerContext*, const snapshots_pb::ListSnapshotsRequest* req) override {
    return new internal::BatchedListReactor<snapshots_pb::ListSnapshotsResponse>(
        [&](std::deque<snapshots_pb::ListSnapshotsResponse>& batches) {
          std::vector<std::string> filters(req->filters().begin(), req->filters().end());
          return sn_->Walk(
              [&](const snapshots::Info& info) {
                if (batches.empty() || batches.back().info_size() >= kListBatch) {
                  batches.emplace_back();
                }
                ToProto(info, batches.back().add_info());
                return Status::Ok();
              },
              filters);
        });
  }

  grpc::ServerUnaryReactor* Usage(grpc::CallbackServerContext* ctx,
                                  const snapshots_pb::UsageRequest* req,
                                  snapshots_pb::UsageResponse* resp) override {
    auto u = Guarded([&] { return sn_->Usage(req->key()); });
    if (!u.ok()) return Done(ctx, u.status());
    resp->set_size(u->size);
    resp->set_inodes(u->inodes);
    return Done(ctx, Status::Ok());
  }

  grpc::ServerUnaryReactor* Cleanup(grpc::CallbackServerContext* ctx,
                                    const snapshots_pb::CleanupRequest*,
                                    google::protobuf::Empty*) override {
    return Done(ctx, Guarded([&] { return sn_->Cleanup(); }));
  }

 private:
  std::shared_ptr<Snapshotter> sn_;
};

SnapshotsServer::SnapshotsServer(std::shared_ptr<Snapshotter> backend)
    : impl_(std::make_unique<Impl>(std::move(backend))) {}
SnapshotsServer::~SnapshotsServer() = default;
grpc::Service* SnapshotsServer::service() { return impl_.get(); }

}  // namespace berth::grpc_util
