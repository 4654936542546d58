// BlockingPool: threads for service work that may block (backend calls to a
// slow disk or a proxy peer), so that gRPC's few callback threads only ever
// dispatch. A handler hands its body to the pool and returns its reactor at
// once; the body finishes the reactor when done. One hung backend then ties
// up pool threads, not the server: other services keep answering.
//
// Threads are started on demand up to a bound and then kept; work beyond the
// bound waits in order. Thread-safe.
#ifndef BERTH_HOST_SERVER_BLOCKING_POOL_H_
#define BERTH_HOST_SERVER_BLOCKING_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

#include <grpcpp/grpcpp.h>

#include "berth/status.h"

namespace berth::host {

class BlockingPool {
 public:
  explicit BlockingPool(std::size_t max_threads) : max_threads_(max_threads) {}
  // Runs what is queued, then waits for every thread to end. The process-wide
  // pool is never destroyed (calls may still be finishing at exit).
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  void Submit(std::function<void()> work);

  // The pool the daemon's services share.
  static BlockingPool& ForServices();

 private:
  void Run();

  const std::size_t max_threads_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::condition_variable exited_;
  bool stopping_ = false;
  std::deque<std::function<void()>> queue_;
  std::size_t threads_ = 0;
  std::size_t idle_ = 0;
};

// Runs `work` on the services' pool.
void RunOnPool(std::function<void()> work);

// Runs `body` on the services' pool and finishes the call with its Status.
// `body` must not refer to anything that dies when the handler returns
// (request and response messages live until Finish).
grpc::ServerUnaryReactor* FinishOnPool(grpc::CallbackServerContext* ctx,
                                       std::function<Status()> body);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVER_BLOCKING_POOL_H_
