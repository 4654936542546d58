#include "metadata/snapshots.h"

#include <chrono>
#include <map>
#include <optional>
#include <set>

#include "berth/content.h"
#include "containerd/services/snapshots/v1/snapshots.pb.h"
#include "berth/runner/log.h"
#include "metadata/failpoint.h"
#include "metadata/intents.h"
#include "metadata/leases.h"

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

std::int64_t ToNanos(snapshots::Time t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

snapshots::Time FromNanos(std::int64_t ns) {
  return snapshots::Time(
      std::chrono::duration_cast<snapshots::Time::duration>(std::chrono::nanoseconds(ns)));
}

// A filter value in double quotes, with '"' and '\\' escaped.
std::string FilterQuote(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Status ValidateSnapshotKey(std::string_view what, const std::string& key) {
  if (key.empty()) return Status::InvalidArgument(std::string(what) + " must not be empty");
  if (key.size() > kMaxSnapshotKey) {
    return Status::InvalidArgument(std::string(what) + " longer than " +
                                   std::to_string(kMaxSnapshotKey) + " bytes");
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
                                                          const std::string& key,
                                                          leveldb::WriteBatch& batch) {
  auto value = db_->Get(SeqKey(name_));
  if (!value.ok()) return value.status();
  std::uint64_t seq = 0;
  if (value->has_value()) seq = std::stoull(**value);
  ++seq;
  batch.Put(SeqKey(name_), std::to_string(seq));
  return std::string(ns) + "/" + std::to_string(seq) + "/" + key;
}

Status NamespacedSnapshotter::WriteIntent(const Intent& intent, leveldb::WriteBatch& batch) {
  batch.Put(keys::SnapshotIntent(name_, intent.new_backend_key), EncodeIntent(intent));
  MutexLock db_lock(&db_->write_mutex());
  return db_->Write(batch, /*sync=*/true);
}

void NamespacedSnapshotter::DropIntent(const std::string& new_backend_key) {
  leveldb::WriteBatch batch;
  batch.Delete(keys::SnapshotIntent(name_, new_backend_key));
  MutexLock db_lock(&db_->write_mutex());
  Status s = db_->Write(batch);
  if (!s.ok()) {
    // Harmless: the next cleanup finds the backend never made the snapshot.
    log::Warn("could not drop a snapshot intent",
              {{"snapshotter", name_}, {"backend_key", new_backend_key},
               {"error", s.ToString()}});
  }
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
  bool dropped_gc_label = false;
  auto out = UpdateRecord(ns, info, fieldpaths, dropped_gc_label);
  if (out.ok()) {
    db_->Mutated(dropped_gc_label, dropped_gc_label ? SnapshotterBackend(name_) : "");
  }
  return out;
}

Result<snapshots::Info> NamespacedSnapshotter::UpdateRecord(
    std::string_view ns, const snapshots::Info& info,
    const std::vector<std::string>& fieldpaths, bool& dropped_gc_label) {
  MutexLock lock(&mu_);
  ReaderLock collect(&db_->collection_mutex());
  auto r = Read(ns, info.name);
  if (!r.ok()) return r.status();
  const snapshots::Labels before = r->info.labels;
  BERTH_RETURN_IF_ERROR(snapshots::ApplyUpdate(info, fieldpaths, r->info));
  dropped_gc_label = DropsGcLabel(before, r->info.labels);
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
    MutexLock db_lock(&db_->write_mutex());
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
    const snapshots::Labels& labels, std::string_view lease) {
  auto mounts = Create(ns, Kind::kActive, key, parent, labels, lease);
  if (mounts.ok()) db_->Mutated(false);
  return mounts;
}

Result<std::vector<Mount>> NamespacedSnapshotter::View(
    std::string_view ns, const std::string& key, const std::string& parent,
    const snapshots::Labels& labels, std::string_view lease) {
  auto mounts = Create(ns, Kind::kView, key, parent, labels, lease);
  if (mounts.ok()) db_->Mutated(false);
  return mounts;
}

Result<std::vector<Mount>> NamespacedSnapshotter::Create(
    std::string_view ns, Kind kind, const std::string& key, const std::string& parent,
    const snapshots::Labels& labels, std::string_view lease) {
  BERTH_RETURN_IF_ERROR(ValidateSnapshotKey("key", key));
  BERTH_RETURN_IF_ERROR(ValidateLabels(labels));
  MutexLock lock(&mu_);
  ReaderLock collect(&db_->collection_mutex());
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
  {
    // Early, before the backend works; checked again when writing.
    MutexLock db_lock(&db_->write_mutex());
    BERTH_RETURN_IF_ERROR(CheckLease(*db_, ns, lease));
  }
  // Step 1: the intent (with the key's sequence number), synced.
  leveldb::WriteBatch intent_batch;
  auto bkey = NextBackendKey(ns, key, intent_batch);
  if (!bkey.ok()) return bkey.status();
  Intent intent;
  intent.op = std::string(kind == Kind::kView ? Intent::kView : Intent::kPrepare);
  intent.ns = std::string(ns);
  intent.key = key;
  intent.parent = parent;
  intent.new_backend_key = *bkey;
  intent.lease = std::string(lease);
  BERTH_RETURN_IF_ERROR(WriteIntent(intent, intent_batch));
  failpoint::Hit("snapshot-prepare-after-intent");
  // Step 2: the backend.
  const snapshots::Labels inherited = snapshots::FilterInheritedLabels(labels);
  auto mounts = kind == Kind::kView ? backend_->View(*bkey, backend_parent, inherited)
                                    : backend_->Prepare(*bkey, backend_parent, inherited);
  if (!mounts.ok()) {
    DropIntent(*bkey);
    if (!mounts.status().Is(Code::kAlreadyExists)) return mounts.status();
    if (target == labels.end() || target->second.empty()) {
      return Status::Unknown("unexpected error from snapshotter: " + mounts.status().ToString());
    }
    return AdoptTarget(ns, target->second, parent, backend_parent, labels, lease);
  }
  failpoint::Hit("snapshot-prepare-after-backend");
  // Step 3: the record, and the intent's end, in one batch.
  leveldb::WriteBatch batch;
  Record r;
  r.backend_key = *bkey;
  r.info.name = key;
  r.info.parent = parent;
  r.info.labels = labels;
  r.info.created = r.info.updated = std::chrono::system_clock::now();
  BERTH_RETURN_IF_ERROR(PutRecord(ns, r, batch));
  if (!parent.empty()) batch.Put(keys::SnapshotChild(ns, name_, parent, key), "");
  HoldResource(batch, ns, lease, SnapshotResourceType(name_), key);
  batch.Delete(keys::SnapshotIntent(name_, *bkey));
  Status written;
  {
    MutexLock db_lock(&db_->write_mutex());
    written = CheckLease(*db_, ns, lease);
    if (written.ok()) written = db_->EnsureNamespace(ns, batch);
    if (written.ok()) written = db_->Write(batch);
  }
  if (!written.ok()) {
    // Rolled back here; should this fail, the intent still says so.
    if (backend_->Remove(*bkey).ok()) DropIntent(*bkey);
    return written;
  }
  failpoint::Hit("snapshot-prepare-after-record");
  return mounts;
}

// REQUIRES: mu_ held (by Create).
Status NamespacedSnapshotter::AdoptTarget(std::string_view ns, const std::string& target,
                                          const std::string& parent,
                                          const std::string& backend_parent,
                                          const snapshots::Labels& labels, std::string_view lease) {
  const std::string ref(snapshots::kLabelSnapshotRef);
  std::optional<snapshots::Info> found;
  // The filter narrows the walk; each answer is checked again in case the
  // backend does not apply filters.
  Status walked = backend_->Walk(
      [&](const snapshots::Info& info) {
        auto label = info.labels.find(ref);
        if (!found && info.kind == Kind::kCommitted && info.parent == backend_parent &&
            label != info.labels.end() && label->second == target) {
          found = info;
        }
        return Status::Ok();
      },
      {"labels.\"" + ref + "\"==" + FilterQuote(target) +
       ",parent==" + FilterQuote(backend_parent)});
  if (!walked.ok()) return walked.Annotate("failed walking backend snapshots");
  if (!found) return Status::NotFound("target snapshot \"" + target + "\" in backend");
  Record r;
  r.backend_key = found->name;
  r.info.name = target;
  r.info.parent = parent;
  r.info.labels = labels;
  r.info.labels.insert(found->labels.begin(), found->labels.end());  // the request's win
  r.info.created = found->created;
  r.info.updated = found->updated;
  leveldb::WriteBatch batch;
  BERTH_RETURN_IF_ERROR(PutRecord(ns, r, batch));
  if (!parent.empty()) batch.Put(keys::SnapshotChild(ns, name_, parent, target), "");
  HoldResource(batch, ns, lease, SnapshotResourceType(name_), target);
  {
    MutexLock db_lock(&db_->write_mutex());
    BERTH_RETURN_IF_ERROR(CheckLease(*db_, ns, lease));
    BERTH_RETURN_IF_ERROR(db_->EnsureNamespace(ns, batch));
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  return Status::AlreadyExists("target snapshot \"" + target + "\" from snapshotter");
}

Status NamespacedSnapshotter::Commit(std::string_view ns, const std::string& name,
                                     const std::string& key,
                                     const snapshots::Labels& labels, std::string_view lease) {
  BERTH_RETURN_IF_ERROR(ValidateSnapshotKey("name", name));
  BERTH_RETURN_IF_ERROR(ValidateLabels(labels));
  {
    MutexLock lock(&mu_);
    ReaderLock collect(&db_->collection_mutex());
    if (Live(ns, name)) return Status::AlreadyExists("snapshot \"" + name + "\"");
    auto r = Read(ns, key);
    if (!r.ok()) return r.status();
    {
      // Early, before the backend works; checked again when writing.
      MutexLock db_lock(&db_->write_mutex());
      BERTH_RETURN_IF_ERROR(CheckLease(*db_, ns, lease));
    }
    // Step 1: the intent (with the name's sequence number), synced.
    leveldb::WriteBatch intent_batch;
    auto bname = NextBackendKey(ns, name, intent_batch);
    if (!bname.ok()) return bname.status();
    Intent intent;
    intent.op = std::string(Intent::kCommit);
    intent.ns = std::string(ns);
    intent.key = key;
    intent.name = name;
    intent.parent = r->info.parent;
    intent.old_backend_key = r->backend_key;
    intent.new_backend_key = *bname;
    intent.lease = std::string(lease);
    intent.labels = labels;
    intent.created_ns = ToNanos(std::chrono::system_clock::now());
    BERTH_RETURN_IF_ERROR(WriteIntent(intent, intent_batch));
    failpoint::Hit("snapshot-commit-after-intent");
    // Step 2: the backend.
    Status committed = backend_->Commit(*bname, r->backend_key,
                                        snapshots::FilterInheritedLabels(labels));
    if (!committed.ok()) {
      // Unless the backend committed after all (then the next cleanup rolls
      // the intent forward), nothing changed.
      if (backend_->Stat(*bname).status().Is(Code::kNotFound)) DropIntent(*bname);
      return committed;
    }
    failpoint::Hit("snapshot-commit-after-backend");
    // Step 3: the records, and the intent's end, in one batch.
    leveldb::WriteBatch batch;
    BERTH_RETURN_IF_ERROR(CommitBatch(intent, /*hold_lease=*/true, batch));
    MutexLock db_lock(&db_->write_mutex());
    // Should the lease have gone meanwhile, the intent stays: the next
    // cleanup (at the latest the next start) records the committed
    // snapshot without the lease.
    BERTH_RETURN_IF_ERROR(CheckLease(*db_, ns, lease));
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  failpoint::Hit("snapshot-commit-after-record");
  db_->Mutated(false);
  return Status::Ok();
}

Status NamespacedSnapshotter::CommitBatch(const Intent& intent, bool hold_lease,
                                          leveldb::WriteBatch& batch) const {
  const std::string& ns = intent.ns;
  Record committed;
  committed.backend_key = intent.new_backend_key;
  committed.info.name = intent.name;
  committed.info.parent = intent.parent;
  committed.info.labels = intent.labels;
  committed.info.created = committed.info.updated = FromNanos(intent.created_ns);
  batch.Delete(RecordKey(ns, name_, intent.key));
  BERTH_RETURN_IF_ERROR(PutRecord(ns, committed, batch));
  if (!intent.parent.empty()) {
    batch.Delete(keys::SnapshotChild(ns, name_, intent.parent, intent.key));
    batch.Put(keys::SnapshotChild(ns, name_, intent.parent, intent.name), "");
  }
  const std::string type = SnapshotResourceType(name_);
  ReleaseResource(batch, ns, intent.lease, type, intent.key);
  if (hold_lease) HoldResource(batch, ns, intent.lease, type, intent.name);
  batch.Delete(keys::SnapshotIntent(name_, intent.new_backend_key));
  return Status::Ok();
}

Result<bool> NamespacedSnapshotter::HasChild(std::string_view ns, const std::string& key,
                                             leveldb::WriteBatch& batch) {
  const std::string prefix = keys::SnapshotChildrenPrefix(ns, name_, key);
  std::vector<std::string> children;
  BERTH_RETURN_IF_ERROR(db_->Scan(prefix, [&](std::string_view k, std::string_view) {
    children.emplace_back(k.substr(prefix.size()));
    return true;
  }));
  bool live = false;
  for (const std::string& child : children) {
    auto r = Read(ns, child);
    if (r.ok() && r->info.parent == key && backend_->Stat(r->backend_key).ok()) {
      live = true;
    } else if (r.ok() || r.status().Is(Code::kNotFound)) {
      batch.Delete(keys::SnapshotChild(ns, name_, key, child));  // stale entry
    } else {
      return r.status();
    }
  }
  return live;
}

Status NamespacedSnapshotter::Remove(std::string_view ns, const std::string& key,
                                     std::string_view lease) {
  {
    MutexLock lock(&mu_);
    ReaderLock collect(&db_->collection_mutex());
    auto r = Read(ns, key);
    if (!r.ok()) return r.status();
    leveldb::WriteBatch batch;
    auto has_child = HasChild(ns, key, batch);
    if (!has_child.ok()) return has_child.status();
    if (*has_child) {
      return Status::FailedPrecondition("cannot remove snapshot \"" + key + "\" with child");
    }
    batch.Delete(RecordKey(ns, name_, key));
    if (!r->info.parent.empty()) batch.Delete(keys::SnapshotChild(ns, name_, r->info.parent, key));
    ReleaseResource(batch, ns, lease, SnapshotResourceType(name_), key);
    // One store only: the backend snapshot stays for the next collection,
    // which removes it once no record (and no intent) names it.
    failpoint::Hit("snapshot-remove-before-record");
    MutexLock db_lock(&db_->write_mutex());
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  failpoint::Hit("snapshot-remove-after-record");
  db_->Mutated(true, SnapshotterBackend(name_));
  return Status::Ok();
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
        if (!info.parent().empty()) {
          dangling.Delete(keys::SnapshotChild(ns.name, name_, info.parent(),
                                              k.substr(prefix.size())));
        }
      }
      return true;
    }));
    BERTH_RETURN_IF_ERROR(scan_error);
  }
  return referenced;
}

Status NamespacedSnapshotter::RemoveUnreferenced(const std::set<std::string>& referenced,
                                                 CleanupCounts& counts) {
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
  // One the backend refuses (FailedPrecondition: something it knows of still
  // depends on it) is left, with its parents, for the next collection.
  bool progress = true;
  while (progress && !orphans.empty()) {
    progress = false;
    for (auto it = orphans.begin(); it != orphans.end();) {
      if (children[it->first] > 0) {
        ++it;
        continue;
      }
      Status removed = backend_->Remove(it->first);
      if (!removed.ok() && !removed.Is(Code::kNotFound)) {
        if (!removed.Is(Code::kFailedPrecondition)) return removed;
        ++counts.errors;
        log::Warn("garbage collection could not remove a snapshot",
                  {{"snapshotter", name_}, {"key", it->first}, {"error", removed.ToString()}});
        it = orphans.erase(it);
        continue;
      }
      if (removed.ok()) ++counts.removed;
      if (!it->second.empty()) --children[it->second];
      it = orphans.erase(it);
      progress = true;
    }
  }
  return Status::Ok();
}

Status NamespacedSnapshotter::Cleanup(CleanupCounts* counts) {
  CleanupCounts local;
  CleanupCounts& c = counts != nullptr ? *counts : local;
  MutexLock lock(&mu_);
  // Intents seen under mu_ belong to no change in flight: repair them first.
  // One that cannot be repaired keeps every backend snapshot it names.
  RecoveryCounts recovered;
  BERTH_RETURN_IF_ERROR(RecoverLocked(recovered));
  leveldb::WriteBatch dangling;
  auto referenced = ReferencedBackendKeys(dangling);
  if (!referenced.ok()) return referenced.status();
  BERTH_RETURN_IF_ERROR(ScanIntents([&](const std::string&, const Intent& intent) {
    if (!intent.old_backend_key.empty()) referenced->insert(intent.old_backend_key);
    if (!intent.new_backend_key.empty()) referenced->insert(intent.new_backend_key);
  }));
  BERTH_RETURN_IF_ERROR(RemoveUnreferenced(*referenced, c));
  if (dangling.ApproximateSize() > leveldb::WriteBatch().ApproximateSize()) {
    ReaderLock collect(&db_->collection_mutex());
    MutexLock db_lock(&db_->write_mutex());
    BERTH_RETURN_IF_ERROR(db_->Write(dangling));
  }
  Status cleaned = backend_->Cleanup();
  return cleaned.Is(Code::kNotImplemented) ? Status::Ok() : cleaned;
}

Status NamespacedSnapshotter::ScanIntents(
    const std::function<void(const std::string&, const Intent&)>& fn) const {
  const std::string prefix = keys::SnapshotIntentPrefix(name_);
  std::vector<std::pair<std::string, std::string>> found;
  BERTH_RETURN_IF_ERROR(db_->Scan(prefix, [&](std::string_view k, std::string_view v) {
    found.emplace_back(std::string(k), std::string(v));
    return true;
  }));
  for (const auto& [k, v] : found) {
    auto intent = DecodeIntent(v);
    if (!intent.ok()) {
      log::Error("cannot read a snapshot intent; keeping it and what it names",
                 {{"snapshotter", name_}, {"intent", k}, {"error", intent.status().ToString()}});
      continue;
    }
    fn(k, *intent);
  }
  return Status::Ok();
}

Status NamespacedSnapshotter::Recover(RecoveryCounts* counts) {
  RecoveryCounts local;
  MutexLock lock(&mu_);
  return RecoverLocked(counts != nullptr ? *counts : local);
}

Status NamespacedSnapshotter::RecoverLocked(RecoveryCounts& counts) {
  std::vector<Intent> intents;
  BERTH_RETURN_IF_ERROR(
      ScanIntents([&](const std::string&, const Intent& intent) { intents.push_back(intent); }));
  bool changed = false;
  for (const Intent& intent : intents) {
    Status s = intent.op == Intent::kCommit ? RepairCommit(intent, counts)
               : intent.op == Intent::kPrepare || intent.op == Intent::kView
                   ? RepairCreate(intent, counts)
                   : Status::Unknown("unknown operation \"" + intent.op + "\"");
    if (!s.ok()) {
      ++counts.errors;
      log::Error("cannot repair an interrupted snapshot change; keeping its intent",
                 {{"snapshotter", name_}, {"operation", intent.op}, {"namespace", intent.ns},
                  {"key", intent.key}, {"backend_key", intent.new_backend_key},
                  {"error", s.ToString()}});
      continue;
    }
    changed = true;
  }
  if (changed) db_->MarkDirty(SnapshotterBackend(name_));
  return Status::Ok();
}

// Prepare and View roll back: the caller never got the mounts (containerd,
// whose record and backend change share one transaction, ends the same way).
Status NamespacedSnapshotter::RepairCreate(const Intent& intent, RecoveryCounts& counts) {
  std::string repair;
  auto recorded = Read(intent.ns, intent.key);
  if (recorded.ok() && recorded->backend_key == intent.new_backend_key) {
    repair = "none: the record was written";  // cannot happen: one batch ends both
  } else {
    auto st = backend_->Stat(intent.new_backend_key);
    if (st.ok()) {
      Status removed = backend_->Remove(intent.new_backend_key);
      if (!removed.ok() && !removed.Is(Code::kNotFound)) return removed;
      repair = "rolled back: removed the backend snapshot made for it";
    } else if (st.status().Is(Code::kNotFound)) {
      repair = "rolled back: the backend had not made the snapshot";
    } else {
      return st.status();
    }
  }
  leveldb::WriteBatch batch;
  batch.Delete(keys::SnapshotIntent(name_, intent.new_backend_key));
  {
    ReaderLock collect(&db_->collection_mutex());
    MutexLock db_lock(&db_->write_mutex());
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  ++counts.rolled_back;
  log::Warn("repaired an interrupted snapshot " + intent.op,
            {{"snapshotter", name_}, {"namespace", intent.ns}, {"key", intent.key},
             {"backend_key", intent.new_backend_key}, {"repair", repair}});
  return Status::Ok();
}

// Commit rolls forward once the backend committed (the active snapshot is
// gone from the backend then; its data lives on in the committed one), and
// back otherwise.
Status NamespacedSnapshotter::RepairCommit(const Intent& intent, RecoveryCounts& counts) {
  auto committed = backend_->Stat(intent.new_backend_key);
  if (!committed.ok() && !committed.status().Is(Code::kNotFound)) return committed.status();
  bool active_exists = false;
  if (!committed.ok()) {
    auto active = backend_->Stat(intent.old_backend_key);
    if (!active.ok() && !active.status().Is(Code::kNotFound)) return active.status();
    active_exists = active.ok();
  }
  leveldb::WriteBatch batch;
  std::string repair;
  bool forward = false;
  {
    ReaderLock collect(&db_->collection_mutex());
    MutexLock db_lock(&db_->write_mutex());
    if (committed.ok()) {
      forward = true;
      auto recorded = Read(intent.ns, intent.name);
      if (recorded.ok() && recorded->backend_key == intent.new_backend_key) {
        batch.Delete(keys::SnapshotIntent(name_, intent.new_backend_key));  // cannot happen
        repair = "none: the records were written";
      } else {
        const bool lease_held = CheckLease(*db_, intent.ns, intent.lease).ok();
        BERTH_RETURN_IF_ERROR(CommitBatch(intent, lease_held, batch));
        BERTH_RETURN_IF_ERROR(db_->EnsureNamespace(intent.ns, batch));
        repair = lease_held || intent.lease.empty()
                     ? "rolled forward: recorded the committed snapshot the backend holds"
                     : "rolled forward: recorded the committed snapshot the backend holds "
                       "(its lease is gone)";
      }
    } else {
      batch.Delete(keys::SnapshotIntent(name_, intent.new_backend_key));
      repair = active_exists
                   ? "rolled back: the backend had not committed; the active snapshot stays"
                   : "dropped: the backend holds neither the active nor the committed snapshot";
    }
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  ++(forward ? counts.rolled_forward : counts.rolled_back);
  log::Warn("repaired an interrupted snapshot commit",
            {{"snapshotter", name_}, {"namespace", intent.ns}, {"key", intent.key},
             {"name", intent.name}, {"backend_key", intent.new_backend_key}, {"repair", repair}});
  return Status::Ok();
}

}  // namespace berth::host::metadata
