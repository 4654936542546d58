#include "services/grpc_status.h"

#include <cctype>

namespace berth::host {

grpc::StatusCode ToGrpcCode(Code code) {
  switch (code) {
    case Code::kOk: return grpc::StatusCode::OK;
    case Code::kInvalidArgument: return grpc::StatusCode::INVALID_ARGUMENT;
    case Code::kNotFound: return grpc::StatusCode::NOT_FOUND;
    case Code::kAlreadyExists: return grpc::StatusCode::ALREADY_EXISTS;
    case Code::kFailedPrecondition: return grpc::StatusCode::FAILED_PRECONDITION;
    case Code::kUnavailable: return grpc::StatusCode::UNAVAILABLE;
    case Code::kNotImplemented: return grpc::StatusCode::UNIMPLEMENTED;
    case Code::kCanceled: return grpc::StatusCode::CANCELLED;
    case Code::kDeadlineExceeded: return grpc::StatusCode::DEADLINE_EXCEEDED;
    case Code::kResourceExhausted: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Code::kUnknown:
    case Code::kSkipPlugin: return grpc::StatusCode::UNKNOWN;
  }
  return grpc::StatusCode::UNKNOWN;
}

grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(ToGrpcCode(status.code()), status.ToString());
}

Status FromGrpc(const grpc::Status& status) {
  Code code;
  switch (status.error_code()) {
    case grpc::StatusCode::OK: return Status::Ok();
    case grpc::StatusCode::INVALID_ARGUMENT: code = Code::kInvalidArgument; break;
    case grpc::StatusCode::NOT_FOUND: code = Code::kNotFound; break;
    case grpc::StatusCode::ALREADY_EXISTS: code = Code::kAlreadyExists; break;
    case grpc::StatusCode::FAILED_PRECONDITION: code = Code::kFailedPrecondition; break;
    case grpc::StatusCode::UNAVAILABLE: code = Code::kUnavailable; break;
    case grpc::StatusCode::UNIMPLEMENTED: code = Code::kNotImplemented; break;
    case grpc::StatusCode::CANCELLED: code = Code::kCanceled; break;
    case grpc::StatusCode::DEADLINE_EXCEEDED: code = Code::kDeadlineExceeded; break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: code = Code::kResourceExhausted; break;
    default: code = Code::kUnknown; break;
  }
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

Status ValidateIdentifier(const std::string& s) {
  if (s.empty()) return Status::InvalidArgument("identifier must not be empty");
  if (s.size() > 76) {
    return Status::InvalidArgument("identifier \"" + s.substr(0, 76) +
                                   "...\" greater than maximum length (76 characters)");
  }
  bool prev_sep = true;  // no separator first
  for (char c : s) {
    bool alnum = std::isalnum(static_cast<unsigned char>(c)) != 0;
    bool sep = c == '.' || c == '_' || c == '-';
    if (!alnum && !(sep && !prev_sep)) {
      return Status::InvalidArgument("identifier \"" + s +
                                     "\" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$");
    }
    prev_sep = sep;
  }
  if (prev_sep) {
    return Status::InvalidArgument("identifier \"" + s +
                                   "\" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$");
  }
  return Status::Ok();
}

namespace {
std::string MetadataValue(const grpc::ServerContextBase& context, const char* key) {
  const auto& md = context.client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}
}  // namespace

Result<std::string> NamespaceOf(const grpc::ServerContextBase& context) {
  std::string ns = MetadataValue(context, "containerd-namespace");
  if (ns.empty()) {
    return Status::InvalidArgument("namespace is required");
  }
  if (Status s = ValidateIdentifier(ns); !s.ok()) {
    return s.Annotate("namespace");
  }
  return ns;
}

std::string LeaseOf(const grpc::ServerContextBase& context) {
  return MetadataValue(context, "containerd-lease");
}

}  // namespace berth::host
