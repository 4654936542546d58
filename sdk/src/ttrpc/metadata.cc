#include "berth/ttrpc/metadata.h"

#include <string>

namespace berth::ttrpc {

std::optional<std::string> FirstValue(const Metadata& metadata, std::string_view key) {
  auto it = metadata.find(key);
  if (it == metadata.end()) return std::nullopt;
  return it->second;
}

CallContext CallContextFromMetadata(const Metadata& metadata) {
  return CallContext{.ns = FirstValue(metadata, kNamespaceKey).value_or(""),
                     .lease = FirstValue(metadata, kLeaseKey).value_or("")};
}

void SetCallContext(const CallContext& context, Metadata* metadata) {
  auto set = [metadata](std::string_view key, const std::string& value) {
    if (value.empty()) return;
    auto [first, last] = metadata->equal_range(key);
    metadata->erase(first, last);
    metadata->emplace(std::string(key), value);
  };
  set(kNamespaceKey, context.ns);
  set(kLeaseKey, context.lease);
}

}  // namespace berth::ttrpc
