// io.containerd.grpc.v1.gc: berth.services.gc.v1.GC, which runs a garbage
// collection now and answers its figures (`berthctl gc`). Requires the
// metadata plugin.
//
// CollectNow is the one way the services run a collection on a caller's
// behalf (this service, and a synchronous lease delete): through the
// io.containerd.gc.v1 scheduler when one is loaded (GcScheduler::
// ScheduleAndWait, so that it never overlaps a scheduled run and resets the
// scheduler's counters), otherwise by calling the metadata plugin directly.
// The scheduler is looked up when called, not at init: it is a library
// plugin, initialised after the built-in services.
//
// Thread-safe (stateless; collections are serialised by the collector).
#ifndef BERTH_HOST_SERVICES_GC_SERVICE_H_
#define BERTH_HOST_SERVICES_GC_SERVICE_H_

#include <memory>

#include "berth/gc.h"
#include "berth/plugin.h"
#include "berth/services/gc/v1/gc.grpc.pb.h"
#include "builtins.h"

namespace berth::host {

namespace gc_pb = ::berth::services::gc::v1;

// Runs a collection now (see above) and returns its figures.
Result<gc::Stats> CollectNow(const HostEnv& env, GarbageCollector& collector);

class GcService final : public gc_pb::GC::CallbackService {
 public:
  GcService(HostEnv env, GarbageCollector* collector) : env_(env), collector_(collector) {}

  // The collection runs on the executor.
  grpc::ServerUnaryReactor* Collect(grpc::CallbackServerContext* ctx,
                                    const gc_pb::CollectRequest* req,
                                    gc_pb::CollectResponse* resp) override;

 private:
  HostEnv env_;
  GarbageCollector* collector_;
};

Registration GcServiceRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_GC_SERVICE_H_
