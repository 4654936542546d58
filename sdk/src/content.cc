// Out-of-line parts of the content interface: key functions (anchoring the
// vtables in libberth-sdk.so), validation and filter adaptors.
#include "berth/content.h"

namespace berth {

ContentReader::~ContentReader() = default;
ContentWriter::~ContentWriter() = default;
ContentStore::~ContentStore() = default;

// A ref is a name: containerd accepts any non-empty one, and berth stores
// ingests under a hash of it, so no ref ever reaches the filesystem as a path.
Status ValidateRef(std::string_view ref) {
  if (ref.empty()) return Status::InvalidArgument("ref must not be empty");
  if (ref.size() > kMaxRefLength) {
    return Status::InvalidArgument("invalid ref \"" + std::string(ref.substr(0, 80)) +
                                   "...\": longer than " + std::to_string(kMaxRefLength) +
                                   " bytes");
  }
  return Status::Ok();
}

Status ValidateLabels(const Labels& labels) {
  std::size_t total = 0;
  for (const auto& [k, v] : labels) {
    total += k.size() + v.size();
    if (k.empty()) return Status::InvalidArgument("label key must not be empty");
    if (k.size() + v.size() > kMaxLabelSize) {
      return Status::InvalidArgument(
          "label key and value greater than maximum size (" +
          std::to_string(kMaxLabelSize) + " bytes), key: " + k.substr(0, 80));
    }
  }
  if (total > kMaxLabelsSize) {
    return Status::InvalidArgument("labels total " + std::to_string(total) +
                                   " bytes, more than the maximum of " +
                                   std::to_string(kMaxLabelsSize) + " bytes per record");
  }
  return Status::Ok();
}

Status ApplyLabelUpdate(Labels& to, const Labels& from,
                        const std::vector<std::string>& fieldpaths) {
  if (fieldpaths.empty()) {
    to = from;
    return Status::Ok();
  }
  for (const std::string& path : fieldpaths) {
    if (path == "labels") {
      to = from;
      continue;
    }
    constexpr std::string_view kPrefix = "labels.";
    if (path.compare(0, kPrefix.size(), kPrefix) == 0 &&
        path.size() > kPrefix.size()) {
      std::string key = path.substr(kPrefix.size());
      auto it = from.find(key);
      if (it == from.end()) {
        to.erase(key);
      } else {
        to[key] = it->second;
      }
      continue;
    }
    return Status::InvalidArgument("cannot update \"" + path +
                                   "\" field on content info");
  }
  return Status::Ok();
}

namespace {

std::optional<std::string> LookUpLabel(const Labels& labels,
                                       const std::vector<std::string>& path) {
  std::string key;
  for (std::size_t i = 1; i < path.size(); ++i) {
    if (i > 1) key += '.';
    key += path[i];
  }
  auto it = labels.find(key);
  if (it == labels.end()) return std::nullopt;
  return it->second;
}

}  // namespace

filters::Adaptor AdaptContentInfo(const ContentInfo& info) {
  return [&info](const std::vector<std::string>& path) -> std::optional<std::string> {
    if (path.empty()) return std::nullopt;
    if (path[0] == "digest") return info.digest;
    if (path[0] == "labels") return LookUpLabel(info.labels, path);
    return std::nullopt;
  };
}

filters::Adaptor AdaptIngestStatus(const IngestStatus& status) {
  return [&status](const std::vector<std::string>& path) -> std::optional<std::string> {
    if (!path.empty() && path[0] == "ref") return status.ref;
    return std::nullopt;
  };
}

}  // namespace berth
