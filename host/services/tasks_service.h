// io.containerd.grpc.v1.tasks: containerd.services.tasks.v1.Tasks over the
// runtime face (berth/runtime.h, io.containerd.runtime.v2) and the
// metadata plugin's ContainerStore (Create reads the container's runtime,
// options and spec; the rootfs comes with the request). Every call needs a
// namespace; errors are containerd's (NotFound for an unknown task or
// process, AlreadyExists, FailedPrecondition, InvalidArgument).
//
// Bodies that reach a shim run on the executor. Wait never holds a thread
// while it waits: it starts the runtime's asynchronous wait and finishes the
// call from its callback (or with CANCELLED when the client goes first).
// Metrics samples the namespace's tasks that match its filters (fields id,
// namespace) through the runtime's Task::Stats. Checkpoint answers
// Unimplemented. Task events are the shims'
// (they publish /tasks/* themselves).
//
// Thread-safe (stateless; the runtime serialises what it must).
#ifndef BERTH_HOST_SERVICES_TASKS_SERVICE_H_
#define BERTH_HOST_SERVICES_TASKS_SERVICE_H_

#include "berth/plugin.h"
#include "builtins.h"

namespace berth::host {

Registration TasksServiceRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_TASKS_SERVICE_H_
