// The host's view of a call's gRPC context: its namespace and lease, and
// containerd's identifier rule. The Status translation (ToGrpc, FromGrpc,
// ToGrpcCode) lives in libberth-grpc (berth/grpc/status.h) and is re-exported
// here for the host's code. Thread-safe (pure functions).
#ifndef BERTH_HOST_SERVICES_GRPC_STATUS_H_
#define BERTH_HOST_SERVICES_GRPC_STATUS_H_

#include <string>

#include <grpcpp/grpcpp.h>

#include "berth/grpc/status.h"
#include "berth/status.h"

namespace berth::host {

using grpc_util::FromGrpc;
using grpc_util::FromGrpcCode;
using grpc_util::ToGrpc;
using grpc_util::ToGrpcCode;

// The namespace of a call: the `containerd-namespace` metadata value.
// InvalidArgument when it is missing ("namespace is required") or not a valid
// containerd identifier (letters and digits, single '.', '_' or '-' between,
// at most 76 characters).
Result<std::string> NamespaceOf(const grpc::ServerContextBase& context);
// The `containerd-lease` metadata value, or "" when absent.
std::string LeaseOf(const grpc::ServerContextBase& context);
// Validates a containerd identifier (namespaces, lease ids, container ids).
Status ValidateIdentifier(const std::string& s);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_GRPC_STATUS_H_
