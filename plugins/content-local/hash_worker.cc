#include "hash_worker.h"

namespace berth::content_local {

HashWorker::HashWorker(Sha256& hash) : hash_(hash), thread_([this] { Run(); }) {}

HashWorker::~HashWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void HashWorker::Start(const void* data, std::size_t size) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    data_ = data;
    size_ = size;
    busy_ = true;
  }
  cv_.notify_all();
}

void HashWorker::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !busy_; });
}

void HashWorker::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || (busy_ && data_ != nullptr); });
    if (stop_) return;
    const void* data = data_;
    std::size_t size = size_;
    lock.unlock();
    hash_.Update(data, size);
    lock.lock();
    data_ = nullptr;
    busy_ = false;
    cv_.notify_all();
  }
}

}  // namespace berth::content_local
