#include "metadata/record_counts.h"

#include <map>
#include <string_view>
#include <tuple>

namespace berth::host::metadata {
namespace {

// Which family a record under "v1/n/<ns>/" counts in, and its second label
// (the snapshotter), from the part after "<ns>/"; "" when it counts in none.
std::pair<std::string_view, std::string_view> FamilyOf(std::string_view rest) {
  auto next = [&rest]() {
    std::size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    return part;
  };
  std::string_view kind = next();
  if (kind == "content") {
    std::string_view sub = next();
    if (sub == "blob") return {"content_blobs", ""};
    if (sub == "ingest") return {"content_ingests", ""};
  } else if (kind == "snapshots") {
    std::string_view snapshotter = next();
    if (!rest.empty()) return {"snapshots", snapshotter};
  } else if (kind == "containers" || kind == "images") {
    return {kind, ""};
  } else if (kind == "leases") {
    next();
    if (rest.empty()) return {"leases", ""};  // the lease, not a resource it holds
  }
  return {"", ""};
}

constexpr std::pair<std::string_view, std::string_view> kFamilies[] = {
    {"content_blobs", "Content blobs recorded, by namespace."},
    {"content_ingests", "Ingests open, by namespace."},
    {"snapshots", "Snapshots recorded, by namespace and snapshotter."},
    {"containers", "Containers, by namespace."},
    {"images", "Images, by namespace."},
    {"leases", "Leases, by namespace."},
};

}  // namespace

std::string RecordCountsText(const MetadataStore& db) {
  // (family, namespace, snapshotter) → count
  std::map<std::tuple<std::string, std::string, std::string>, long> counts;
  const std::string_view root = keys::kNamespaceDataRoot;
  Status scan = db.Scan(root, [&](std::string_view key, std::string_view) {
    std::string_view rest = key.substr(root.size());
    std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return true;
    auto [family, snapshotter] = FamilyOf(rest.substr(slash + 1));
    if (!family.empty()) {
      ++counts[{std::string(family), std::string(rest.substr(0, slash)), std::string(snapshotter)}];
    }
    return true;
  });
  if (!scan.ok()) return "";
  std::string out;
  for (const auto& [family, help] : kFamilies) {
    const std::string name = "berth_metadata_" + std::string(family);
    out += "# HELP " + name + " " + std::string(help) + "\n# TYPE " + name + " gauge\n";
    for (const auto& [labels, n] : counts) {
      const auto& [f, ns, snapshotter] = labels;
      if (f != family) continue;
      out += name + "{namespace=\"" + ns + "\"";
      if (!snapshotter.empty()) out += ",snapshotter=\"" + snapshotter + "\"";
      out += "} " + std::to_string(n) + "\n";
    }
  }
  return out;
}

}  // namespace berth::host::metadata
