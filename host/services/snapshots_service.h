// io.containerd.grpc.v1.snapshots: containerd.services.snapshots.v1.Snapshots
// over every snapshotter the metadata plugin holds, each call seeing its
// namespace's view (berth/metadata.h NamespacedStores). The protocol itself
// is libberth-grpc's SnapshotsServer; this is its registration and resolver.
#ifndef BERTH_HOST_SERVICES_SNAPSHOTS_SERVICE_H_
#define BERTH_HOST_SERVICES_SNAPSHOTS_SERVICE_H_

#include "berth/plugin.h"
#include "builtins.h"

namespace berth::host {

Registration SnapshotsServiceRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_SNAPSHOTS_SERVICE_H_
