// containerd's identifiers: the names of namespaces, containers and other
// objects that a client picks and berth stores (containerd's
// pkg/identifiers). Thread-safe (pure functions).
#ifndef BERTH_IDENTIFIERS_H_
#define BERTH_IDENTIFIERS_H_

#include <cstddef>
#include <string_view>

#include "berth/status.h"

namespace berth {

// The longest identifier containerd accepts.
inline constexpr std::size_t kMaxIdentifierLength = 76;

// OK for letters and digits with single '.', '_' or '-' between them
// (^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$), at most kMaxIdentifierLength
// bytes; InvalidArgument with containerd's wording otherwise.
Status ValidateIdentifier(std::string_view id);

}  // namespace berth

#endif  // BERTH_IDENTIFIERS_H_
