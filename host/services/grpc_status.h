// Translation between berth::Status and grpc::Status, as containerd's errdefs
// package does it: each code maps to its gRPC code, and the message on the
// wire reads "<message>: <code text>" (e.g. "content sha256:..: not found").
// FromGrpc strips that suffix again. Thread-safe (pure functions).
#ifndef BERTH_HOST_SERVICES_GRPC_STATUS_H_
#define BERTH_HOST_SERVICES_GRPC_STATUS_H_

#include <string>

#include <grpcpp/grpcpp.h>

#include "berth/status.h"

namespace berth::host {

grpc::Status ToGrpc(const Status& status);
Status FromGrpc(const grpc::Status& status);
grpc::StatusCode ToGrpcCode(Code code);

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
