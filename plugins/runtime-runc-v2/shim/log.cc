#include "log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "berth/time.h"

namespace berth::shim {
namespace {

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// `s` as a quoted JSON string (logfmt's quoting); invalid UTF-8 becomes U+FFFD.
std::string Quote(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', false,
                                             nlohmann::json::error_handler_t::replace);
}

}  // namespace

ShimLogger::~ShimLogger() {
  if (fd_ > 2) close(fd_);
}

bool ShimLogger::OpenFifo(const std::string& bundle) {
  std::string path = bundle + "/log";
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode)) return false;
  // O_NONBLOCK: fails (ENXIO) rather than waits when nobody reads.
  int fd = open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  if (fd_ > 2) close(fd_);
  fd_ = fd;
  return true;
}

void ShimLogger::Log(LogLevel level, std::string_view message) {
  if (!Enabled(level)) return;
  std::string line = "time=\"" + FormatRfc3339NanoFixed(std::chrono::system_clock::now()) +
                     "\" level=" + std::string(LevelName(level)) + " msg=" + Quote(message) +
                     fields_ + "\n";
  // One write per line; a full fifo (EAGAIN) or a gone reader loses it.
  ssize_t n = write(fd_, line.data(), line.size());
  (void)n;
}

}  // namespace berth::shim
