// Daemon: a berthd or containerd that a benchmark starts on a root, state
// and socket under a folder of its own, stopped (SIGTERM, then SIGKILL after
// 15 s) and reaped when the object dies; registered with Cleanup so a
// signal or an early exit also takes it down. Not thread-safe.
#ifndef BERTH_BENCH_COMMON_DAEMON_H_
#define BERTH_BENCH_COMMON_DAEMON_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace berth::bench {

class Daemon {
 public:
  // Writes `<dir>/config.toml` (version 2: root, state, the gRPC address and
  // `extra_toml`) and starts `binary --config FILE`, its output going to
  // `<dir>/daemon.log` (appended to). started_at() is read right before the
  // fork, so exec-to-serving times can be measured from it.
  Daemon(const std::string& binary, const std::string& dir, const std::string& extra_toml);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Polls every `poll` (at most 30 s in all) until a Version call on the
  // socket answers. False when the daemon did not start, exits first or the
  // bound passes.
  bool WaitServing(std::chrono::microseconds poll = std::chrono::milliseconds(10));
  void Stop();

  const std::string& socket() const { return socket_; }
  const std::string& log() const { return log_; }
  // -1 once stopped or reaped, or when the spawn failed.
  pid_t pid() const { return pid_; }
  std::chrono::steady_clock::time_point started_at() const { return started_at_; }

 private:
  std::string socket_;
  std::string log_;
  pid_t pid_ = -1;
  std::chrono::steady_clock::time_point started_at_;
};

// Runs `argv` with stdin from `stdin_path` and output to `log_path`, waits
// for it; its exit code (128 + signal when killed), -1 if it did not start.
// The child dies with the benchmark (PR_SET_PDEATHSIG).
int RunToCompletion(const std::vector<std::string>& argv, const std::string& stdin_path,
                    const std::string& log_path);

}  // namespace berth::bench

#endif  // BERTH_BENCH_COMMON_DAEMON_H_
