// Pieces the serving services (serve.h) share. Internal to libberth-grpc.
#ifndef BERTH_SDK_SRC_GRPC_SERVER_UTIL_H_
#define BERTH_SDK_SRC_GRPC_SERVER_UTIL_H_

#include <functional>
#include <utility>

#include "berth/grpc/batched_list.h"
#include "berth/grpc/call.h"
#include "berth/grpc/status.h"

namespace berth::grpc_util::internal {

// The BatchedListReactor runner that puts collections on the rules' executor.
inline BatchedListReactorRunner RunnerOf(const CallRules& rules) {
  Executor* executor = &rules.RunOn();
  return [executor](std::function<void()> task) { executor->Submit(std::move(task)); };
}

}  // namespace berth::grpc_util::internal

namespace berth::grpc_util {

// A server stream that ends at once with `status` (a call whose context
// did not validate).
template <typename Response>
class FailedStream final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit FailedStream(const Status& status) { this->Finish(ToGrpc(status)); }
  void OnDone() override { delete this; }
};

template <typename Request, typename Response>
class FailedBidi final : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit FailedBidi(const Status& status) { this->Finish(ToGrpc(status)); }
  void OnDone() override { delete this; }
};

}  // namespace berth::grpc_util

#endif  // BERTH_SDK_SRC_GRPC_SERVER_UTIL_H_
