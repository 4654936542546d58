// Executor: threads for work that may block (a backend call to a slow disk
// or to another process), so that an event loop's few threads (gRPC's
// callback threads, a ttrpc loop) only ever dispatch. A handler hands its
// body to an executor and returns at once; the body finishes the call when
// done. One hung backend then ties up executor threads, not the server.
//
// Threads start on demand up to a bound and are then kept; work beyond the
// bound waits in order. Guard() runs plugin code so that an exception it
// throws becomes an error Status and never unwinds into the caller's loop.
//
// Thread-safe.
#ifndef BERTH_EXECUTOR_H_
#define BERTH_EXECUTOR_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <string>

#include "berth/mutex.h"
#include "berth/status.h"
#include "berth/thread_annotations.h"

namespace berth {

class Executor {
 public:
  // How long the shared executor's first idle thread spins for new work
  // before it sleeps (see Spin); defined in executor.cc.
  static const std::chrono::microseconds kSharedSpin;

  // Up to `max_threads` threads; the first idle one spins for `spin` (0: never).
  explicit Executor(std::size_t max_threads, std::chrono::microseconds spin = {})
      : max_threads_(max_threads), spin_(spin) {}
  // Runs what is queued, then waits for every thread to end. The shared
  // executor is never destroyed (calls may still be finishing at exit).
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs `work` on one of the executor's threads, soon.
  void Submit(std::function<void()> work) BERTH_EXCLUDES(mu_);

  // The executor a process's servers share (up to 64 threads; an idle
  // thread costs its stack).
  static Executor& Shared();

 private:
  void Run() BERTH_EXCLUDES(mu_);
  // Drops the lock and polls for queued work for at most spin_, so that
  // work submitted meanwhile starts without a futex wake-up (tens of
  // microseconds on a virtual machine, more under load). One thread spins
  // at a time.
  void Spin() BERTH_REQUIRES(mu_);

  const std::size_t max_threads_;
  const std::chrono::microseconds spin_;
  Mutex mu_;
  CondVar ready_;
  CondVar exited_;
  bool stopping_ BERTH_GUARDED_BY(mu_) = false;
  std::deque<std::function<void()>> queue_ BERTH_GUARDED_BY(mu_);
  std::size_t threads_ BERTH_GUARDED_BY(mu_) = 0;
  std::size_t idle_ BERTH_GUARDED_BY(mu_) = 0;
  bool spinning_ BERTH_GUARDED_BY(mu_) = false;
  std::atomic<std::size_t> queued_{0};  // queue_.size(), for the spinner
};

// Calls plugin code; an exception it throws becomes Unknown naming it.
// `fn` returns a Status or a Result<T>.
template <typename Fn>
auto Guard(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return Status::Unknown(std::string("plugin threw: ") + e.what());
  } catch (...) {
    return Status::Unknown("plugin threw a non-standard exception");
  }
}

}  // namespace berth

#endif  // BERTH_EXECUTOR_H_
