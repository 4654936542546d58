#include "snapshotter.h"

#include <utility>

#include "berth/grpc/convert.h"
#include "read_stream.h"

namespace berth::proxy {
namespace {

namespace pb = containerd::services::snapshots::v1;
using grpc_util::FromProto;
using grpc_util::ToProto;

}  // namespace

ProxySnapshotter::ProxySnapshotter(std::shared_ptr<ProxyChannel> channel)
    : channel_(std::move(channel)), stub_(pb::Snapshots::NewStub(channel_->channel())) {}

Result<snapshots::Info> ProxySnapshotter::Stat(const std::string& key) {
  pb::StatSnapshotRequest req;
  req.set_snapshotter(name());
  req.set_key(key);
  pb::StatSnapshotResponse resp;
  auto ctx = channel_->UnaryContext();
  grpc::Status s = stub_->Stat(ctx.get(), req, &resp);
  if (!s.ok()) return channel_->Error(s);
  return FromProto(resp.info());
}

Result<snapshots::Info> ProxySnapshotter::Update(const snapshots::Info& info,
                                                 const std::vector<std::string>& fieldpaths) {
  pb::UpdateSnapshotRequest req;
  req.set_snapshotter(name());
  ToProto(info, req.mutable_info());
  for (const std::string& path : fieldpaths) req.mutable_update_mask()->add_paths(path);
  pb::UpdateSnapshotResponse resp;
  auto ctx = channel_->UnaryContext();
  grpc::Status s = stub_->Update(ctx.get(), req, &resp);
  if (!s.ok()) return channel_->Error(s);
  return FromProto(resp.info());
}

Result<snapshots::Usage> ProxySnapshotter::Usage(const std::string& key) {
  pb::UsageRequest req;
  req.set_snapshotter(name());
  req.set_key(key);
  pb::UsageResponse resp;
  auto ctx = channel_->UnaryContext();
  grpc::Status s = stub_->Usage(ctx.get(), req, &resp);
  if (!s.ok()) return channel_->Error(s);
  return snapshots::Usage{resp.size(), resp.inodes()};
}

Result<std::vector<Mount>> ProxySnapshotter::Mounts(const std::string& key) {
  pb::MountsRequest req;
  req.set_snapshotter(name());
  req.set_key(key);
  pb::MountsResponse resp;
  auto ctx = channel_->UnaryContext();
  grpc::Status s = stub_->Mounts(ctx.get(), req, &resp);
  if (!s.ok()) return channel_->Error(s);
  return FromProto(resp.mounts());
}

Result<std::vector<Mount>> ProxySnapshotter::Prepare(const std::string& key,
                                                     const std::string& parent,
                                                     const snapshots::Labels& labels) {
  pb::PrepareSnapshotRequest req;
  req.set_snapshotter(name());
  req.set_key(key);
  req.set_parent(parent);
  ToProto(labels, req.mutable_labels());
  pb::PrepareSnapshotResponse resp;
  auto ctx = channel_->UnaryContext();
  grpc::Status s = stub_->Prepare(ctx.get(), req, &resp);
  if (!s.ok()) return channel_->Error(s);
  return FromProto(resp.mounts());
}

Result<std::vector<Mount>> ProxySnapshotter::View(const std::string& key, const std::string& parent,
                                                  const snapshots::Labels& labels) {
  pb::ViewSnapshotRequest req;
  req.set_snapshotter(name());
  req.set_key(key);
  req.set_parent(parent);
  ToProto(labels, req.mutable_labels());
  pb::ViewSnapshotResponse resp;
  auto ctx = channel_->UnaryContext();
  grpc::Status s = stub_->View(ctx.get(), req, &resp);
  if (!s.ok()) return channel_->Error(s);
  return FromProto(resp.mounts());
}

Status ProxySnapshotter::Commit(const std::string& name, const std::string& key,
                                const snapshots::Labels& labels) {
  pb::CommitSnapshotRequest req;
  req.set_snapshotter(this->name());
  req.set_name(name);
  req.set_key(key);
  ToProto(labels, req.mutable_labels());
  google::protobuf::Empty resp;
  auto ctx = channel_->UnaryContext();
  grpc::Status s = stub_->Commit(ctx.get(), req, &resp);
  return s.ok() ? Status::Ok() : channel_->Error(s);
}

Status ProxySnapshotter::Remove(const std::string& key) {
  pb::RemoveSnapshotRequest req;
  req.set_snapshotter(name());
  req.set_key(key);
  google::protobuf::Empty resp;
  auto ctx = channel_->UnaryContext();
  grpc::Status s = stub_->Remove(ctx.get(), req, &resp);
  return s.ok() ? Status::Ok() : channel_->Error(s);
}

Status ProxySnapshotter::Walk(const snapshots::WalkFn& fn,
                              const std::vector<std::string>& filters) {
  pb::ListSnapshotsRequest req;
  req.set_snapshotter(name());
  for (const std::string& f : filters) req.add_filters(f);
  ReadStream<pb::ListSnapshotsResponse> stream(
      *channel_, [&](grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
        return stub_->PrepareAsyncList(ctx, req, cq);
      });
  pb::ListSnapshotsResponse resp;
  while (stream.Next(resp)) {
    for (const pb::Info& info : resp.info()) {
      Status s = fn(FromProto(info));
      if (!s.ok()) {
        stream.Cancel();
        return s;
      }
    }
  }
  return stream.status();
}

Status ProxySnapshotter::Cleanup() {
  pb::CleanupRequest req;
  req.set_snapshotter(name());
  google::protobuf::Empty resp;
  auto ctx = channel_->UnaryContext();
  grpc::Status s = stub_->Cleanup(ctx.get(), req, &resp);
  return s.ok() ? Status::Ok() : channel_->Error(s);
}

}  // namespace berth::proxy
