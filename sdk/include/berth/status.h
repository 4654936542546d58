// Status and Result<T>: how every fallible SDK call reports failure.
//
// The codes mirror containerd's errdefs so that they map one to one onto gRPC
// status codes (see berth/grpc_status.h in the host and proxy). A Status is a
// small value; copying it copies its message. Thread-safe as any value type.
#ifndef BERTH_STATUS_H_
#define BERTH_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace berth {

// Frozen: the numeric values are part of the plugin ABI.
enum class Code : int {
  kOk = 0,
  kUnknown = 1,
  kInvalidArgument = 2,
  kNotFound = 3,
  kAlreadyExists = 4,
  kFailedPrecondition = 5,
  kUnavailable = 6,
  kNotImplemented = 7,
  kCanceled = 8,
  kDeadlineExceeded = 9,
  kResourceExhausted = 10,
  // containerd's ErrSkipPlugin: the plugin chose not to run here. Not an error
  // for the daemon; introspection shows it as "skip".
  kSkipPlugin = 11,
};

// The containerd wording of each code ("not found", "skip plugin", ...).
std::string_view CodeText(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status Unknown(std::string m) { return {Code::kUnknown, std::move(m)}; }
  static Status InvalidArgument(std::string m) {
    return {Code::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) {
    return {Code::kAlreadyExists, std::move(m)};
  }
  static Status FailedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  static Status Unavailable(std::string m) {
    return {Code::kUnavailable, std::move(m)};
  }
  static Status NotImplemented(std::string m) {
    return {Code::kNotImplemented, std::move(m)};
  }
  static Status Canceled(std::string m) { return {Code::kCanceled, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) {
    return {Code::kDeadlineExceeded, std::move(m)};
  }
  static Status ResourceExhausted(std::string m) {
    return {Code::kResourceExhausted, std::move(m)};
  }
  // A skip reads as containerd's: "<reason>: skip plugin".
  static Status SkipPlugin(std::string reason) {
    return {Code::kSkipPlugin, std::move(reason)};
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool Is(Code code) const { return code_ == code; }

  // "<message>: <code text>" as containerd prints a wrapped errdefs error,
  // e.g. `content sha256:ab..: not found`; "ok" when ok.
  std::string ToString() const;

  // Prefixes the message with context: "<context>: <message>".
  Status Annotate(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  // REQUIRES: !ok() for status(); an OK Result answers Status::Ok().
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace berth

// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define BERTH_RETURN_IF_ERROR(expr)            \
  do {                                         \
    ::berth::Status berth_status_ = (expr);    \
    if (!berth_status_.ok()) return berth_status_; \
  } while (0)

#endif  // BERTH_STATUS_H_
