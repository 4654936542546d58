// Reaper: collects every child of the shim (it is the container's subreaper)
// on SIGCHLD with a waitpid(-1, WNOHANG) loop, and hands each exit to whoever
// watches that pid: the runc invocations the shim spawned (watched from the
// fork on) and the container's init and exec processes (watched once their
// pid file is read). An exit nobody watches yet is kept (a bounded list) so
// that a process that dies before its pid file is read is still reported.
//
// Single-threaded: callbacks run on the io_context's thread. REQUIRES: Start()
// before the first fork, so that no SIGCHLD is missed.
#ifndef BERTH_SHIM_REAPER_H_
#define BERTH_SHIM_REAPER_H_

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <deque>
#include <functional>
#include <unordered_map>
#include <utility>

#include "berth/logger.h"

namespace berth::shim {

// A wait status as containerd reports it: the exit code, or 128 + signal.
int ExitCodeOf(int wait_status);

class Reaper {
 public:
  using ExitFunction = std::function<void(int exit_code)>;

  Reaper(boost::asio::io_context& io, Logger& log);

  void Start();
  // Runs `on_exit` once, when `pid` exits; at once (posted) when it already
  // did unwatched. A second Watch of the same pid replaces the first.
  void Watch(pid_t pid, ExitFunction on_exit);
  // Watch for a child just forked: an unclaimed exit of the same pid is an
  // older process's (pid reuse) and is dropped.
  void WatchChild(pid_t pid, ExitFunction on_exit);
  void Forget(pid_t pid) { watched_.erase(pid); }

 private:
  void Arm();
  void ReapAll();

  boost::asio::io_context& io_;
  Logger& log_;
  boost::asio::signal_set signals_;
  std::unordered_map<pid_t, ExitFunction> watched_;
  std::deque<std::pair<pid_t, int>> unclaimed_;  // newest last, bounded
};

}  // namespace berth::shim

#endif  // BERTH_SHIM_REAPER_H_
