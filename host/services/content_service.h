// io.containerd.grpc.v1.content: containerd.services.content.v1.Content over
// the metadata plugin's namespaced content view. Thin: each call reads the
// namespace from the `containerd-namespace` header, calls
// NamespacedContentStore and translates back. List and Read stream with
// write reactors (Read in chunks of at most 1 MiB); Write is a bidirectional
// reactor running containerd's STAT / WRITE / COMMIT protocol, one request at
// a time. Disk I/O runs inside reactions; nothing waits unboundedly there.
//
// Thread-safe: the service is stateless; each stream's reactor is touched by
// one reaction at a time.
#ifndef BERTH_HOST_SERVICES_CONTENT_SERVICE_H_
#define BERTH_HOST_SERVICES_CONTENT_SERVICE_H_

#include "berth/content.h"
#include "berth/plugin.h"
#include "builtins.h"
#include "containerd/services/content/v1/content.grpc.pb.h"
#include "metadata/content.h"

namespace berth::host {

namespace content_pb = containerd::services::content::v1;

class ContentService final : public content_pb::Content::CallbackService {
 public:
  explicit ContentService(metadata::NamespacedContentStore* store) : store_(store) {}

  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* ctx,
                                 const content_pb::InfoRequest* req,
                                 content_pb::InfoResponse* resp) override;
  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* ctx,
                                   const content_pb::UpdateRequest* req,
                                   content_pb::UpdateResponse* resp) override;
  grpc::ServerWriteReactor<content_pb::ListContentResponse>* List(
      grpc::CallbackServerContext* ctx,
      const content_pb::ListContentRequest* req) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const content_pb::DeleteContentRequest* req,
                                   google::protobuf::Empty* resp) override;
  grpc::ServerWriteReactor<content_pb::ReadContentResponse>* Read(
      grpc::CallbackServerContext* ctx,
      const content_pb::ReadContentRequest* req) override;
  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx,
                                   const content_pb::StatusRequest* req,
                                   content_pb::StatusResponse* resp) override;
  grpc::ServerUnaryReactor* ListStatuses(
      grpc::CallbackServerContext* ctx, const content_pb::ListStatusesRequest* req,
      content_pb::ListStatusesResponse* resp) override;
  grpc::ServerBidiReactor<content_pb::WriteContentRequest,
                          content_pb::WriteContentResponse>*
  Write(grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* Abort(grpc::CallbackServerContext* ctx,
                                  const content_pb::AbortRequest* req,
                                  google::protobuf::Empty* resp) override;

 private:
  metadata::NamespacedContentStore* store_;
};

// Registrations of the services' plugins (type io.containerd.grpc.v1,
// requiring io.containerd.metadata.v1).
Registration ContentServiceRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_CONTENT_SERVICE_H_
