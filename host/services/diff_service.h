// containerd's Diff service, in containerd's two plugins:
//
// - io.containerd.service.v1.diff-service: the differs (io.containerd.differ.v1
//   plugins) in the order of its config key `default` (default ["walking"]),
//   over the content store as each call's namespace sees it. Apply and Diff
//   try the differs in that order and answer the first answer that is not
//   NotImplemented; when every differ refuses, the last refusal is the answer
//   (containerd's services/diff local). A configured differ that is not
//   loaded fails the plugin's init with containerd's "needed differ not
//   loaded: <id>"; one whose init failed, with "could not load required
//   differ due plugin init error: <id>: <error>".
// - io.containerd.grpc.v1.diff: containerd.services.diff.v1.Diff (Apply,
//   Diff) over the diff-service. Every call needs a namespace
//   (FailedPrecondition "namespace is required"); the lease header holds
//   what Diff writes (metadata.h's NamespacedStores).
//
// Two plugins, as containerd has, so that `ctr plugins ls` lists both and the
// operator's `[plugins."io.containerd.service.v1.diff-service"] default = [..]`
// table is where containerd's is. The differs are ordering-only dependencies
// (optional types) so that a missing one fails with the message naming it.
//
// Thread-safe (the differs are; the services hold only their order).
#ifndef BERTH_HOST_SERVICES_DIFF_SERVICE_H_
#define BERTH_HOST_SERVICES_DIFF_SERVICE_H_

#include "berth/plugin.h"
#include "builtins.h"

namespace berth::host {

// io.containerd.service.v1.diff-service.
Registration DiffServiceRegistration(HostEnv env);
// io.containerd.grpc.v1.diff; requires the diff-service.
Registration DiffGrpcServiceRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_DIFF_SERVICE_H_
