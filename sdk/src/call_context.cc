// The per-thread call context (berth/call_context.h). It lives here, in
// libberth-sdk.so, so the host and every plugin library see one variable.
#include "berth/call_context.h"

#include <utility>

namespace berth {
namespace {

thread_local const CallContext* current = nullptr;

}  // namespace

const CallContext& CurrentCall() {
  static const CallContext kNone;
  return current != nullptr ? *current : kNone;
}

CallScope::CallScope(CallContext context) : context_(std::move(context)), enclosing_(current) {
  current = &context_;
}

CallScope::~CallScope() { current = enclosing_; }

}  // namespace berth
