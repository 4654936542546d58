// FakeClock: a Clock that moves only when a test advances it, so scheduling
// rules can be checked to the nanosecond without sleeping.
//
// A thread sleeping in WaitUntil wakes on its condition variable as usual,
// and also on every Advance, to look at the new time. AwaitSleeper tells a
// test when that thread has looked at the current time and gone back to
// sleep, so that "nothing happened" can be asserted without guessing.
//
// Thread-safe.
#ifndef BERTH_PLUGINS_GC_SCHEDULER_FAKE_CLOCK_H_
#define BERTH_PLUGINS_GC_SCHEDULER_FAKE_CLOCK_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>

#include "clock.h"

namespace berth::gc_scheduler {

class FakeClock final : public Clock {
 public:
  // Starts at an arbitrary fixed point (not the epoch, so that "before the
  // start" is representable).
  FakeClock();

  TimePoint Now() override;
  void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 std::optional<TimePoint> deadline) override;

  // Moves time forward by `d` (0 is allowed) and wakes every sleeper.
  // REQUIRES: each sleeper's mutex and condition variable are still alive.
  void Advance(std::chrono::nanoseconds d);

  // Waits, for at most `bound` of real time, until some thread sleeps in
  // WaitUntil having seen the time of the latest Advance. Returns whether it
  // did; `deadline` then holds what it sleeps until (nullopt: no deadline).
  bool AwaitSleeper(std::optional<TimePoint>* deadline = nullptr,
                    std::chrono::milliseconds bound = std::chrono::seconds(10));

  // Advance(0) then AwaitSleeper(): lets the sleeper act on whatever changed
  // since it last looked, and waits until it is asleep again.
  bool Settle(std::optional<TimePoint>* deadline = nullptr);

 private:
  struct Sleeper {
    std::mutex* mutex;
    std::condition_variable* cv;
    std::optional<TimePoint> deadline;
    std::uint64_t epoch;  // the Advance count it saw
  };

  std::mutex mu_;
  std::condition_variable sleepers_changed_;
  TimePoint now_;                // GUARDED_BY(mu_)
  std::uint64_t epoch_ = 0;      // GUARDED_BY(mu_): number of Advance calls
  std::list<Sleeper> sleepers_;  // GUARDED_BY(mu_)
};

}  // namespace berth::gc_scheduler

#endif  // BERTH_PLUGINS_GC_SCHEDULER_FAKE_CLOCK_H_
