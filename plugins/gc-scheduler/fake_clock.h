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
#include <cstdint>
#include <list>
#include <optional>

#include "berth/mutex.h"
#include "clock.h"

namespace berth::gc_scheduler {

class FakeClock final : public Clock {
 public:
  // Starts at an arbitrary fixed point (not the epoch, so that "before the
  // start" is representable).
  FakeClock();

  TimePoint Now() override BERTH_EXCLUDES(mu_);
  void WaitUntil(Mutex* mu, CondVar* cv, std::optional<TimePoint> deadline) override
      BERTH_REQUIRES(mu) BERTH_EXCLUDES(mu_);

  // Moves time forward by `d` (0 is allowed) and wakes every sleeper.
  // REQUIRES: each sleeper's mutex and condition variable are still alive.
  void Advance(std::chrono::nanoseconds d) BERTH_EXCLUDES(mu_);

  // Waits, for at most `bound` of real time, until some thread sleeps in
  // WaitUntil having seen the time of the latest Advance. Returns whether it
  // did; `deadline` then holds what it sleeps until (nullopt: no deadline).
  bool AwaitSleeper(std::optional<TimePoint>* deadline = nullptr,
                    std::chrono::milliseconds bound = std::chrono::seconds(10))
      BERTH_EXCLUDES(mu_);

  // Advance(0) then AwaitSleeper(): lets the sleeper act on whatever changed
  // since it last looked, and waits until it is asleep again.
  bool Settle(std::optional<TimePoint>* deadline = nullptr) BERTH_EXCLUDES(mu_);

 private:
  struct Sleeper {
    Mutex* mutex;
    CondVar* cv;
    std::optional<TimePoint> deadline;
    std::uint64_t epoch;  // the Advance count it saw
  };

  Mutex mu_;
  CondVar sleepers_changed_;
  TimePoint now_ BERTH_GUARDED_BY(mu_);
  std::uint64_t epoch_ BERTH_GUARDED_BY(mu_) = 0;  // number of Advance calls
  std::list<Sleeper> sleepers_ BERTH_GUARDED_BY(mu_);
};

}  // namespace berth::gc_scheduler

#endif  // BERTH_PLUGINS_GC_SCHEDULER_FAKE_CLOCK_H_
