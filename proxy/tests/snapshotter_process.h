// SnapshotterProcess: one berth-snapshotter under test, serving a
// snapshotter plugin library on a socket in its own temporary folder, with
// its output in a log there. The destructor kills and reaps it; the folder
// goes with the object. Start may be called again after Kill (a restart on
// the same root and socket).
//
// Also the small gRPC helpers the proxy tests share. Not thread-safe; owned
// by one test.
#ifndef BERTH_PROXY_TESTS_SNAPSHOTTER_PROCESS_H_
#define BERTH_PROXY_TESTS_SNAPSHOTTER_PROCESS_H_

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "temp_dir.h"

namespace berth::test {

// "<build>/bin/berth-snapshotter".
std::string BerthSnapshotterPath();
// The remote-snapshotter fixture library (remote_overlay.cc).
std::string RemoteOverlayFixturePath();

class SnapshotterProcess {
 public:
  // `plugin`: what --plugin gets (a name in berth's plugin folder or a path).
  explicit SnapshotterProcess(std::string plugin = "snapshot-overlay");
  ~SnapshotterProcess();
  SnapshotterProcess(const SnapshotterProcess&) = delete;
  SnapshotterProcess& operator=(const SnapshotterProcess&) = delete;

  ::testing::AssertionResult Start();
  // Polls (bounded) until the socket answers a snapshots call.
  ::testing::AssertionResult WaitServing(
      std::chrono::milliseconds bound = std::chrono::seconds(30));
  // Start, then WaitServing.
  ::testing::AssertionResult Run();
  // SIGKILL and reap; the stale socket file stays, as after a crash.
  void Kill();
  // Sends `signal` (SIGSTOP: a hung peer; SIGCONT: alive again).
  void Signal(int signal);
  bool running() const { return pid_ > 0; }

  const std::string& socket() const { return socket_; }
  const std::string& root() const { return root_; }
  std::string Log() const { return ReadFile(log_path_); }

 private:
  std::string plugin_;
  std::unique_ptr<TempDir> dir_;
  std::string socket_;
  std::string root_;
  std::string log_path_;
  pid_t pid_ = -1;
};

// Polls `condition` every 20 ms until it holds or `bound` passes.
bool Eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds bound = std::chrono::seconds(20));

}  // namespace berth::test

#endif  // BERTH_PROXY_TESTS_SNAPSHOTTER_PROCESS_H_
