// Daemon: a berthd or containerd started for one benchmark run on a fresh
// root, state and socket under a folder, stopped (SIGTERM, then SIGKILL
// after 15 s) and reaped when the object dies; registered with Cleanup so a
// signal or an early exit also takes it down. Not thread-safe.
#ifndef BERTH_BENCH_CONTENT_DAEMON_H_
#define BERTH_BENCH_CONTENT_DAEMON_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace berth::bench {

class Daemon {
 public:
  // Writes `<dir>/config.toml` (version 2: root, state, the gRPC address and
  // `extra_toml`) and starts `binary --config FILE`, its output going to
  // `<dir>/daemon.log`.
  Daemon(const std::string& binary, const std::string& dir, const std::string& extra_toml);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Polls (at most 30 s) until a Version call on the socket answers. False
  // when the daemon exits first or the bound passes.
  bool WaitServing();
  void Stop();

  const std::string& socket() const { return socket_; }
  const std::string& log() const { return log_; }

 private:
  std::string socket_;
  std::string log_;
  pid_t pid_ = -1;
};

// Runs `argv` with stdin from `stdin_path` and output to `log_path`, waits
// for it; its exit code (128 + signal when killed), -1 if it did not start.
// The child dies with the bench (PR_SET_PDEATHSIG).
int RunToCompletion(const std::vector<std::string>& argv, const std::string& stdin_path,
                    const std::string& log_path);

}  // namespace berth::bench

#endif  // BERTH_BENCH_CONTENT_DAEMON_H_
