// ReadStream<Response>: the client side of a server-streaming call (List,
// Read) with one message requested at a time, so the peer never runs ahead
// of the reader by more than gRPC's flow-control window, and every step
// bounded by the channel's timeout (see ProxyChannel).
//
//   ReadStream<ListSnapshotsResponse> s(channel, [&](auto* ctx, auto* cq) {
//     return stub->PrepareAsyncList(ctx, request, cq);
//   });
//   while (s.Next(response)) ...;
//   if (!s.status().ok()) ...;
//
// The destructor cancels a stream that has not ended and waits for it.
// Not thread-safe (one owner).
#ifndef BERTH_PROXY_CLIENT_READ_STREAM_H_
#define BERTH_PROXY_CLIENT_READ_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>

#include "berth/status.h"
#include "channel.h"

namespace berth::proxy {

template <typename Response>
class ReadStream {
 public:
  using Reader = grpc::ClientAsyncReader<Response>;
  using Prepare =
      std::function<std::unique_ptr<Reader>(grpc::ClientContext*, grpc::CompletionQueue*)>;

  // Starts the call with the calling thread's context (or `call`).
  ReadStream(const ProxyChannel& channel, const Prepare& prepare,
             const CallContext& call = CurrentCall())
      : channel_(channel), ctx_(channel.StreamContext(call)), steps_(channel.timeout()) {
    reader_ = prepare(ctx_.get(), steps_.cq());
    reader_->StartCall(steps_.tag());
    if (!steps_.Await(*ctx_)) Finish();
  }
  ~ReadStream() {
    if (done_) return;
    ctx_->TryCancel();
    Finish();
  }
  ReadStream(const ReadStream&) = delete;
  ReadStream& operator=(const ReadStream&) = delete;

  // Reads the next message into `out`: true when there was one, false once
  // the stream ended (status() says how).
  bool Next(Response& out) {
    if (done_) return false;
    reader_->Read(&out, steps_.tag());
    if (steps_.Await(*ctx_)) return true;
    Finish();
    return false;
  }

  // Ends the stream early (the peer sees a cancellation).
  void Cancel() {
    if (done_) return;
    ctx_->TryCancel();
    Finish();
    status_ = Status::Ok();
  }

  bool done() const { return done_; }
  // OK while running and after a clean end.
  const Status& status() const { return status_; }

 private:
  void Finish() {
    grpc::Status s;
    reader_->Finish(&s, steps_.tag());
    (void)steps_.Await(*ctx_);
    status_ = s.ok() && !steps_.overran() ? Status::Ok() : channel_.Error(s, steps_.overran());
    done_ = true;
  }

  const ProxyChannel& channel_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  StepQueue steps_;
  std::unique_ptr<Reader> reader_;
  bool done_ = false;
  Status status_;
};

}  // namespace berth::proxy

#endif  // BERTH_PROXY_CLIENT_READ_STREAM_H_
