#include "metadata/snapshots.h"

#include <chrono>
#include <map>
#include <set>

#include "berth/content.h"
#include "containerd/services/snapshots/v1/snapshots.pb.h"

namespace berth::host::metadata {
namespace {

namespace pb = containerd::services::snapshots::v1;
using snapshots::Kind;

std::string SeqKey(std::string_view snapshotter) {
  return "v1/snapshot-seq/" + std::string(snapshotter);
}

std::string RecordKey(std::string_view ns, std::string_view snapshotter,
                      std::string_view key) {
  return keys::SnapshotPrefix(ns, snapshotter) + std::string(key);
}

void ToTimestamp(snapshots::Time t, google::protobuf::Timestamp* out) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch())
                .count();
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int>(ns % 1000000000));
}

snapshots::Time FromTimestamp(const google::protobuf::Timestamp& ts) {
  auto ns = std::chrono::seconds(ts.seconds()) + std::chrono::nanoseconds(ts.nanos());
  return snapshots::Time(std::chrono::duration_cast<snapshots::Time::duration>(ns));
}

bool HasDotDotComponent(std::string_view key) {
  std::size_t start = 0;
  while (start <= key.size()) {
    std::size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    if (key.substr(start, end - start) == "..") return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

Status ValidateSnapshotKey(std::string_view what, const std::string& key) {
  if (key.empty()) return Status::InvalidArgument(std::string(what) + " must not be empty");
  if (key.find('\0') != std::string::npos) {
    return Status::InvalidArgument(std::string(what) + " must not contain NUL");
  }
  if (key.size() > kMaxSnapshotKey) {
    return Status::InvalidArgument(std::string(what) + " longer than " +
                                   std::to_string(kMaxSnapshotKey) + " bytes");
  }
  if (key.front() == '/') {
    return Status::InvalidArgument(std::string(what) + " must not start with \"/\"");
  }
  if (HasDotDotComponent(key)) {
    return Status::InvalidArgument(std::string(what) +
                                   " must not hold a \"..\" path component");
  }
  return Status::Ok();
}

NamespacedSnapshotter::NamespacedSnapshotter(MetadataStore* db, std::string name,
                                             std::shared_ptr<Snapshotter> backend)
    : db_(db), name_(std::move(name)), backend_(std::move(backend)) {}

Result<NamespacedSnapshotter::Record> NamespacedSnapshotter::Read(
    std::string_view ns, const std::string& key) const {
  auto value = db_->Get(RecordKey(ns, name_, key));
  if (!value.ok()) return value.status();
  if (!value->has_value()) {
    return Status::NotFound("snapshot " + key + " does not exist");
  }
  pb::Info info;
  if (!info.ParseFromString(**value)) {
    return Status::Unknown("corrupt snapshot record " + key);
  }
  Record r;
  r.backend_key = info.name();
  r.info.name = key;
  r.info.parent = info.parent();
  r.info.created = FromTimestamp(info.created_at());
  r.info.updated = FromTimestamp(info.updated_at());
  r.info.labels.insert(info.labels().begin(), info.labels().end());
  return r;
}

Status NamespacedSnapshotter::PutRecord(std::string_view ns, const Record& r,
                                        leveldb::WriteBatch& batch) const {
  pb::Info info;
  info.set_name(r.backend_key);
  info.set_parent(r.info.parent);
  ToTimestamp(r.info.created, info.mutable_created_at());
  ToTimestamp(r.info.updated, info.mutable_updated_at());
  for (const auto& [k, v] : r.info.labels) (*info.mutable_labels())[k] = v;
  batch.Put(RecordKey(ns, name_, r.info.name), info.SerializeAsString());
  return Status::Ok();
}

bool NamespacedSnapshotter::Live(std::string_view ns, const std::string& key) const {
  auto r = Read(ns, key);
  return r.ok() && backend_->Stat(r->backend_key).ok();
}

Result<std::string> NamespacedSnapshotter::NextBackendKey(std::string_view ns,
                                                          const std::string& key) {
  auto value = db_->Get(SeqKey(name_));
  if (!value.ok()) return value.status();
  std::uint64_t seq = 0;
  if (value->has_value()) seq = std::stoull(**value);
  ++seq;
  // Persisted before the backend sees the key, so a key is never handed out
  // twice even if the daemon dies before the record is written.
  leveldb::WriteBatch seq_batch;
  seq_batch.Put(SeqKey(name_), std::to_string(seq));
  {
    std::lock_guard lock(db_->write_mutex());
    BERTH_RETURN_IF_ERROR(db_->Write(seq_batch, /*sync=*/false));
  }
  return std::string(ns) + "/" + std::to_string(seq) + "/" + key;
}

Result<snapshots::Info> NamespacedSnapshotter::Merge(const Record& r) {
  auto info = backend_->Stat(r.backend_key);
  if (!info.ok()) return info.status();
  snapshots::Info out = std::move(*info);
  out.name = r.info.name;
  out.parent = r.info.parent;
  out.created = r.info.created;
  out.updated = r.info.updated;
  for (const auto& [k, v] : r.info.labels) out.labels[k] = v;
  return out;
}

Result<snapshots::Info> NamespacedSnapshotter::Stat(std::string_view ns,
                                                    const std::string& key) {
  auto r = Read(ns, key);
  if (!r.ok()) return r.status();
  return Merge(*r);
}

Result<snapshots::Info> NamespacedSnapshotter::Update(
    std::string_view ns, const snapshots::Info& info,
    const std::vector<std::string>& fieldpaths) {
  if (info.name.empty()) return Status::InvalidArgument("snapshot name is required");
  std::lock_guard lock(mu_);
  auto r = Read(ns, info.name);
  if (!r.ok()) return r.status();
  BERTH_RETURN_IF_ERROR(snapshots::ApplyUpdate(info, fieldpaths, r->info));
  BERTH_RETURN_IF_ERROR(ValidateLabels(r->info.labels));
  r->info.updated = std::chrono::system_clock::now();
  snapshots::Info inner;
  inner.name = r->backend_key;
  inner.labels = snapshots::FilterInheritedLabels(r->info.labels);
  auto updated = backend_->Update(inner, fieldpaths);
  if (!updated.ok()) return updated.status();
  leveldb::WriteBatch batch;
  BERTH_RETURN_IF_ERROR(PutRecord(ns, *r, batch));
  {
    std::lock_guard db_lock(db_->write_mutex());
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  snapshots::Info out = std::move(*updated);
  out.name = r->info.name;
  out.parent = r->info.parent;
  out.created = r->info.created;
  out.updated = r->info.updated;
  for (const auto& [k, v] : r->info.labels) out.labels[k] = v;
  return out;
}

Result<snapshots::Usage> NamespacedSnapshotter::Usage(std::string_view ns,
                                                      const std::string& key) {
  auto r = Read(ns, key);
  if (!r.ok()) return r.status();
  return backend_->Usage(r->backend_key);
}

Result<std::vector<Mount>> NamespacedSnapshotter::Mounts(std::string_view ns,
                                                         const std::string& key) {
  auto r = Read(ns, key);
  if (!r.ok()) return r.status();
  return backend_->Mounts(r->backend_key);
}

Result<std::vector<Mount>> NamespacedSnapshotter::Prepare(
    std::string_view ns, const std::string& key, const std::string& parent,
    const snapshots::Labels& labels) {
  return Create(ns, Kind::kActive, key, parent, labels);
}

Result<std::vector<Mount>> NamespacedSnapshotter::View(
    std::string_view ns, const std::string& key, const std::string& parent,
    const snapshots::Labels& labels) {
  return Create(ns, Kind::kView, key, parent, labels);
}

Result<std::vector<Mount>> NamespacedSnapshotter::Create(
    std::string_view ns, Kind kind, const std::string& key, const std::string& parent,
    const snapshots::Labels& labels) {
  BERTH_RETURN_IF_ERROR(ValidateSnapshotKey("key", key));
  BERTH_RETURN_IF_ERROR(ValidateLabels(labels));
  std::lock_guard lock(mu_);
  auto target = labels.find(std::string(snapshots::kLabelSnapshotRef));
  if (target != labels.end() && !target->second.empty()) {
    if (Live(ns, target->second)) {
      return Status::AlreadyExists("target snapshot \"" + target->second + "\"");
    }
  }
  if (Live(ns, key)) return Status::AlreadyExists("snapshot \"" + key + "\"");
  std::string backend_parent;
  if (!parent.empty()) {
    auto p = Read(ns, parent);
    if (!p.ok()) {
      if (p.status().Is(Code::kNotFound)) {
        return Status::NotFound("parent snapshot " + parent + " does not exist");
      }
      return p.status();
    }
    backend_parent = p->backend_key;
  }
  leveldb::WriteBatch batch;
  auto bkey = NextBackendKey(ns, key);
  if (!bkey.ok()) return bkey.status();
  const snapshots::Labels inherited = snapshots::FilterInheritedLabels(labels);
  auto mounts = kind == Kind::kView ? backend_->View(*bkey, backend_parent, inherited)
                                    : backend_->Prepare(*bkey, backend_parent, inherited);
  if (!mounts.ok()) return mounts.status();
  Record r;
  r.backend_key = *bkey;
  r.info.name = key;
  r.info.parent = parent;
  r.info.labels = labels;
  r.info.created = r.info.updated = std::chrono::system_clock::now();
  BERTH_RETURN_IF_ERROR(PutRecord(ns, r, batch));
  Status written;
  {
    std::lock_guard db_lock(db_->write_mutex());
    written = db_->EnsureNamespace(ns, batch);
    if (written.ok()) written = db_->Write(batch);
  }
  if (!written.ok()) {
    (void)backend_->Remove(*bkey);
    return written;
  }
  return mounts;
}

Status NamespacedSnapshotter::Commit(std::string_view ns, const std::string& name,
                                     const std::string& key,
                                     const snapshots::Labels& labels) {
  BERTH_RETURN_IF_ERROR(ValidateSnapshotKey("name", name));
  BERTH_RETURN_IF_ERROR(ValidateLabels(labels));
  std::lock_guard lock(mu_);
  if (Live(ns, name)) return Status::AlreadyExists("snapshot \"" + name + "\"");
  auto r = Read(ns, key);
  if (!r.ok()) return r.status();
  leveldb::WriteBatch batch;
  auto bname = NextBackendKey(ns, name);
  if (!bname.ok()) return bname.status();
  BERTH_RETURN_IF_ERROR(backend_->Commit(*bname, r->backend_key,
                                         snapshots::FilterInheritedLabels(labels)));
  Record committed;
  committed.backend_key = *bname;
  committed.info.name = name;
  committed.info.parent = r->info.parent;
  committed.info.labels = labels;
  committed.info.created = committed.info.updated = std::chrono::system_clock::now();
  batch.Delete(RecordKey(ns, name_, key));
  BERTH_RETURN_IF_ERROR(PutRecord(ns, committed, batch));
  std::lock_guard db_lock(db_->write_mutex());
  return db_->Write(batch);
}

Status NamespacedSnapshotter::Remove(std::string_view ns, const std::string& key) {
  std::lock_guard lock(mu_);
  auto r = Read(ns, key);
  if (!r.ok()) return r.status();
  Status removed = backend_->Remove(r->backend_key);
  // A record whose backend snapshot is already gone is simply dropped.
  if (!removed.ok() && !removed.Is(Code::kNotFound)) return removed;
  leveldb::WriteBatch batch;
  batch.Delete(RecordKey(ns, name_, key));
  std::lock_guard db_lock(db_->write_mutex());
  // Not synced: should the deletion be lost with the machine, the record
  // names a backend snapshot that is gone, which every reader treats as
  // absent and Cleanup drops.
  return db_->Write(batch, /*sync=*/false);
}

Status NamespacedSnapshotter::Walk(std::string_view ns,
                                   const std::vector<std::string>& filter_exprs,
                                   const snapshots::WalkFn& fn) {
  auto filter = filters::ParseAll(filter_exprs);
  if (!filter.ok()) return filter.status();
  std::vector<std::string> keys;
  const std::string prefix = keys::SnapshotPrefix(ns, name_);
  BERTH_RETURN_IF_ERROR(db_->Scan(prefix, [&](std::string_view k, std::string_view) {
    keys.emplace_back(k.substr(prefix.size()));
    return true;
  }));
  for (const auto& key : keys) {
    auto info = Stat(ns, key);
    if (!info.ok()) {
      if (info.status().Is(Code::kNotFound)) continue;  // removed meanwhile
      return info.status();
    }
    if (!filter->Match(snapshots::AdaptInfo(*info))) continue;
    BERTH_RETURN_IF_ERROR(fn(*info));
  }
  return Status::Ok();
}

Result<std::set<std::string>> NamespacedSnapshotter::ReferencedBackendKeys(
    leveldb::WriteBatch& dangling) {
  auto namespaces = db_->ListNamespaces();
  if (!namespaces.ok()) return namespaces.status();
  std::set<std::string> referenced;
  for (const NamespaceRecord& ns : *namespaces) {
    const std::string prefix = keys::SnapshotPrefix(ns.name, name_);
    Status scan_error;
    BERTH_RETURN_IF_ERROR(db_->Scan(prefix, [&](std::string_view k, std::string_view v) {
      pb::Info info;
      if (!info.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
        scan_error = Status::Unknown("corrupt snapshot record " + std::string(k));
        return false;
      }
      if (backend_->Stat(info.name()).ok()) {
        referenced.insert(info.name());
      } else {
        dangling.Delete(std::string(k));  // its backend snapshot is gone
      }
      return true;
    }));
    BERTH_RETURN_IF_ERROR(scan_error);
  }
  return referenced;
}

Status NamespacedSnapshotter::RemoveUnreferenced(const std::set<std::string>& referenced) {
  std::map<std::string, std::string> orphans;  // backend key -> parent
  std::map<std::string, int> children;         // backend key -> child count
  BERTH_RETURN_IF_ERROR(backend_->Walk(
      [&](const snapshots::Info& info) {
        if (!info.parent.empty()) ++children[info.parent];
        if (!referenced.count(info.name)) orphans.emplace(info.name, info.parent);
        return Status::Ok();
      },
      {}));
  // Leaves first: each pass removes the orphans nothing depends on any more.
  bool progress = true;
  while (progress && !orphans.empty()) {
    progress = false;
    for (auto it = orphans.begin(); it != orphans.end();) {
      if (children[it->first] > 0) {
        ++it;
        continue;
      }
      BERTH_RETURN_IF_ERROR(backend_->Remove(it->first));
      if (!it->second.empty()) --children[it->second];
      it = orphans.erase(it);
      progress = true;
    }
  }
  return Status::Ok();
}

Status NamespacedSnapshotter::Cleanup() {
  std::lock_guard lock(mu_);
  leveldb::WriteBatch dangling;
  auto referenced = ReferencedBackendKeys(dangling);
  if (!referenced.ok()) return referenced.status();
  BERTH_RETURN_IF_ERROR(RemoveUnreferenced(*referenced));
  if (dangling.ApproximateSize() > leveldb::WriteBatch().ApproximateSize()) {
    std::lock_guard db_lock(db_->write_mutex());
    BERTH_RETURN_IF_ERROR(db_->Write(dangling));
  }
  Status cleaned = backend_->Cleanup();
  return cleaned.Is(Code::kNotImplemented) ? Status::Ok() : cleaned;
}

}  // namespace berth::host::metadata
