#include "clock.h"

#include <utility>

namespace berth::gc_scheduler {
namespace {

class Steady final : public Clock {
 public:
  TimePoint Now() override { return std::chrono::steady_clock::now(); }

  void WaitUntil(Mutex* mu, CondVar* cv, std::optional<TimePoint> deadline) override
      BERTH_REQUIRES(mu) {
    if (deadline) {
      // One wait, as a bare wait_until: the predicate holds from the first
      // wake-up (signal, timeout or spurious) on.
      bool woke = false;
      (void)cv->WaitUntil(mu, *deadline, [&woke] { return std::exchange(woke, true); });
    } else {
      cv->Wait(mu);
    }
  }
};

}  // namespace

Clock& SteadyClock() {
  static Clock* const clock = new Steady();  // never destroyed: threads may outlive statics
  return *clock;
}

}  // namespace berth::gc_scheduler
