// io.containerd.grpc.v1.namespaces: containerd.services.namespaces.v1.
// Namespaces over the metadata plugin's MetadataStore. Deleting a namespace
// that still holds anything is FailedPrecondition, as in containerd.
// Thread-safe (stateless; the store serialises writes).
#ifndef BERTH_HOST_SERVICES_NAMESPACES_SERVICE_H_
#define BERTH_HOST_SERVICES_NAMESPACES_SERVICE_H_

#include "berth/plugin.h"
#include "builtins.h"
#include "containerd/services/namespaces/v1/namespace.grpc.pb.h"
#include "metadata/db.h"

namespace berth::host {

namespace ns_pb = containerd::services::namespaces::v1;

class NamespacesService final : public ns_pb::Namespaces::CallbackService {
 public:
  explicit NamespacesService(metadata::MetadataStore* db) : db_(db) {}

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx,
                                const ns_pb::GetNamespaceRequest* req,
                                ns_pb::GetNamespaceResponse* resp) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* ctx,
                                 const ns_pb::ListNamespacesRequest* req,
                                 ns_pb::ListNamespacesResponse* resp) override;
  grpc::ServerUnaryReactor* Create(grpc::CallbackServerContext* ctx,
                                   const ns_pb::CreateNamespaceRequest* req,
                                   ns_pb::CreateNamespaceResponse* resp) override;
  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* ctx,
                                   const ns_pb::UpdateNamespaceRequest* req,
                                   ns_pb::UpdateNamespaceResponse* resp) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const ns_pb::DeleteNamespaceRequest* req,
                                   google::protobuf::Empty* resp) override;

 private:
  metadata::MetadataStore* db_;
};

Registration NamespacesServiceRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_NAMESPACES_SERVICE_H_
