#include "metadata/gc.h"

#include <algorithm>

#include "containerd/services/content/v1/content.pb.h"
#include "containerd/services/leases/v1/leases.pb.h"
#include "containerd/services/snapshots/v1/snapshots.pb.h"
#include "metadata/leases.h"

namespace berth::host::metadata {
namespace {

namespace cpb = containerd::services::content::v1;
namespace spb = containerd::services::snapshots::v1;

constexpr std::uint8_t kFlatMark = 1;
constexpr std::uint8_t kFullMark = 2;

constexpr std::string_view kLabelGcPrefix = "containerd.io/gc.";
constexpr std::string_view kLabelContentRef = "containerd.io/gc.ref.content";
constexpr std::string_view kLabelSnapshotRef = "containerd.io/gc.ref.snapshot.";

// Node ids: a type letter, the namespace, NUL, the key.
std::string ContentId(std::string_view ns, std::string_view digest) {
  std::string id = "c";
  id.append(ns).push_back('\0');
  return id.append(digest);
}
std::string SnapshotId(std::string_view ns, std::string_view snapshotter, std::string_view key) {
  std::string id = "s";
  id.append(ns).push_back('\0');
  return id.append(snapshotter).append("/").append(key);
}
std::string IngestId(std::string_view ns, std::string_view ref) {
  std::string id = "i";
  id.append(ns).push_back('\0');
  return id.append(ref);
}

bool Expired(const Labels& labels, Timestamp now) {
  auto it = labels.find(std::string(kLabelGcExpire));
  if (it == labels.end()) return false;
  auto when = ParseRfc3339(it->second);
  return when.has_value() && *when < now;  // a malformed value is ignored
}

// Splits "<head>/<tail>"; false when there is no "/".
bool Split(std::string_view s, std::string_view& head, std::string_view& tail) {
  std::size_t slash = s.find('/');
  if (slash == std::string_view::npos) return false;
  head = s.substr(0, slash);
  tail = s.substr(slash + 1);
  return true;
}

template <typename Proto>
bool Parse(Proto& pb, std::string_view value) {
  return pb.ParseFromArray(value.data(), static_cast<int>(value.size()));
}

}  // namespace

class GcCollection::Sink final : public GcRootSink {
 public:
  explicit Sink(GcCollection& c) : c_(c) {}
  void Content(std::string_view ns, std::string_view digest) override {
    c_.roots_.emplace_back(ContentId(ns, digest), false);
  }
  void Snapshot(std::string_view ns, std::string_view snapshotter, std::string_view key) override {
    c_.roots_.emplace_back(SnapshotId(ns, snapshotter, key), false);
  }
  void LabelRefs(std::string_view ns, const Labels& labels) override {
    std::vector<std::string> refs;
    c_.AddLabelRefs(ns, labels, refs);
    for (std::string& r : refs) c_.roots_.emplace_back(std::move(r), false);
  }

 private:
  GcCollection& c_;
};

void GcCollection::AddLabelRefs(std::string_view ns, const Labels& labels,
                                std::vector<std::string>& out) {
  for (auto it = labels.lower_bound(std::string(kLabelContentRef));
       it != labels.end() && it->first.compare(0, kLabelContentRef.size(), kLabelContentRef) == 0;
       ++it) {
    // The bare label, or a name after "." or "/".
    if (it->first.size() > kLabelContentRef.size() && it->first[kLabelContentRef.size()] != '.' &&
        it->first[kLabelContentRef.size()] != '/') {
      continue;
    }
    out.push_back(ContentId(ns, it->second));
  }
  for (auto it = labels.lower_bound(std::string(kLabelSnapshotRef));
       it != labels.end() && it->first.compare(0, kLabelSnapshotRef.size(), kLabelSnapshotRef) == 0;
       ++it) {
    std::string_view snapshotter = std::string_view(it->first).substr(kLabelSnapshotRef.size());
    snapshotter = snapshotter.substr(0, snapshotter.find('/'));
    out.push_back(SnapshotId(ns, snapshotter, it->second));
  }
}

Status GcCollection::Mark(const MetadataStore& db, const GcKindScanners& scanners, Timestamp now) {
  Status bad;
  BERTH_RETURN_IF_ERROR(
      db.Scan(keys::kNamespaceDataRoot, [&](std::string_view key, std::string_view value) {
        bad = ScanRecord(key, value, scanners, now);
        return bad.ok();
      }));
  BERTH_RETURN_IF_ERROR(bad);
  AddLeaseRoots();
  Walk();
  return Status::Ok();
}

Status GcCollection::ScanRecord(std::string_view key, std::string_view value,
                                const GcKindScanners& scanners, Timestamp now) {
  std::string_view ns, kind, after_ns, rest;
  if (!Split(key.substr(keys::kNamespaceDataRoot.size()), ns, after_ns) ||
      !Split(after_ns, kind, rest)) {
    return Status::Ok();  // not a record of any kind
  }
  if (kind == "content") return ScanContent(ns, rest, key, value, now);
  if (kind == "snapshots") return ScanSnapshot(ns, rest, key, value);
  if (kind == "leases") return ScanLease(ns, rest, key, value, now);
  if (kind == "snapshot-children") {
    ScanChild(ns, rest, key);
    return Status::Ok();
  }
  auto scanner = scanners.find(kind);
  if (scanner == scanners.end()) return Status::Ok();
  Sink sink(*this);
  return scanner->second(ns, rest, value, sink);
}

Status GcCollection::ScanContent(std::string_view ns, std::string_view rest, std::string_view key,
                                 std::string_view value, Timestamp now) {
  std::string_view sub, name;
  if (!Split(rest, sub, name)) return Status::Ok();
  if (sub == "blob") {
    Node& node = nodes_[ContentId(ns, name)];
    node.record_key = key;
    node.extra_keys.push_back(keys::ContentIndex(name, ns));
    node.backend = kContentBackend;
    // Most blobs carry no gc label: skip decoding them.
    if (value.find(kLabelGcPrefix) == std::string_view::npos) return Status::Ok();
    cpb::Info info;
    if (!Parse(info, value)) return Status::Unknown("corrupt content record " + std::string(key));
    Labels labels(info.labels().begin(), info.labels().end());
    AddLabelRefs(ns, labels, node.refs);
    if (labels.count(std::string(kLabelGcRoot))) roots_.emplace_back(ContentId(ns, name), false);
    return Status::Ok();
  }
  if (sub == "ingest") {
    cpb::Info info;
    if (!Parse(info, value)) return Status::Unknown("corrupt ingest record " + std::string(key));
    const std::string id = IngestId(ns, name);
    Node& node = nodes_[id];
    node.record_key = key;
    node.backend = kContentBackend;
    if (!info.digest().empty()) node.refs.push_back(ContentId(ns, info.digest()));
    Labels labels(info.labels().begin(), info.labels().end());
    if (labels.count(std::string(kLabelGcExpire)) && !Expired(labels, now)) {
      roots_.emplace_back(id, false);
    }
  }
  return Status::Ok();
}

Status GcCollection::ScanSnapshot(std::string_view ns, std::string_view rest, std::string_view key,
                                  std::string_view value) {
  std::string_view snapshotter, name;
  if (!Split(rest, snapshotter, name)) return Status::Ok();
  spb::Info info;
  if (!Parse(info, value)) return Status::Unknown("corrupt snapshot record " + std::string(key));
  const std::string id = SnapshotId(ns, snapshotter, name);
  Node& node = nodes_[id];
  node.record_key = key;
  node.backend = SnapshotterBackend(snapshotter);
  if (!info.parent().empty()) {
    node.parent = SnapshotId(ns, snapshotter, info.parent());
    node.extra_keys.push_back(keys::SnapshotChild(ns, snapshotter, info.parent(), name));
  }
  if (info.labels().empty()) return Status::Ok();
  Labels labels(info.labels().begin(), info.labels().end());
  AddLabelRefs(ns, labels, node.refs);
  if (labels.count(std::string(kLabelGcRoot))) roots_.emplace_back(id, false);
  return Status::Ok();
}

Status GcCollection::ScanLease(std::string_view ns, std::string_view rest, std::string_view key,
                               std::string_view value, Timestamp now) {
  std::string_view id = rest, resource;
  const bool is_resource = Split(rest, id, resource);
  LeaseScan& lease = leases_[{std::string(ns), std::string(id)}];
  if (is_resource) {
    std::string_view type, rid;
    if (Split(resource, type, rid) && type == "snapshots") {
      std::string_view snapshotter;
      if (Split(rid, snapshotter, rid)) {
        lease.resources.emplace_back(SnapshotResourceType(snapshotter), rid);
      }
    } else if (!type.empty()) {
      lease.resources.emplace_back(type, rid);
    }
    lease.resource_keys.emplace_back(key);
    return Status::Ok();
  }
  containerd::services::leases::v1::Lease pb;
  if (!Parse(pb, value)) return Status::Unknown("corrupt lease record " + std::string(key));
  Labels labels(pb.labels().begin(), pb.labels().end());
  lease.has_record = true;
  lease.live = !Expired(labels, now);
  lease.flat = labels.count(std::string(kLabelGcFlat)) > 0;
  return Status::Ok();
}

void GcCollection::ScanChild(std::string_view ns, std::string_view rest, std::string_view key) {
  // "<snapshotter>/<n>/<parent>/<child>", the parent n bytes long.
  std::string_view snapshotter, sized, length;
  if (!Split(rest, snapshotter, sized) || !Split(sized, length, sized)) return;
  std::size_t n = 0;
  for (char c : length) {
    if (c < '0' || c > '9') return;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  if (sized.size() < n + 1 || sized[n] != '/') return;
  children_.push_back(ChildEntry{std::string(key), SnapshotId(ns, snapshotter, sized.substr(n + 1)),
                                 std::string(sized.substr(0, n))});
}

void GcCollection::AddLeaseRoots() {
  for (auto& [name, lease] : leases_) {
    const std::string& ns = name.first;
    if (!lease.has_record) continue;  // stray resource keys: swept below
    std::string id = "l";
    id.append(ns).push_back('\0');
    id.append(name.second);
    Node& node = nodes_[id];
    node.record_key = keys::LeasePrefix(ns) + name.second;  // name.second is escaped
    node.extra_keys = std::move(lease.resource_keys);
    if (!lease.live) continue;
    roots_.emplace_back(id, false);
    for (const auto& [type, rid] : lease.resources) {
      if (type == kResourceContent) {
        roots_.emplace_back(ContentId(ns, rid), lease.flat);
      } else if (type == kResourceIngests) {
        roots_.emplace_back(IngestId(ns, rid), false);  // keeps its blob even when flat
      } else {
        roots_.emplace_back(SnapshotId(ns, type.substr(type.find('/') + 1), rid), lease.flat);
      }
    }
  }
}

void GcCollection::Walk() {
  std::vector<std::pair<Node*, bool>> grays;
  auto push = [&](const std::string& id, bool flat) {
    auto it = nodes_.find(id);
    if (it != nodes_.end()) grays.emplace_back(&it->second, flat);
  };
  for (const auto& [id, flat] : roots_) push(id, flat);
  while (!grays.empty()) {
    auto [node, flat] = grays.back();
    grays.pop_back();
    const std::uint8_t mark = flat ? kFlatMark : kFullMark;
    if ((node->marks & mark) || (flat && (node->marks & kFullMark))) continue;
    node->marks |= mark;
    if (!node->parent.empty()) push(node->parent, flat);
    if (flat) continue;
    for (const std::string& ref : node->refs) push(ref, false);
  }
}

void GcCollection::Sweep(leveldb::WriteBatch& batch, GcSweepCounts& counts,
                         std::set<std::string>& dirty) const {
  for (const auto& [id, node] : nodes_) {
    if (node.marks != 0) continue;
    batch.Delete(node.record_key);
    for (const std::string& k : node.extra_keys) batch.Delete(k);
    counts.records += 1 + static_cast<std::int64_t>(node.extra_keys.size());
    switch (id[0]) {
      case 'c':
        ++counts.content;
        break;
      case 'i':
        ++counts.ingests;
        break;
      case 's':
        ++counts.snapshots;
        break;
      case 'l':
        ++counts.leases;
        break;
      default:
        break;
    }
    if (!node.backend.empty()) dirty.insert(node.backend);
  }
  for (const auto& [name, lease] : leases_) {
    if (lease.has_record) continue;
    for (const std::string& k : lease.resource_keys) batch.Delete(k);
    counts.records += static_cast<std::int64_t>(lease.resource_keys.size());
  }
  // Children entries whose child is gone or has another parent now (kept
  // ones were deleted above with their child's record when it went).
  for (const ChildEntry& entry : children_) {
    auto child = nodes_.find(entry.child);
    if (child != nodes_.end() && child->second.marks == 0) continue;  // deleted above
    const bool current = child != nodes_.end() &&
                         std::find(child->second.extra_keys.begin(), child->second.extra_keys.end(),
                                   entry.key) != child->second.extra_keys.end();
    if (current) continue;
    batch.Delete(entry.key);
    ++counts.records;
  }
}

}  // namespace berth::host::metadata
