// Any: a protobuf google.protobuf.Any carried opaquely (its type URL and
// serialised bytes), so that SDK faces can hold containerd's typed payloads
// (runtime options, OCI specs, events) without linking protobuf. Value type.
#ifndef BERTH_ANY_H_
#define BERTH_ANY_H_

#include <string>

namespace berth {

struct Any {
  std::string type_url;  // e.g. "types.containerd.io/opencontainers/runtime-spec/1/Spec"
  std::string value;     // the message's wire bytes
  bool empty() const { return type_url.empty() && value.empty(); }
  bool operator==(const Any&) const = default;
};

}  // namespace berth

#endif  // BERTH_ANY_H_
