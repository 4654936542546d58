// SnapshotsServer: containerd.services.snapshots.v1.Snapshots over the
// snapshotters a resolver picks. Each call resolves its backend, calls it
// once and translates back, on the executor.
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "berth/grpc/call.h"
#include "berth/grpc/convert.h"
#include "berth/grpc/serve.h"
#include "berth/locality.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "server_util.h"

namespace berth::grpc_util {
namespace {

// containerd sends a List in blocks of this many infos.
constexpr int kListBatch = 100;

std::vector<std::string> Paths(const google::protobuf::FieldMask& mask) {
  return {mask.paths().begin(), mask.paths().end()};
}

}  // namespace

class SnapshotsServer::Impl final : public snapshots_pb::Snapshots::CallbackService {
 public:
  Impl(SnapshotterResolver resolve, CallRules rules)
      : resolve_(std::move(resolve)), rules_(rules) {}

  grpc::ServerUnaryReactor* Prepare(grpc::CallbackServerContext* ctx,
                                    const snapshots_pb::PrepareSnapshotRequest* req,
                                    snapshots_pb::PrepareSnapshotResponse* resp) override {
    return Serve(ctx, req->snapshotter(), [=](Snapshotter& sn) {
      auto m = sn.Prepare(req->key(), req->parent(), FromProto(req->labels()));
      if (!m.ok()) return m.status();
      ToProto(*m, resp->mutable_mounts());
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* View(grpc::CallbackServerContext* ctx,
                                 const snapshots_pb::ViewSnapshotRequest* req,
                                 snapshots_pb::ViewSnapshotResponse* resp) override {
    return Serve(ctx, req->snapshotter(), [=](Snapshotter& sn) {
      auto m = sn.View(req->key(), req->parent(), FromProto(req->labels()));
      if (!m.ok()) return m.status();
      ToProto(*m, resp->mutable_mounts());
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Mounts(grpc::CallbackServerContext* ctx,
                                   const snapshots_pb::MountsRequest* req,
                                   snapshots_pb::MountsResponse* resp) override {
    return Read(ctx, req->snapshotter(), [=](Snapshotter& sn) {
      auto m = sn.Mounts(req->key());
      if (!m.ok()) return m.status();
      ToProto(*m, resp->mutable_mounts());
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Commit(grpc::CallbackServerContext* ctx,
                                   const snapshots_pb::CommitSnapshotRequest* req,
                                   google::protobuf::Empty*) override {
    return Serve(ctx, req->snapshotter(), [=](Snapshotter& sn) {
      return sn.Commit(req->name(), req->key(), FromProto(req->labels()));
    });
  }

  grpc::ServerUnaryReactor* Remove(grpc::CallbackServerContext* ctx,
                                   const snapshots_pb::RemoveSnapshotRequest* req,
                                   google::protobuf::Empty*) override {
    return Serve(ctx, req->snapshotter(), [=](Snapshotter& sn) { return sn.Remove(req->key()); });
  }

  grpc::ServerUnaryReactor* Stat(grpc::CallbackServerContext* ctx,
                                 const snapshots_pb::StatSnapshotRequest* req,
                                 snapshots_pb::StatSnapshotResponse* resp) override {
    return Read(ctx, req->snapshotter(), [=](Snapshotter& sn) {
      auto info = sn.Stat(req->key());
      if (!info.ok()) return info.status();
      ToProto(*info, resp->mutable_info());
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* ctx,
                                   const snapshots_pb::UpdateSnapshotRequest* req,
                                   snapshots_pb::UpdateSnapshotResponse* resp) override {
    return Serve(ctx, req->snapshotter(), [=](Snapshotter& sn) {
      auto info = sn.Update(FromProto(req->info()), Paths(req->update_mask()));
      if (!info.ok()) return info.status();
      ToProto(*info, resp->mutable_info());
      return Status::Ok();
    });
  }

  grpc::ServerWriteReactor<snapshots_pb::ListSnapshotsResponse>* List(
      grpc::CallbackServerContext* ctx, const snapshots_pb::ListSnapshotsRequest* req) override {
    using Batches = std::deque<snapshots_pb::ListSnapshotsResponse>;
    return new BatchedListReactor<snapshots_pb::ListSnapshotsResponse>(
        [this, ctx, req](Batches& batches) -> Status {
          auto call = CallContextOf(*ctx, rules_);
          if (!call.ok()) return call.status();
          CallScope scope(*call);
          auto sn = resolve_(*call, req->snapshotter());
          if (!sn.ok()) return sn.status();
          std::vector<std::string> filters(req->filters().begin(), req->filters().end());
          return (*sn)->Walk(
              [&](const snapshots::Info& info) {
                if (batches.empty() || batches.back().info_size() >= kListBatch) {
                  batches.emplace_back();
                }
                ToProto(info, batches.back().add_info());
                return Status::Ok();
              },
              filters);
        },
        internal::RunnerOf(rules_));
  }

  grpc::ServerUnaryReactor* Usage(grpc::CallbackServerContext* ctx,
                                  const snapshots_pb::UsageRequest* req,
                                  snapshots_pb::UsageResponse* resp) override {
    return Serve(ctx, req->snapshotter(), [=](Snapshotter& sn) {
      auto u = sn.Usage(req->key());
      if (!u.ok()) return u.status();
      resp->set_size(u->size);
      resp->set_inodes(u->inodes);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Cleanup(grpc::CallbackServerContext* ctx,
                                    const snapshots_pb::CleanupRequest* req,
                                    google::protobuf::Empty*) override {
    return Serve(ctx, req->snapshotter(), [](Snapshotter& sn) { return sn.Cleanup(); });
  }

 private:
  // Serves a unary call whose body needs the request's snapshotter.
  template <typename Body>
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* ctx, const std::string& name,
                                  Body body) {
    return ServeUnary(ctx, rules_, [this, &name, body](const CallContext& call) -> Status {
      auto sn = resolve_(call, name);
      if (!sn.ok()) return sn.status();
      return body(**sn);
    });
  }

  // Serves a cheap read: inline when the resolved backend is local
  // (berth/locality.h), on the executor otherwise.
  template <typename Body>
  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* ctx, const std::string& name,
                                 Body body) {
    auto call = CallContextOf(*ctx, rules_);
    if (!call.ok()) return FinishNow(ctx, call.status());
    auto sn = Guard([&] { return resolve_(*call, name); });
    if (!sn.ok()) return FinishNow(ctx, sn.status());
    const bool local = !CallsAnotherProcess(**sn);
    return ServeRead(ctx, *call, rules_, local,
                     [sn = std::move(*sn), body](const CallContext&) { return body(*sn); });
  }

  SnapshotterResolver resolve_;
  CallRules rules_;
};

SnapshotsServer::SnapshotsServer(SnapshotterResolver resolve, CallRules rules)
    : impl_(std::make_unique<Impl>(std::move(resolve), rules)) {}

SnapshotsServer::SnapshotsServer(std::shared_ptr<Snapshotter> backend)
    : SnapshotsServer(
          [backend = std::move(backend)](const CallContext&,
                                         const std::string&) -> Result<std::shared_ptr<Snapshotter>> {
            return backend;
          },
          CallRules{.namespace_required = false}) {}

SnapshotsServer::~SnapshotsServer() = default;
grpc::Service* SnapshotsServer::service() { return impl_.get(); }

}  // namespace berth::grpc_util
