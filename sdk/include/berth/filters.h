// containerd's filter language, for List/Walk calls and introspection.
//
//   labels."com.example/a"==b,name~=^foo    one filter: selectors AND'd
//   ["kind==active", "parent==x"]           several filters: OR'd
//
// A selector is `fieldpath`, `fieldpath==value`, `fieldpath!=value` or
// `fieldpath~=regex` (RE2/ECMAScript-compatible subset). A fieldpath is
// dot-separated; a component may be double-quoted (or /-quoted) to hold dots.
// Values may be bare or quoted. A bare `fieldpath` matches when present.
// Parsed filters are immutable and thread-safe.
#ifndef BERTH_FILTERS_H_
#define BERTH_FILTERS_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "berth/status.h"

namespace berth::filters {

// Looks a field path up on the object being matched ({"labels", "a"}).
// Returns nullopt when the object has no such field.
using Adaptor =
    std::function<std::optional<std::string>(const std::vector<std::string>&)>;

class Filter {
 public:
  class Node;
  Filter();  // matches everything
  explicit Filter(std::shared_ptr<const Node> root);
  bool Match(const Adaptor& adaptor) const;

 private:
  std::shared_ptr<const Node> root_;
};

// Parses one filter string. InvalidArgument names the position of the fault,
// e.g. `filters: parse error: [labels."a"==] ... at 12: expected value`.
Result<Filter> Parse(std::string_view expr);

// Parses each string and ORs them; no strings (or only empty ones) match all.
Result<Filter> ParseAll(const std::vector<std::string>& exprs);

}  // namespace berth::filters

#endif  // BERTH_FILTERS_H_
