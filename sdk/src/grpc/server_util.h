// Pieces the serving services (serve.h) share: a guard that turns an
// exception thrown by backend code into a Status, the unary "done" reactor
// (and, from batched_list.h, the List stream reactor). Internal to libberth-grpc.
// Each reactor is driven by gRPC, one reaction at a time.
#ifndef BERTH_SDK_SRC_GRPC_SERVER_UTIL_H_
#define BERTH_SDK_SRC_GRPC_SERVER_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <exception>
#include <functional>
#include <string>
#include <utility>

#include "berth/grpc/batched_list.h"
#include "berth/grpc/status.h"
#include "berth/status.h"

namespace berth::grpc_util::internal {

// Calls backend code; an exception it throws becomes Unknown (exceptions
// never cross into gRPC's threads). `fn` returns a Status or a Result<T>.
template <typename Fn>
auto Guarded(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return Status::Unknown(std::string("backend threw: ") + e.what());
  } catch (...) {
    return Status::Unknown("backend threw a non-standard exception");
  }
}

// Ends a unary call with `s`.
inline grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const Status& s) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpc(s));
  return reactor;
}

using grpc_util::BatchedListReactor;

}  // namespace berth::grpc_util::internal

#endif  // BERTH_SDK_SRC_GRPC_SERVER_UTIL_H_
