#include "server/blocking_pool.h"

#include <thread>
#include <utility>

#include "berth/grpc/status.h"

namespace berth::host {

void BlockingPool::Submit(std::function<void()> work) {
  std::unique_lock lock(mu_);
  queue_.push_back(std::move(work));
  if (idle_ >= queue_.size() || threads_ >= max_threads_) {
    ready_.notify_one();
    return;
  }
  ++threads_;
  lock.unlock();
  std::thread([this] { Run(); }).detach();
}

BlockingPool::~BlockingPool() {
  std::unique_lock lock(mu_);
  stopping_ = true;
  ready_.notify_all();
  exited_.wait(lock, [this] { return threads_ == 0; });
}

void BlockingPool::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_;
    ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) {  // stopping
      --threads_;
      exited_.notify_all();
      return;
    }
    std::function<void()> work = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    work();
    lock.lock();
  }
}

BlockingPool& BlockingPool::ForServices() {
  // Enough for many concurrent slow calls; each idle thread costs a stack.
  static auto* pool = new BlockingPool(64);
  return *pool;
}

void RunOnPool(std::function<void()> work) {
  BlockingPool::ForServices().Submit(std::move(work));
}

grpc::ServerUnaryReactor* FinishOnPool(grpc::CallbackServerContext* ctx,
                                       std::function<Status()> body) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  BlockingPool::ForServices().Submit([reactor, body = std::move(body)] {
    reactor->Finish(grpc_util::ToGrpc(body()));
  });
  return reactor;
}

}  // namespace berth::host
