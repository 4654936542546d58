// FakeCollector: a GarbageCollector for scheduler tests. Each run returns the
// next queued result (or the standing figures), counts itself, and can be
// held at its start so that a test acts while a run is in progress.
//
// Thread-safe.
#ifndef BERTH_PLUGINS_GC_SCHEDULER_FAKE_COLLECTOR_H_
#define BERTH_PLUGINS_GC_SCHEDULER_FAKE_COLLECTOR_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "berth/gc.h"

namespace berth::gc_scheduler {

class FakeCollector final : public GarbageCollector {
 public:
  Result<gc::Stats> GarbageCollect() override {
    std::unique_lock<std::mutex> lock(mu_);
    ++started_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !held_; });
    Result<gc::Stats> result = stats_;
    if (!queued_.empty()) {
      result = queued_.front();
      queued_.pop_front();
    }
    const bool mutate = mutate_during_run_;
    lock.unlock();
    if (mutate) Mutate(true);  // the run's own removals, on the run's thread
    lock.lock();
    ++finished_;
    changed_.notify_all();
    return result;
  }

  void OnMutation(std::function<void(bool deletion)> fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    callbacks_.push_back(std::move(fn));
  }

  // Calls every registered mutation callback, as a committed change would.
  void Mutate(bool deletion) {
    std::vector<std::function<void(bool)>> callbacks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      callbacks = callbacks_;
    }
    for (auto& fn : callbacks) fn(deletion);
  }

  // The figures every run returns unless a result is queued.
  void SetStats(const gc::Stats& stats) {
    std::lock_guard<std::mutex> lock(mu_);
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
    std::lock_guard<std::mutex> lock(mu_);
    queued_.push_back(std::move(status));
  }
  // Runs report their own removals through the mutation callbacks.
  void MutateDuringRun(bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    mutate_during_run_ = on;
  }

  // Runs block at their start until Release().
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = false;
    changed_.notify_all();
  }

  int started() {
    std::lock_guard<std::mutex> lock(mu_);
    return started_;
  }
  int finished() {
    std::lock_guard<std::mutex> lock(mu_);
    return finished_;
  }
  std::size_t callbacks() {
    std::lock_guard<std::mutex> lock(mu_);
    return callbacks_.size();
  }
  // Waits (real time, bounded) until `n` runs have started.
  bool AwaitStarted(int n, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, bound, [&] { return started_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::function<void(bool)>> callbacks_;
  std::deque<Result<gc::Stats>> queued_;
  gc::Stats stats_;
  bool held_ = false;
  bool mutate_during_run_ = false;
  int started_ = 0;
  int finished_ = 0;
};

}  // namespace berth::gc_scheduler

#endif  // BERTH_PLUGINS_GC_SCHEDULER_FAKE_COLLECTOR_H_
