#include "hash_worker.h"

namespace berth::content_local {

HashWorker::HashWorker(Sha256& hash) : hash_(hash), thread_([this] { Run(); }) {}

HashWorker::~HashWorker() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  thread_.join();
}

void HashWorker::Start(const void* data, std::size_t size) {
  {
    MutexLock lock(&mu_);
    data_ = data;
    size_ = size;
    busy_ = true;
  }
  cv_.SignalAll();
}

void HashWorker::Wait() {
  MutexLock lock(&mu_);
  cv_.Wait(&mu_, [this]() BERTH_REQUIRES(mu_) { return !busy_; });
}

void HashWorker::Run() {
  MutexLock lock(&mu_);
  for (;;) {
    cv_.Wait(&mu_, [this]() BERTH_REQUIRES(mu_) { return stop_ || (busy_ && data_ != nullptr); });
    if (stop_) return;
    const void* data = data_;
    std::size_t size = size_;
    lock.Unlock();
    hash_.Update(data, size);
    lock.Lock();
    data_ = nullptr;
    busy_ = false;
    cv_.SignalAll();
  }
}

}  // namespace berth::content_local
