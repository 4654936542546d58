// Clock: where the scheduler reads the time and sleeps, so that tests can
// drive time by hand (see fake_clock.h) instead of sleeping.
//
// Implementations are thread-safe.
#ifndef BERTH_PLUGINS_GC_SCHEDULER_CLOCK_H_
#define BERTH_PLUGINS_GC_SCHEDULER_CLOCK_H_

#include <chrono>
#include <optional>

#include "berth/mutex.h"

namespace berth::gc_scheduler {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;

  virtual TimePoint Now() = 0;

  // Releases `mu` and blocks until `cv` is signalled or, when a deadline is
  // given, until Now() reaches it; then re-acquires `mu`. May return early
  // (spuriously): callers re-check their condition in a loop.
  // REQUIRES: `mu` is held; `cv` is signalled under the same mutex.
  virtual void WaitUntil(Mutex* mu, CondVar* cv, std::optional<TimePoint> deadline)
      BERTH_REQUIRES(mu) = 0;
};

// The process's monotonic clock (std::chrono::steady_clock). Never destroyed.
Clock& SteadyClock();

}  // namespace berth::gc_scheduler

#endif  // BERTH_PLUGINS_GC_SCHEDULER_CLOCK_H_
