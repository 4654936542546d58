#include "reaper.h"

#include <signal.h>
#include <sys/wait.h>

#include <boost/asio/post.hpp>
#include <string>

namespace berth::shim {
namespace {
constexpr size_t kMaxUnclaimed = 256;
}  // namespace

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;
}

Reaper::Reaper(boost::asio::io_context& io, Logger& log)
    : io_(io), log_(log), signals_(io, SIGCHLD) {}

void Reaper::Start() {
  Arm();
  // Children that exited before the handler was installed.
  boost::asio::post(io_, [this] { ReapAll(); });
}

void Reaper::Arm() {
  signals_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    ReapAll();
    Arm();
  });
}

void Reaper::Watch(pid_t pid, ExitFunction on_exit) {
  for (auto it = unclaimed_.begin(); it != unclaimed_.end(); ++it) {
    if (it->first == pid) {
      int code = it->second;
      unclaimed_.erase(it);
      boost::asio::post(io_, [fn = std::move(on_exit), code] { fn(code); });
      return;
    }
  }
  watched_[pid] = std::move(on_exit);
}

void Reaper::WatchChild(pid_t pid, ExitFunction on_exit) {
  std::erase_if(unclaimed_, [pid](const auto& e) { return e.first == pid; });
  watched_[pid] = std::move(on_exit);
}

void Reaper::ReapAll() {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;  // 0: children left, none exited; -1: ECHILD
    int code = ExitCodeOf(status);
    auto it = watched_.find(pid);
    if (it == watched_.end()) {
      if (log_.Enabled(LogLevel::kDebug)) {
        log_.Debug("reaped unwatched pid " + std::to_string(pid) + " exit " + std::to_string(code));
      }
      unclaimed_.emplace_back(pid, code);
      if (unclaimed_.size() > kMaxUnclaimed) unclaimed_.pop_front();
      continue;
    }
    ExitFunction fn = std::move(it->second);
    watched_.erase(it);
    fn(code);
  }
}

}  // namespace berth::shim
