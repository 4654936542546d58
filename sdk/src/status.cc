#include "berth/status.h"

namespace berth {

std::string_view CodeText(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kUnknown: return "unknown";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kNotFound: return "not found";
    case Code::kAlreadyExists: return "already exists";
    case Code::kFailedPrecondition: return "failed precondition";
    case Code::kUnavailable: return "unavailable";
    case Code::kNotImplemented: return "not implemented";
    case Code::kCanceled: return "context canceled";
    case Code::kDeadlineExceeded: return "context deadline exceeded";
    case Code::kResourceExhausted: return "resource exhausted";
    case Code::kSkipPlugin: return "skip plugin";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string text(CodeText(code_));
  if (message_.empty()) return text;
  return message_ + ": " + text;
}

Status Status::Annotate(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  if (!message_.empty()) m += ": " + message_;
  return Status(code_, std::move(m));
}

}  // namespace berth
