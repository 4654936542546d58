// UnservedRequests: what a server answers for the requests gRPC C++ never
// hands to a service, in containerd's (gRPC-Go's) words. Part of
// libberth-grpc.
//
// gRPC C++ parses a unary or server-streaming request before any service
// code runs, and answers one that does not parse with Unimplemented and no
// message; a call to a method nobody registered gets the same. A Go client
// then believes the RPC does not exist. Instead:
//  - a request that does not parse: Internal "error unmarshalling request";
//  - one whose string field holds invalid UTF-8 (proto3 refuses it):
//    InvalidArgument naming the field;
//  - an unknown service or method: Unimplemented "unknown service S" or
//    "unknown method M for service S".
// One interceptor sees every call: it notes that the request did not parse
// (the message it is shown is null) and rewrites the Unimplemented status
// gRPC then sends. The field name comes from protobuf's own log line, which
// RouteProtobufLog captures on the parsing thread. Streams whose requests the
// service reads itself (client and bidi streaming) parse raw messages with
// ParseRequest instead: gRPC reports a parse failure there like a clean end.
//
// Thread-safe. RouteProtobufLog is process-wide: call it once, at start-up,
// before any server runs.
#ifndef BERTH_GRPC_UNSERVED_H_
#define BERTH_GRPC_UNSERVED_H_

#include <google/protobuf/message_lite.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <vector>

#include "berth/logger.h"

namespace berth::grpc_util {

class UnservedRequests {
 public:
  UnservedRequests();
  ~UnservedRequests();
  UnservedRequests(const UnservedRequests&) = delete;
  UnservedRequests& operator=(const UnservedRequests&) = delete;

  // Adds the interceptor and the unknown-method service to `builder`, then
  // `after`: interceptors that see the status this one answered (gRPC
  // keeps one list per builder, so every interceptor is given here).
  // REQUIRES: called once; this outlives the server `builder` builds.
  void AddTo(grpc::ServerBuilder& builder,
             std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
                 after = {});

 private:
  std::unique_ptr<grpc::CallbackGenericService> unknown_methods_;
};

// Sends protobuf's log lines to `logger` (nullptr: drop them) instead of raw
// "[libprotobuf ERROR ...]" lines on stderr, and notes the field of an
// "invalid UTF-8 when parsing" line for UnservedRequests and ParseRequest.
// `logger` must outlive every later protobuf call.
void RouteProtobufLog(Logger* logger);

// Parses `buffer` into `message`: Internal "error unmarshalling request" when
// it does not parse; InvalidArgument naming the field when a string field
// holds invalid UTF-8 (once RouteProtobufLog is in place).
grpc::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::MessageLite* message);

// Serializes `message` into `buffer` for a raw (ByteBuffer) stream; Internal
// when it does not serialize.
grpc::Status SerializeResponse(const google::protobuf::MessageLite& message,
                               grpc::ByteBuffer* buffer);

}  // namespace berth::grpc_util

#endif  // BERTH_GRPC_UNSERVED_H_
