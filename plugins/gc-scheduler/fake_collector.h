// FakeCollector: a GarbageCollector for scheduler tests. Each run returns the
// next queued result (or the standing figures), counts itself, and can be
// held at its start so that a test acts while a run is in progress.
//
// Thread-safe.
#ifndef BERTH_PLUGINS_GC_SCHEDULER_FAKE_COLLECTOR_H_
#define BERTH_PLUGINS_GC_SCHEDULER_FAKE_COLLECTOR_H_

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <vector>

#include "berth/gc.h"
#include "berth/mutex.h"

namespace berth::gc_scheduler {

class FakeCollector final : public GarbageCollector {
 public:
  Result<gc::Stats> GarbageCollect() override BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    ++started_;
    changed_.SignalAll();
    changed_.Wait(&mu_, [&]() BERTH_REQUIRES(mu_) { return !held_; });
    Result<gc::Stats> result = stats_;
    if (!queued_.empty()) {
      result = queued_.front();
      queued_.pop_front();
    }
    const bool mutate = mutate_during_run_;
    lock.Unlock();
    if (mutate) Mutate(true);  // the run's own removals, on the run's thread
    lock.Lock();
    ++finished_;
    changed_.SignalAll();
    return result;
  }

  void OnMutation(std::function<void(bool deletion)> fn) override {
    MutexLock lock(&mu_);
    callbacks_.push_back(std::move(fn));
  }

  // Calls every registered mutation callback, as a committed change would.
  void Mutate(bool deletion) {
    std::vector<std::function<void(bool)>> callbacks;
    {
      MutexLock lock(&mu_);
      callbacks = callbacks_;
    }
    for (auto& fn : callbacks) fn(deletion);
  }

  // The figures every run returns unless a result is queued.
  void SetStats(const gc::Stats& stats) {
    MutexLock lock(&mu_);
    stats_ = stats;
  }
  // A run whose collection took `elapsed` (all of it marking).
  void SetElapsed(std::chrono::nanoseconds elapsed) {
    gc::Stats stats;
    stats.mark = elapsed;
    SetStats(stats);
  }
  // The next run returns `status`.
  void FailNext(Status status) {
    MutexLock lock(&mu_);
    queued_.push_back(std::move(status));
  }
  // Runs report their own removals through the mutation callbacks.
  void MutateDuringRun(bool on) {
    MutexLock lock(&mu_);
    mutate_during_run_ = on;
  }

  // Runs block at their start until Release().
  void Hold() {
    MutexLock lock(&mu_);
    held_ = true;
  }
  void Release() {
    MutexLock lock(&mu_);
    held_ = false;
    changed_.SignalAll();
  }

  int started() {
    MutexLock lock(&mu_);
    return started_;
  }
  int finished() {
    MutexLock lock(&mu_);
    return finished_;
  }
  std::size_t callbacks() {
    MutexLock lock(&mu_);
    return callbacks_.size();
  }
  // Waits (real time, bounded) until `n` runs have started.
  bool AwaitStarted(int n, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    MutexLock lock(&mu_);
    return changed_.WaitFor(&mu_, bound, [&]() BERTH_REQUIRES(mu_) { return started_ >= n; });
  }

 private:
  Mutex mu_;
  CondVar changed_;
  std::vector<std::function<void(bool)>> callbacks_ BERTH_GUARDED_BY(mu_);
  std::deque<Result<gc::Stats>> queued_ BERTH_GUARDED_BY(mu_);
  gc::Stats stats_ BERTH_GUARDED_BY(mu_);
  bool held_ BERTH_GUARDED_BY(mu_) = false;
  bool mutate_during_run_ BERTH_GUARDED_BY(mu_) = false;
  int started_ BERTH_GUARDED_BY(mu_) = 0;
  int finished_ BERTH_GUARDED_BY(mu_) = 0;
};

}  // namespace berth::gc_scheduler

#endif  // BERTH_PLUGINS_GC_SCHEDULER_FAKE_COLLECTOR_H_
