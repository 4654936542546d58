// The out-of-line parts of berth/snapshotter.h: the interface's key function
// (one vtable and type_info for the process) and the value-type helpers.
#include "berth/snapshotter.h"

#include <algorithm>
#include <cctype>

namespace berth {
namespace snapshots {

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kView:
      return "View";
    case Kind::kActive:
      return "Active";
    case Kind::kCommitted:
      return "Committed";
    case Kind::kUnknown:
      break;
  }
  return "Unknown";
}

Kind ParseKind(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (lower == "view") return Kind::kView;
  if (lower == "active") return Kind::kActive;
  if (lower == "committed") return Kind::kCommitted;
  return Kind::kUnknown;
}

Labels FilterInheritedLabels(const Labels& labels) {
  Labels out;
  for (const auto& [k, v] : labels) {
    if (std::string_view(k).starts_with(kInheritedLabelPrefix) ||
        k == kLabelSnapshotRef) {
      out.emplace(k, v);
    }
  }
  return out;
}

filters::Adaptor AdaptInfo(const Info& info) {
  return [info](const std::vector<std::string>& path) -> std::optional<std::string> {
    if (path.empty()) return std::nullopt;
    const std::string& field = path[0];
    if (field == "name") return info.name;
    if (field == "parent") return info.parent;
    if (field == "kind") {
      switch (info.kind) {
        case Kind::kView:
          return "view";
        case Kind::kActive:
          return "active";
        case Kind::kCommitted:
          return "committed";
        case Kind::kUnknown:
          return std::nullopt;
      }
    }
    if (field == "labels") {
      std::string key;
      for (size_t i = 1; i < path.size(); ++i) {
        if (i > 1) key += '.';
        key += path[i];
      }
      auto it = info.labels.find(key);
      if (it == info.labels.end()) return std::nullopt;
      return it->second;
    }
    return std::nullopt;
  };
}

Status ApplyUpdate(const Info& update, const std::vector<std::string>& fieldpaths,
                   Info& current) {
  Labels labels = current.labels;
  if (fieldpaths.empty()) {
    labels = update.labels;
  }
  for (const auto& path : fieldpaths) {
    constexpr std::string_view kPrefix = "labels.";
    if (std::string_view(path).starts_with(kPrefix)) {
      std::string key = path.substr(kPrefix.size());
      auto it = update.labels.find(key);
      if (it == update.labels.end() || it->second.empty()) {
        labels.erase(key);
      } else {
        labels[key] = it->second;
      }
    } else if (path == "labels") {
      labels = update.labels;
    } else {
      return Status::InvalidArgument("cannot update \"" + path +
                                     "\" field on snapshot \"" + update.name +
                                     "\"");
    }
  }
  // An empty value means "no such label", as containerd stores labels.
  std::erase_if(labels, [](const auto& kv) { return kv.second.empty(); });
  current.labels = std::move(labels);
  return Status::Ok();
}

}  // namespace snapshots

Snapshotter::~Snapshotter() = default;

Status Snapshotter::Cleanup() {
  return Status::NotImplemented("snapshotter does not implement Cleanup method");
}

}  // namespace berth
