#include "berth/ttrpc/status.h"

#include <string>
#include <utility>

namespace berth::ttrpc {

int ToGrpcCode(Code code) {
  GrpcCode g = GrpcCode::kUnknown;
  switch (code) {
    case Code::kOk:
      g = GrpcCode::kOk;
      break;
    case Code::kInvalidArgument:
      g = GrpcCode::kInvalidArgument;
      break;
    case Code::kNotFound:
      g = GrpcCode::kNotFound;
      break;
    case Code::kAlreadyExists:
      g = GrpcCode::kAlreadyExists;
      break;
    case Code::kFailedPrecondition:
      g = GrpcCode::kFailedPrecondition;
      break;
    case Code::kUnavailable:
      g = GrpcCode::kUnavailable;
      break;
    case Code::kNotImplemented:
      g = GrpcCode::kUnimplemented;
      break;
    case Code::kCanceled:
      g = GrpcCode::kCancelled;
      break;
    case Code::kDeadlineExceeded:
      g = GrpcCode::kDeadlineExceeded;
      break;
    case Code::kResourceExhausted:
      g = GrpcCode::kResourceExhausted;
      break;
    case Code::kUnknown:
    case Code::kSkipPlugin:
      g = GrpcCode::kUnknown;
      break;
  }
  return static_cast<int>(g);
}

Code FromGrpcCode(int grpc_code) {
  switch (static_cast<GrpcCode>(grpc_code)) {
    case GrpcCode::kOk:
      return Code::kOk;
    case GrpcCode::kCancelled:
      return Code::kCanceled;
    case GrpcCode::kInvalidArgument:
      return Code::kInvalidArgument;
    case GrpcCode::kDeadlineExceeded:
      return Code::kDeadlineExceeded;
    case GrpcCode::kNotFound:
      return Code::kNotFound;
    case GrpcCode::kAlreadyExists:
      return Code::kAlreadyExists;
    case GrpcCode::kResourceExhausted:
      return Code::kResourceExhausted;
    case GrpcCode::kFailedPrecondition:
      return Code::kFailedPrecondition;
    case GrpcCode::kUnimplemented:
      return Code::kNotImplemented;
    case GrpcCode::kUnavailable:
      return Code::kUnavailable;
    default:
      return Code::kUnknown;
  }
}

std::string WireMessage(const Status& status) { return status.ok() ? "" : status.ToString(); }

Status FromWire(int grpc_code, std::string message) {
  Code code = FromGrpcCode(grpc_code);
  if (code == Code::kOk) return Status::Ok();
  std::string suffix = ": " + std::string(CodeText(code));
  if (message.size() >= suffix.size() &&
      message.compare(message.size() - suffix.size(), suffix.size(), suffix) == 0) {
    message.resize(message.size() - suffix.size());
  } else if (message == CodeText(code)) {
    message.clear();
  }
  return Status(code, std::move(message));
}

}  // namespace berth::ttrpc
