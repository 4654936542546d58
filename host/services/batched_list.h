// BatchedListReactor: the server side of a List-style stream. The listing is
// collected up front into batches (one response message each), then written
// one batch at a time; the reactor deletes itself when the call is done.
// A client that goes away mid-stream ends the call as CANCELLED.
// Each reactor is driven by gRPC, one callback at a time.
#ifndef BERTH_HOST_SERVICES_BATCHED_LIST_H_
#define BERTH_HOST_SERVICES_BATCHED_LIST_H_

#include <deque>
#include <functional>

#include <grpcpp/grpcpp.h>

#include "berth/status.h"
#include "services/grpc_status.h"

namespace berth::host {

template <typename Response>
class BatchedListReactor final : public grpc::ServerWriteReactor<Response> {
 public:
  // Fills the batches; a non-OK Status ends the call with it.
  using Collect = std::function<Status(std::deque<Response>& batches)>;

  explicit BatchedListReactor(const Collect& collect) {
    Status s = collect(batches_);
    if (!s.ok()) {
      this->Finish(ToGrpc(s));
      return;
    }
    Next();
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
  void Next() {
    if (batches_.empty()) {
      this->Finish(grpc::Status::OK);
      return;
    }
    this->StartWrite(&batches_.front());
  }

  std::deque<Response> batches_;
};

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_BATCHED_LIST_H_
