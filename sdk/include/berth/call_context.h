// CallContext: who a plugin call is made for, when the host serves a client.
//
// The SDK interfaces (Snapshotter, ContentStore) take no context argument:
// namespaces are the host's business (its metadata layer hands backends
// keys like "<ns>/<seq>/<key>"). A few plugins still need the client's
// namespace and lease, e.g. a proxy that forwards them to another daemon as
// containerd's `containerd-namespace` and `containerd-lease` headers. The
// host's services therefore open a CallScope around every call into a
// backend made on behalf of a client; the plugin reads CurrentCall() on the
// same thread.
//
//   berth::CallScope scope({.ns = "default", .lease = ""});
//   backend->Stat(key);   // CurrentCall().ns == "default" inside
//
// Outside any scope (at init, in garbage collection, on a plugin's own
// threads) CurrentCall() is empty. A plugin that hands work to another
// thread copies the context it needs first (a proxy's stream keeps the
// context it was opened with). Scopes nest; the innermost wins.
//
// A server derives the context from its call once, validated, in one place:
// berth/grpc/call.h for gRPC, berth/ttrpc for ttrpc.
//
// Thread-safety: the context is per thread; CallScope must be destroyed on
// the thread that made it, in reverse order of creation.
#ifndef BERTH_CALL_CONTEXT_H_
#define BERTH_CALL_CONTEXT_H_

#include <chrono>
#include <string>

namespace berth {

struct CallContext {
  using Clock = std::chrono::system_clock;
  std::string ns;     // the client's namespace; "" = none
  std::string lease;  // the client's lease; "" = none
  // When the client stops waiting; time_point::max() = never.
  Clock::time_point deadline = Clock::time_point::max();
};

// The context of the innermost CallScope alive on this thread, or an empty
// context when there is none. The reference is valid until that scope ends.
const CallContext& CurrentCall();

// Makes `context` current on this thread for the scope's lifetime.
class CallScope {
 public:
  explicit CallScope(CallContext context);
  ~CallScope();  // restores the enclosing context
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

 private:
  CallContext context_;
  const CallContext* enclosing_;
};

}  // namespace berth

#endif  // BERTH_CALL_CONTEXT_H_
