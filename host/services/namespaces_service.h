// io.containerd.grpc.v1.namespaces: containerd.services.namespaces.v1.
// Namespaces over the metadata plugin's NamespaceStore face. Deleting a
// namespace that still holds anything is FailedPrecondition, and labelling
// one that does not exist creates it, as in containerd.
// Thread-safe (stateless; the store serialises writes).
#ifndef BERTH_HOST_SERVICES_NAMESPACES_SERVICE_H_
#define BERTH_HOST_SERVICES_NAMESPACES_SERVICE_H_

#include "berth/plugin.h"
#include "builtins.h"

namespace berth::host {

Registration NamespacesServiceRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_NAMESPACES_SERVICE_H_
