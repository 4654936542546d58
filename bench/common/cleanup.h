// Cleanup: what a benchmark must undo however it ends — the temporary
// folders it made and the daemons it started.
//
// Normal exits run Cleanup::Run() (also from the destructor of CleanupScope);
// SIGINT, SIGTERM and SIGHUP are blocked in every thread and taken by one
// watcher thread, which runs the same cleanup and exits with 128 + signal.
// Children are started with PR_SET_PDEATHSIG, so even a SIGKILL of the bench
// takes its daemons down (Install() is optional; without it only the
// explicit Run() and PR_SET_PDEATHSIG apply). Thread-safe.
#ifndef BERTH_BENCH_COMMON_CLEANUP_H_
#define BERTH_BENCH_COMMON_CLEANUP_H_

#include <sys/types.h>

#include <string>

namespace berth::bench {

class Cleanup {
 public:
  // Blocks the termination signals and starts the watcher. REQUIRES: called
  // first in main, before any other thread exists (so all inherit the mask).
  static void Install();
  static void AddDir(const std::string& dir);
  static void AddChild(pid_t pid);
  // The child was reaped by its owner; nothing left to kill.
  static void RemoveChild(pid_t pid);
  // Kills (SIGKILL) and reaps remaining children, then removes the folders.
  // Idempotent.
  static void Run();
};

// Runs Cleanup::Run() when it goes out of scope.
struct CleanupScope {
  ~CleanupScope() { Cleanup::Run(); }
};

}  // namespace berth::bench

#endif  // BERTH_BENCH_COMMON_CLEANUP_H_
