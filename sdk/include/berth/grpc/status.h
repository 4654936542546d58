// Translation between berth::Status and grpc::Status, as containerd's errdefs
// package does it: each code maps to its gRPC code, and the message on the
// wire reads "<message>: <code text>" (e.g. "content sha256:..: not found").
// FromGrpc strips that suffix again. Part of libberth-grpc. Thread-safe (pure
// functions).
#ifndef BERTH_GRPC_STATUS_H_
#define BERTH_GRPC_STATUS_H_

#include <grpcpp/grpcpp.h>

#include "berth/status.h"

namespace berth::grpc_util {

grpc::Status ToGrpc(const Status& status);
Status FromGrpc(const grpc::Status& status);
grpc::StatusCode ToGrpcCode(Code code);
Code FromGrpcCode(grpc::StatusCode code);

// The gRPC metadata keys containerd uses to carry a call's namespace and
// lease.
inline constexpr char kNamespaceHeader[] = "containerd-namespace";
inline constexpr char kLeaseHeader[] = "containerd-lease";

}  // namespace berth::grpc_util

#endif  // BERTH_GRPC_STATUS_H_
