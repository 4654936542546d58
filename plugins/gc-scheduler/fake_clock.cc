#include "fake_clock.h"

#include <utility>
#include <vector>

namespace berth::gc_scheduler {

FakeClock::FakeClock() : now_(TimePoint{} + std::chrono::hours(24)) {}

Clock::TimePoint FakeClock::Now() {
  MutexLock lock(&mu_);
  return now_;
}

void FakeClock::WaitUntil(Mutex* mu, CondVar* cv, std::optional<TimePoint> deadline) {
  std::list<Sleeper>::iterator me;
  {
    MutexLock guard(&mu_);
    // Time may have moved since the caller looked; then its deadline may be
    // behind us already.
    if (deadline && now_ >= *deadline) return;
    me = sleepers_.insert(sleepers_.end(), Sleeper{mu, cv, deadline, epoch_});
    sleepers_changed_.SignalAll();
  }
  cv->Wait(mu);
  MutexLock guard(&mu_);
  sleepers_.erase(me);
}

void FakeClock::Advance(std::chrono::nanoseconds d) {
  std::vector<std::pair<Mutex*, CondVar*>> wake;
  {
    MutexLock lock(&mu_);
    now_ += d;
    ++epoch_;
    for (const Sleeper& s : sleepers_) wake.emplace_back(s.mutex, s.cv);
  }
  // Under the sleeper's own mutex, so the notification cannot fall between
  // its registration and its wait.
  for (auto& [mutex, cv] : wake) {
    MutexLock lock(mutex);
    cv->SignalAll();
  }
}

bool FakeClock::AwaitSleeper(std::optional<TimePoint>* deadline, std::chrono::milliseconds bound) {
  MutexLock lock(&mu_);
  const Sleeper* found = nullptr;
  sleepers_changed_.WaitFor(&mu_, bound, [&]() BERTH_REQUIRES(mu_) {
    for (const Sleeper& s : sleepers_) {
      if (s.epoch == epoch_) found = &s;
    }
    return found != nullptr;
  });
  if (found == nullptr) return false;
  if (deadline != nullptr) *deadline = found->deadline;
  return true;
}

bool FakeClock::Settle(std::optional<TimePoint>* deadline) {
  Advance(std::chrono::nanoseconds{0});
  return AwaitSleeper(deadline);
}

}  // namespace berth::gc_scheduler
