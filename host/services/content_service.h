// io.containerd.grpc.v1.content: containerd.services.content.v1.Content over
// the metadata plugin's content store, each call seeing its namespace's view
// (berth/metadata.h NamespacedStores). The protocol itself is
// libberth-grpc's ContentServer; this is its registration and resolver.
#ifndef BERTH_HOST_SERVICES_CONTENT_SERVICE_H_
#define BERTH_HOST_SERVICES_CONTENT_SERVICE_H_

#include "berth/plugin.h"
#include "builtins.h"

namespace berth::host {

Registration ContentServiceRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_CONTENT_SERVICE_H_
