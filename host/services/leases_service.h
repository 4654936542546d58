// io.containerd.grpc.v1.leases: containerd.services.leases.v1.Leases over the
// metadata plugin's LeaseManager face. Create makes up an id when none is given
// ("<nanoseconds>-<6 hex digits>", an identifier); Delete with `sync` returns
// after a collection has run (CollectNow, gc_service.h). Requires the
// metadata plugin; the gc scheduler is looked up per call. Changes (which
// wait while a collection marks and sweeps) and the collection itself run on
// the executor, as every call does.
//
// Thread-safe (stateless; the store serialises changes).
#ifndef BERTH_HOST_SERVICES_LEASES_SERVICE_H_
#define BERTH_HOST_SERVICES_LEASES_SERVICE_H_

#include "berth/plugin.h"
#include "builtins.h"
#include "containerd/services/leases/v1/leases.grpc.pb.h"
#include "berth/gc.h"
#include "berth/leases.h"

namespace berth::host {

namespace leases_pb = containerd::services::leases::v1;

class LeasesService final : public leases_pb::Leases::CallbackService {
 public:
  LeasesService(HostEnv env, LeaseManager* leases, GarbageCollector* collector)
      : env_(env), leases_(leases), collector_(collector) {}

  grpc::ServerUnaryReactor* Create(grpc::CallbackServerContext* ctx,
                                   const leases_pb::CreateRequest* req,
                                   leases_pb::CreateResponse* resp) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const leases_pb::DeleteRequest* req,
                                   google::protobuf::Empty* resp) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* ctx,
                                 const leases_pb::ListRequest* req,
                                 leases_pb::ListResponse* resp) override;
  grpc::ServerUnaryReactor* AddResource(grpc::CallbackServerContext* ctx,
                                        const leases_pb::AddResourceRequest* req,
                                        google::protobuf::Empty* resp) override;
  grpc::ServerUnaryReactor* DeleteResource(grpc::CallbackServerContext* ctx,
                                           const leases_pb::DeleteResourceRequest* req,
                                           google::protobuf::Empty* resp) override;
  grpc::ServerUnaryReactor* ListResources(grpc::CallbackServerContext* ctx,
                                          const leases_pb::ListResourcesRequest* req,
                                          leases_pb::ListResourcesResponse* resp) override;

 private:
  HostEnv env_;
  LeaseManager* leases_;
  GarbageCollector* collector_;
};

Registration LeasesServiceRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_LEASES_SERVICE_H_
