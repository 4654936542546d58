// io.containerd.grpc.v1.containers: containerd.services.containers.v1.
// Containers over the metadata plugin's ContainerStore face: Get, List,
// ListStream (one container a message, collected up front on the executor),
// Create, Update (field masks as containerd's) and Delete. Every call needs a
// namespace. Messages are converted with the store's own record conversion
// (metadata/containers.h), so that what is served is what is stored.
// After each successful change it publishes containerd's /containers/create,
// /containers/update and /containers/delete events in the call's namespace
// (when an event exchange is loaded; the change stands if publishing fails).
//
// Thread-safe (stateless; the store serialises changes).
#ifndef BERTH_HOST_SERVICES_CONTAINERS_SERVICE_H_
#define BERTH_HOST_SERVICES_CONTAINERS_SERVICE_H_

#include "berth/plugin.h"
#include "builtins.h"

namespace berth::host {

Registration ContainersServiceRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_CONTAINERS_SERVICE_H_
