// How berth's Status travels in a ttrpc Response: a google.rpc.Status with a
// gRPC numeric code and containerd's message text.
//
// The mapping is the one of berth/grpc/status.h (containerd's errdefs),
// written here on numbers so that libberth-ttrpc needs no grpc++. Codes berth
// has no name for (PermissionDenied, Internal, ...) read as kUnknown.
//
// Pure functions; thread-safe.
#ifndef BERTH_TTRPC_STATUS_H_
#define BERTH_TTRPC_STATUS_H_

#include <string>

#include "berth/status.h"

namespace berth::ttrpc {

// Frozen: gRPC's numeric status codes (google.rpc.Code) that berth names.
enum class GrpcCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
};

int ToGrpcCode(Code code);
Code FromGrpcCode(int grpc_code);

// The message a server puts on the wire: containerd's "<message>: <code
// text>" (Status::ToString), as errdefs.ToGRPC sends it.
std::string WireMessage(const Status& status);

// The Status a client reads from a wire code and message; the trailing
// ": <code text>" that WireMessage added is removed again, as errdefs'
// FromGRPC does. OK when `grpc_code` is 0.
Status FromWire(int grpc_code, std::string message);

}  // namespace berth::ttrpc

#endif  // BERTH_TTRPC_STATUS_H_
