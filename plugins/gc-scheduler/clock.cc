#include "clock.h"

namespace berth::gc_scheduler {
namespace {

class Steady final : public Clock {
 public:
  TimePoint Now() override { return std::chrono::steady_clock::now(); }

  void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 std::optional<TimePoint> deadline) override {
    if (deadline) {
      cv.wait_until(lock, *deadline);
    } else {
      cv.wait(lock);
    }
  }
};

}  // namespace

Clock& SteadyClock() {
  static Clock* const clock = new Steady();  // never destroyed: threads may outlive statics
  return *clock;
}

}  // namespace berth::gc_scheduler
