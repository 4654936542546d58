// Serving one gRPC call: its CallContext, derived from the server context
// once and validated in one place, and the unary form of "run the body on
// an executor, guarded, then finish". Part of libberth-grpc.
//
//   grpc::ServerUnaryReactor* Stat(grpc::CallbackServerContext* ctx, const Req* req,
//                                  Resp* resp) override {
//     return ServeUnary(ctx, rules_, [=](const CallContext& call) -> Status { ... });
//   }
//
// The body runs on the executor with the call's CallScope open (so a proxy
// backend forwards its namespace and lease), inside Guard (an exception
// becomes Unknown). Request and response messages live until the call
// finishes, so the body may use them.
//
// Thread-safe (pure functions; the executor is thread-safe).
#ifndef BERTH_GRPC_CALL_H_
#define BERTH_GRPC_CALL_H_

#include <grpcpp/grpcpp.h>

#include <functional>

#include "berth/call_context.h"
#include "berth/executor.h"
#include "berth/status.h"

namespace berth::grpc_util {

// How a server treats the containerd-namespace header.
struct CallRules {
  // Whether every call must name a namespace (berthd's services) or may
  // carry none (a standalone plugin server, whose peer keeps namespaces apart
  // by key).
  bool namespace_required = true;
  // Where bodies run; nullptr = Executor::Shared().
  Executor* executor = nullptr;

  Executor& RunOn() const { return executor != nullptr ? *executor : Executor::Shared(); }
};

// The call's namespace (containerd-namespace), lease (containerd-lease) and
// deadline. A missing or empty namespace is FailedPrecondition "namespace is
// required" when `rules` require one (containerd's answer); a namespace that
// is not a valid identifier is InvalidArgument naming it.
Result<CallContext> CallContextOf(const grpc::ServerContextBase& context, const CallRules& rules);

// Runs `body` on the rules' executor (see the header comment) and finishes
// the call with the Status it returns; a context that does not validate
// finishes the call without running it.
using UnaryBody = std::function<Status(const CallContext& call)>;
grpc::ServerUnaryReactor* ServeUnary(grpc::CallbackServerContext* context, const CallRules& rules,
                                     UnaryBody body);

// Runs `body` for a cheap read of a local backend (a record lookup, a
// stat(2): Stat, Mounts, Info) on the calling gRPC thread, with the call's
// CallScope open and inside Guard, when `local` is true (berth/locality.h);
// on the executor, as ServeUnary does, otherwise. A thread hop and its
// wake-ups cost such a read more than the read itself.
grpc::ServerUnaryReactor* ServeRead(grpc::CallbackServerContext* context, const CallContext& call,
                                    const CallRules& rules, bool local, UnaryBody body);

// Ends a unary call with `status` at once, on the calling thread.
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context, const Status& status);

}  // namespace berth::grpc_util

#endif  // BERTH_GRPC_CALL_H_
