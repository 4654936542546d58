// BatchedListReactor: the server side of a List-style stream. The listing is
// collected up front into batches (one response message each), so no backend
// lock or walk is held while the client reads, then written one batch at a
// time, each write waiting for the previous one. The reactor deletes itself
// when the call is done; a client that goes away mid-stream ends the call as
// CANCELLED. Part of libberth-grpc (header only).
//
// The collection runs where `run` puts it: inline by default, or on a thread
// pool when it may block (a slow disk, a proxy peer), so gRPC's callback
// threads are not held. Each reactor is driven by gRPC, one callback at a time.
#ifndef BERTH_GRPC_BATCHED_LIST_H_
#define BERTH_GRPC_BATCHED_LIST_H_

#include <deque>
#include <exception>
#include <functional>
#include <string>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "berth/executor.h"
#include "berth/grpc/status.h"
#include "berth/status.h"

namespace berth::grpc_util {

// Runs a task now or later, on any thread.
using BatchedListReactorRunner = std::function<void(std::function<void()>)>;

template <typename Response>
class BatchedListReactor final : public grpc::ServerWriteReactor<Response> {
 public:
  // Fills the batches; a non-OK Status ends the call with it.
  using Collect = std::function<Status(std::deque<Response>& batches)>;
  using Runner = BatchedListReactorRunner;

  explicit BatchedListReactor(Collect collect, const Runner& run = nullptr) {
    auto task = [this, collect = std::move(collect)] {
      Status s = CollectGuarded(collect);
      if (!s.ok()) {
        this->Finish(ToGrpc(s));
        return;
      }
      Next();
    };
    if (run) {
      run(std::move(task));
    } else {
      task();
    }
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    batches_.pop_front();
    Next();
  }
  void OnDone() override { delete this; }

 private:
  // An exception from backend code becomes Unknown; it never reaches gRPC.
  Status CollectGuarded(const Collect& collect) {
    return Guard([&] { return collect(batches_); });
  }

  void Next() {
    if (batches_.empty()) {
      this->Finish(grpc::Status::OK);
      return;
    }
    this->StartWrite(&batches_.front());
  }

  std::deque<Response> batches_;
};

}  // namespace berth::grpc_util

#endif  // BERTH_GRPC_BATCHED_LIST_H_
