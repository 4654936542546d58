// io.containerd.grpc.v1.snapshots: containerd.services.snapshots.v1.Snapshots
// over every loaded io.containerd.snapshotter.v1 plugin, each seen through a
// metadata::NamespacedSnapshotter. A request picks its snapshotter by the
// `snapshotter` field; a missing or unknown name is InvalidArgument naming
// it. List streams its answers in batches. The metadata plugin owns the
// namespaced snapshotters (and repairs them at its init). Thread-safe
// (stateless beyond the metadata plugin's snapshotter map, fixed at init).
#ifndef BERTH_HOST_SERVICES_SNAPSHOTS_SERVICE_H_
#define BERTH_HOST_SERVICES_SNAPSHOTS_SERVICE_H_

#include <map>
#include <memory>
#include <string>

#include "berth/plugin.h"
#include "builtins.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "metadata/plugin.h"
#include "metadata/snapshots.h"

namespace berth::host {

namespace snapshots_pb = containerd::services::snapshots::v1;

class SnapshotsService final : public snapshots_pb::Snapshots::CallbackService {
 public:
  explicit SnapshotsService(metadata::MetadataPlugin* md) : md_(md) {}

  grpc::ServerUnaryReactor* Prepare(grpc::CallbackServerContext* ctx,
                                    const snapshots_pb::PrepareSnapshotRequest* req,
                                    snapshots_pb::PrepareSnapshotResponse* resp) override;
  grpc::ServerUnaryReactor* View(grpc::CallbackServerContext* ctx,
                                 const snapshots_pb::ViewSnapshotRequest* req,
                                 snapshots_pb::ViewSnapshotResponse* resp) override;
  grpc::ServerUnaryReactor* Mounts(grpc::CallbackServerContext* ctx,
                                   const snapshots_pb::MountsRequest* req,
                                   snapshots_pb::MountsResponse* resp) override;
  grpc::ServerUnaryReactor* Commit(grpc::CallbackServerContext* ctx,
                                   const snapshots_pb::CommitSnapshotRequest* req,
                                   google::protobuf::Empty* resp) override;
  grpc::ServerUnaryReactor* Remove(grpc::CallbackServerContext* ctx,
                                   const snapshots_pb::RemoveSnapshotRequest* req,
                                   google::protobuf::Empty* resp) override;
  grpc::ServerUnaryReactor* Stat(grpc::CallbackServerContext* ctx,
                                 const snapshots_pb::StatSnapshotRequest* req,
                                 snapshots_pb::StatSnapshotResponse* resp) override;
  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* ctx,
                                   const snapshots_pb::UpdateSnapshotRequest* req,
                                   snapshots_pb::UpdateSnapshotResponse* resp) override;
  grpc::ServerWriteReactor<snapshots_pb::ListSnapshotsResponse>* List(
      grpc::CallbackServerContext* ctx,
      const snapshots_pb::ListSnapshotsRequest* req) override;
  grpc::ServerUnaryReactor* Usage(grpc::CallbackServerContext* ctx,
                                  const snapshots_pb::UsageRequest* req,
                                  snapshots_pb::UsageResponse* resp) override;
  grpc::ServerUnaryReactor* Cleanup(grpc::CallbackServerContext* ctx,
                                    const snapshots_pb::CleanupRequest* req,
                                    google::protobuf::Empty* resp) override;

  // The snapshotter named `name`; InvalidArgument when missing or unknown.
  Result<metadata::NamespacedSnapshotter*> Find(const std::string& name);

 private:
  metadata::MetadataPlugin* md_;
};

Registration SnapshotsServiceRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_SNAPSHOTS_SERVICE_H_
