#include "berth/grpc/call.h"

#include <string>
#include <utility>

#include "berth/grpc/status.h"
#include "berth/identifiers.h"

namespace berth::grpc_util {
namespace {

std::string MetadataValue(const grpc::ServerContextBase& context, const char* key) {
  const auto& md = context.client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

Result<CallContext> CallContextOf(const grpc::ServerContextBase& context, const CallRules& rules) {
  CallContext call;
  call.ns = MetadataValue(context, kNamespaceHeader);
  if (call.ns.empty()) {
    if (rules.namespace_required) return Status::FailedPrecondition("namespace is required");
  } else if (Status s = ValidateIdentifier(call.ns); !s.ok()) {
    return s.Annotate("namespace");
  }
  call.lease = MetadataValue(context, kLeaseHeader);
  auto deadline = context.deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) call.deadline = deadline;
  return call;
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context, const Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpc(status));
  return reactor;
}

grpc::ServerUnaryReactor* ServeRead(grpc::CallbackServerContext* context, const CallContext& call,
                                    const CallRules& rules, bool local, UnaryBody body) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto run = [reactor, call, body = std::move(body)] {
    Status s;
    {
      CallScope scope(call);
      s = Guard([&] { return body(call); });
    }
    reactor->Finish(ToGrpc(s));
  };
  if (local) {
    run();
  } else {
    rules.RunOn().Submit(std::move(run));
  }
  return reactor;
}

grpc::ServerUnaryReactor* ServeUnary(grpc::CallbackServerContext* context, const CallRules& rules,
                                     UnaryBody body) {
  auto call = CallContextOf(*context, rules);
  if (!call.ok()) return FinishNow(context, call.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  rules.RunOn().Submit([reactor, call = std::move(*call), body = std::move(body)] {
    Status s;
    {
      CallScope scope(call);
      s = Guard([&] { return body(call); });
    }
    reactor->Finish(ToGrpc(s));
  });
  return reactor;
}

}  // namespace berth::grpc_util
