// Test helpers for libberth-ttrpc: temp dirs, an io thread, bounded waits,
// and a raw socket that speaks frames by hand.
#ifndef BERTH_SDK_SRC_TTRPC_TEST_UTIL_H_
#define BERTH_SDK_SRC_TTRPC_TEST_UTIL_H_

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "berth/logger.h"
#include "berth/status.h"
#include "berth/ttrpc/frame.h"

namespace berth::ttrpc::testing {

inline constexpr std::chrono::seconds kLimit(10);  // bound of every wait

// A fresh directory under $TMPDIR, removed with its contents at the end.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// An io_context run by its own thread until destruction.
class IoThread {
 public:
  IoThread();
  ~IoThread();
  boost::asio::io_context& io() { return io_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// Waits on a condition with a bound: Run(f) changes the state under the lock
// and wakes waiters.
class Notifier {
 public:
  void Run(const std::function<void()>& change) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      change();
    }
    cv_.notify_all();
  }
  bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit = kLimit) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, done);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

// Keeps every line logged.
class CapturingLogger : public Logger {
 public:
  void Log(LogLevel level, std::string_view message) override;
  bool Enabled(LogLevel) const override { return true; }
  bool WaitForLine(const std::string& needle);
  std::vector<std::string> Lines();

 private:
  Notifier notifier_;
  std::vector<std::string> lines_;
};

// A blocking client socket for hand-made frames.
class RawConn {
 public:
  static Result<RawConn> Connect(const std::string& path);
  RawConn(RawConn&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ~RawConn();

  [[nodiscard]] bool Send(const FrameHeader& header, const std::string& body);
  [[nodiscard]] bool SendBytes(const std::string& bytes);
  // The next frame, or nullopt when the peer closed or `limit` passed.
  std::optional<std::pair<FrameHeader, std::string>> Read(std::chrono::milliseconds limit = kLimit);
  // True when the peer closes (EOF/reset) within `limit`, any pending input
  // being skipped.
  bool WaitClosed(std::chrono::milliseconds limit = kLimit);

 private:
  explicit RawConn(int fd) : fd_(fd) {}
  bool ReadFull(char* p, std::size_t n, std::chrono::steady_clock::time_point until);
  int fd_ = -1;
};

// A serialised ttrpc Request.
std::string RequestBytes(const std::string& service, const std::string& method,
                         const std::string& payload, std::int64_t timeout_nano = 0);
// {grpc code, message, payload} of a serialised Response.
struct Decoded {
  int code = -1;
  std::string message;
  std::string payload;
};
Decoded DecodeResponse(const std::string& body);

}  // namespace berth::ttrpc::testing

#endif  // BERTH_SDK_SRC_TTRPC_TEST_UTIL_H_
