#include "berth/grpc/status.h"

#include <string>
#include <utility>

namespace berth::grpc_util {

grpc::StatusCode ToGrpcCode(Code code) {
  switch (code) {
    case Code::kOk:
      return grpc::StatusCode::OK;
    case Code::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case Code::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case Code::kAlreadyExists:
      return grpc::StatusCode::ALREADY_EXISTS;
    case Code::kFailedPrecondition:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case Code::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case Code::kNotImplemented:
      return grpc::StatusCode::UNIMPLEMENTED;
    case Code::kCanceled:
      return grpc::StatusCode::CANCELLED;
    case Code::kDeadlineExceeded:
      return grpc::StatusCode::DEADLINE_EXCEEDED;
    case Code::kResourceExhausted:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Code::kUnknown:
    case Code::kSkipPlugin:
      return grpc::StatusCode::UNKNOWN;
  }
  return grpc::StatusCode::UNKNOWN;
}

Code FromGrpcCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return Code::kOk;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Code::kInvalidArgument;
    case grpc::StatusCode::NOT_FOUND:
      return Code::kNotFound;
    case grpc::StatusCode::ALREADY_EXISTS:
      return Code::kAlreadyExists;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return Code::kFailedPrecondition;
    case grpc::StatusCode::UNAVAILABLE:
      return Code::kUnavailable;
    case grpc::StatusCode::UNIMPLEMENTED:
      return Code::kNotImplemented;
    case grpc::StatusCode::CANCELLED:
      return Code::kCanceled;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Code::kDeadlineExceeded;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return Code::kResourceExhausted;
    default:
      return Code::kUnknown;
  }
}

grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(ToGrpcCode(status.code()), status.ToString());
}

Status FromGrpc(const grpc::Status& status) {
  Code code = FromGrpcCode(status.error_code());
  if (code == Code::kOk) return Status::Ok();
  std::string message = status.error_message();
  std::string suffix = ": " + std::string(CodeText(code));
  if (message.size() >= suffix.size() &&
      message.compare(message.size() - suffix.size(), suffix.size(), suffix) == 0) {
    message.resize(message.size() - suffix.size());
  } else if (message == CodeText(code)) {
    message.clear();
  }
  return Status(code, std::move(message));
}

}  // namespace berth::grpc_util
