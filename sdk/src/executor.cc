#include "berth/executor.h"

#include <thread>
#include <utility>

namespace berth {

const std::chrono::microseconds Executor::kSharedSpin{50};

void Executor::Submit(std::function<void()> work) {
  MutexLock lock(&mu_);
  queue_.push_back(std::move(work));
  queued_.store(queue_.size(), std::memory_order_release);
  if (spinning_) return;  // the spinning thread takes it without a wake-up
  if (idle_ >= queue_.size() || threads_ >= max_threads_) {
    ready_.Signal();
    return;
  }
  ++threads_;
  lock.Unlock();
  std::thread([this] { Run(); }).detach();
}

Executor::~Executor() {
  MutexLock lock(&mu_);
  stopping_ = true;
  ready_.SignalAll();
  exited_.Wait(&mu_, [this]() BERTH_REQUIRES(mu_) { return threads_ == 0; });
}

void Executor::Spin() {
  spinning_ = true;
  mu_.Unlock();
  const auto until = std::chrono::steady_clock::now() + spin_;
  while (queued_.load(std::memory_order_acquire) == 0 && std::chrono::steady_clock::now() < until) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  mu_.Lock();
  spinning_ = false;
}

void Executor::Run() {
  MutexLock lock(&mu_);
  for (;;) {
    ++idle_;
    // The first thread to go idle spins a little: a call that follows soon
    // after (the common case under load) then costs no wake-up.
    if (queue_.empty() && !spinning_ && !stopping_ && spin_.count() > 0) Spin();
    ready_.Wait(&mu_, [this]() BERTH_REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) {  // stopping
      --threads_;
      exited_.SignalAll();
      return;
    }
    std::function<void()> work = std::move(queue_.front());
    queue_.pop_front();
    queued_.store(queue_.size(), std::memory_order_release);
    lock.Unlock();
    work();
    work = nullptr;  // release what the work held before waiting again
    lock.Lock();
  }
}

Executor& Executor::Shared() {
  static auto* executor = new Executor(64, kSharedSpin);
  return *executor;
}

}  // namespace berth
