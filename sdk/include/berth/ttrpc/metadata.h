// ttrpc request metadata, and berth's CallContext read from it.
//
// Metadata travels as repeated key/value pairs in each Request; a key may
// repeat. containerd puts the namespace in `containerd-namespace-ttrpc`; berth
// forwards a lease as `containerd-lease` (the gRPC header's name).
//
// Value types and pure functions; thread-safe as values.
#ifndef BERTH_TTRPC_METADATA_H_
#define BERTH_TTRPC_METADATA_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "berth/call_context.h"

namespace berth::ttrpc {

// Key → values, in the order received for equal keys.
using Metadata = std::multimap<std::string, std::string, std::less<>>;

inline constexpr std::string_view kNamespaceKey = "containerd-namespace-ttrpc";
inline constexpr std::string_view kLeaseKey = "containerd-lease";

// The first value of `key`, if any. Keys compare exactly; containerd sends
// them lower-case.
std::optional<std::string> FirstValue(const Metadata& metadata, std::string_view key);

// {ns, lease} from the namespace and lease keys; empty strings when absent.
CallContext CallContextFromMetadata(const Metadata& metadata);

// Adds `context`'s namespace and lease (those not empty) to `metadata`,
// replacing values already there for those keys.
void SetCallContext(const CallContext& context, Metadata* metadata);

}  // namespace berth::ttrpc

#endif  // BERTH_TTRPC_METADATA_H_
