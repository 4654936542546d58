#include "metadata/content.h"

#include <chrono>
#include <optional>
#include <unordered_set>

#include "berth/digest.h"
#include "containerd/services/content/v1/content.pb.h"
#include "berth/runner/log.h"
#include "metadata/failpoint.h"
#include "metadata/intents.h"
#include "metadata/leases.h"

namespace berth::host::metadata {
namespace {

namespace cpb = containerd::services::content::v1;

// How long garbage collection keeps an ingest no lease holds, from its last
// open (containerd's value).
constexpr std::chrono::hours kUnleasedIngestLifetime{24};


void ToProtoTime(Timestamp t, google::protobuf::Timestamp* out) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                t.time_since_epoch()).count();
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int>(ns % 1000000000));
}

Timestamp FromProtoTime(const google::protobuf::Timestamp& t) {
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(
      std::chrono::seconds(t.seconds()) + std::chrono::nanoseconds(t.nanos())));
}

std::string EncodeInfo(const ContentInfo& info) {
  cpb::Info pb;
  pb.set_digest(info.digest);
  pb.set_size(info.size);
  ToProtoTime(info.created_at, pb.mutable_created_at());
  ToProtoTime(info.updated_at, pb.mutable_updated_at());
  for (const auto& [k, v] : info.labels) (*pb.mutable_labels())[k] = v;
  return pb.SerializeAsString();
}

Result<ContentInfo> DecodeInfo(std::string_view bytes) {
  cpb::Info pb;
  if (!pb.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Unknown("corrupt content record");
  }
  ContentInfo info;
  info.digest = pb.digest();
  info.size = pb.size();
  info.created_at = FromProtoTime(pb.created_at());
  info.updated_at = FromProtoTime(pb.updated_at());
  info.labels.insert(pb.labels().begin(), pb.labels().end());
  return info;
}

// The writer a namespace gets: the backend's writer, or none yet for a blob
// that already exists elsewhere (it then stands at the blob's end).
class NamespacedWriter : public ContentWriter {
 public:
  NamespacedWriter(NamespacedContentStore* store, std::string ns, std::string lease,
                   std::string backend_ref, WriterOptions options,
                   std::unique_ptr<ContentWriter> backend_writer,
                   std::int64_t shared_size)
      : store_(store),
        ns_(std::move(ns)),
        lease_(std::move(lease)),
        backend_ref_(std::move(backend_ref)),
        options_(std::move(options)),
        w_(std::move(backend_writer)),
        shared_size_(shared_size),
        started_at_(std::chrono::system_clock::now()) {}

  Status Write(const void* data, std::size_t size) override {
    if (size == 0) return Status::Ok();
    if (!w_) BERTH_RETURN_IF_ERROR(Unshare(shared_size_));
    return w_->Write(data, size);
  }
  std::string Digest() const override {
    return w_ ? w_->Digest() : options_.expected;
  }
  std::int64_t Offset() const override {
    return w_ ? w_->Offset() : shared_size_;
  }
  Result<IngestStatus> Stat() const override {
    if (w_) {
      auto st = w_->Stat();
      if (st.ok()) st->ref = options_.ref;
      return st;
    }
    IngestStatus st;
    st.ref = options_.ref;
    st.offset = shared_size_;
    st.total = shared_size_;
    st.expected = options_.expected;
    st.started_at = st.updated_at = started_at_;
    return st;
  }
  Status Truncate(std::int64_t size) override {
    if (w_) return w_->Truncate(size);
    if (size < 0 || size > shared_size_) {
      return Status::InvalidArgument("truncate outside written range");
    }
    return Unshare(size);
  }
  Status Commit(std::int64_t size, std::string_view expected,
                const Labels& labels) override {
    BERTH_RETURN_IF_ERROR(ValidateLabels(labels));
    using Published = NamespacedContentStore::Published;
    // The blob the backend commit will publish, when it is to publish one
    // (its own validation fails otherwise, and nothing changes).
    std::optional<Published> planned;
    if (w_) {
      const std::string digest = w_->Digest();
      const std::int64_t offset = w_->Offset();
      if ((size == 0 || size == offset) && (expected.empty() || expected == digest)) {
        planned = Published{digest, offset};
      }
    }
    return store_->CommitIngest(ns_, options_.ref, lease_, labels, planned,
                                [&]() -> Result<Published> {
      if (!w_) {
        if (size != 0 && size != shared_size_) {
          return Status::FailedPrecondition(
              "\"" + options_.ref + "\" failed size validation: " +
              std::to_string(shared_size_) + " != " + std::to_string(size));
        }
        if (!expected.empty() && expected != options_.expected) {
          return Status::FailedPrecondition("\"" + options_.ref + "\" unexpected digest");
        }
        return Published{options_.expected, shared_size_};
      }
      const std::int64_t actual_size = w_->Offset();
      Status s = w_->Commit(size, expected, labels);
      if (!s.ok() && !s.Is(Code::kAlreadyExists)) return s;
      return Published{w_->Digest(), actual_size};
    });
  }

 private:
  // Starts a backend ingest holding the first `size` bytes of the blob.
  Status Unshare(std::int64_t size) {
    WriterOptions o;
    o.ref = backend_ref_;
    o.total = options_.total;
    auto w = store_->backend().Writer(o);
    if (!w.ok()) return w.status();
    BERTH_RETURN_IF_ERROR((*w)->Truncate(0));
    auto r = store_->backend().ReaderAt(options_.expected);
    if (!r.ok()) return r.status();
    std::string buf(1 << 20, '\0');
    for (std::int64_t off = 0; off < size;) {
      std::size_t want = static_cast<std::size_t>(
          std::min<std::int64_t>(static_cast<std::int64_t>(buf.size()), size - off));
      auto n = (*r)->ReadAt(buf.data(), want, off);
      if (!n.ok()) return n.status();
      if (*n == 0) return Status::Unknown("blob shorter than recorded");
      BERTH_RETURN_IF_ERROR((*w)->Write(buf.data(), *n));
      off += static_cast<std::int64_t>(*n);
    }
    w_ = std::move(*w);
    return Status::Ok();
  }

  NamespacedContentStore* store_;
  std::string ns_;
  std::string lease_;
  std::string backend_ref_;
  WriterOptions options_;
  std::unique_ptr<ContentWriter> w_;
  std::int64_t shared_size_;
  Timestamp started_at_;
};

}  // namespace

NamespacedContentStore::NamespacedContentStore(MetadataStore* db,
                                               std::shared_ptr<ContentStore> backend)
    : db_(db), backend_(std::move(backend)) {}

std::string NamespacedContentStore::BackendRef(std::string_view ns,
                                               std::string_view ref) {
  return std::string(ns) + "/" + std::string(ref);
}

Result<ContentInfo> NamespacedContentStore::Info(std::string_view ns,
                                                 std::string_view digest) {
  BERTH_RETURN_IF_ERROR(ValidateDigest(digest));
  auto v = db_->Get(keys::ContentBlob(ns, digest));
  if (!v.ok()) return v.status();
  if (!v->has_value()) return Status::NotFound("content " + std::string(digest));
  return DecodeInfo(**v);
}

Result<ContentInfo> NamespacedContentStore::Update(
    std::string_view ns, const ContentInfo& info,
    const std::vector<std::string>& fieldpaths) {
  BERTH_RETURN_IF_ERROR(ValidateDigest(info.digest));
  ContentInfo updated;
  bool dropped_gc_label = false;
  {
    ReaderLock collect(&db_->collection_mutex());
    MutexLock lock(&db_->write_mutex());
    auto current = Info(ns, info.digest);
    if (!current.ok()) return current.status();
    updated = *current;
    Status s = ApplyLabelUpdate(updated.labels, info.labels, fieldpaths);
    if (!s.ok()) {
      return Status::InvalidArgument(s.message() + " \"" + info.digest + "\"");
    }
    BERTH_RETURN_IF_ERROR(ValidateLabels(updated.labels));
    dropped_gc_label = DropsGcLabel(current->labels, updated.labels);
    updated.updated_at = std::chrono::system_clock::now();
    leveldb::WriteBatch batch;
    batch.Put(keys::ContentBlob(ns, info.digest), EncodeInfo(updated));
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  db_->Mutated(dropped_gc_label, dropped_gc_label ? kContentBackend : "");
  return updated;
}

Status NamespacedContentStore::Walk(
    std::string_view ns, const filters::Filter& filter,
    const std::function<Status(const ContentInfo&)>& fn) {
  std::vector<ContentInfo> matched;
  Status bad;
  BERTH_RETURN_IF_ERROR(db_->Scan(keys::ContentBlobPrefix(ns),
                                  [&](std::string_view, std::string_view value) {
                                    auto info = DecodeInfo(value);
                                    if (!info.ok()) {
                                      bad = info.status();
                                      return false;
                                    }
                                    if (filter.Match(AdaptContentInfo(*info))) {
                                      matched.push_back(std::move(*info));
                                    }
                                    return true;
                                  }));
  BERTH_RETURN_IF_ERROR(bad);
  for (const ContentInfo& info : matched) BERTH_RETURN_IF_ERROR(fn(info));
  return Status::Ok();
}

Status NamespacedContentStore::Delete(std::string_view ns, std::string_view digest,
                                      std::string_view lease) {
  BERTH_RETURN_IF_ERROR(ValidateDigest(digest));
  {
    ReaderLock collect(&db_->collection_mutex());
    MutexLock lock(&db_->write_mutex());
    auto current = Info(ns, digest);
    if (!current.ok()) return current.status();
    leveldb::WriteBatch batch;
    batch.Delete(keys::ContentBlob(ns, digest));
    batch.Delete(keys::ContentIndex(digest, ns));
    ReleaseResource(batch, ns, lease, kResourceContent, digest);
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  db_->Mutated(true, kContentBackend);
  return Status::Ok();
}

Result<std::unique_ptr<ContentReader>> NamespacedContentStore::ReaderAt(
    std::string_view ns, std::string_view digest) {
  auto info = Info(ns, digest);
  if (!info.ok()) return info.status();
  return backend_->ReaderAt(digest);
}

Result<std::unique_ptr<ContentWriter>> NamespacedContentStore::Writer(
    std::string_view ns, const WriterOptions& options, std::string_view lease) {
  BERTH_RETURN_IF_ERROR(ValidateRef(options.ref));
  if (!options.expected.empty()) BERTH_RETURN_IF_ERROR(ValidateDigest(options.expected));
  std::int64_t shared_size = -1;
  std::unique_ptr<ContentWriter> backend_writer;
  {
    ReaderLock backend_lock(&backend_mu_);
    ReaderLock collect(&db_->collection_mutex());
    if (!options.expected.empty()) {
      if (Info(ns, options.expected).ok()) {
        // As containerd does, the lease holds the blob the caller found.
        if (!lease.empty()) {
          MutexLock lock(&db_->write_mutex());
          BERTH_RETURN_IF_ERROR(CheckLease(*db_, ns, lease));
          leveldb::WriteBatch batch;
          HoldResource(batch, ns, lease, kResourceContent, options.expected);
          BERTH_RETURN_IF_ERROR(db_->Write(batch));
        }
        return Status::AlreadyExists("content " + options.expected);
      }
      auto existing = backend_->Info(options.expected);
      if (existing.ok() && (options.total == 0 || options.total == existing->size)) {
        shared_size = existing->size;
      }
    }
    BERTH_RETURN_IF_ERROR(
        RecordIngest(ns, options.ref, shared_size < 0 ? "" : options.expected, lease));
    if (shared_size < 0) {
      WriterOptions o = options;
      o.ref = BackendRef(ns, options.ref);
      auto w = backend_->Writer(o);
      if (!w.ok()) return w.status();  // the record expires (or goes with the lease)
      backend_writer = std::move(*w);
    }
  }
  db_->Mutated(false);
  return std::unique_ptr<ContentWriter>(std::make_unique<NamespacedWriter>(
      this, std::string(ns), std::string(lease), BackendRef(ns, options.ref), options,
      std::move(backend_writer), shared_size < 0 ? 0 : shared_size));
}

Status NamespacedContentStore::RecordIngest(std::string_view ns, std::string_view ref,
                                            std::string_view shared_digest,
                                            std::string_view lease) {
  MutexLock lock(&db_->write_mutex());
  BERTH_RETURN_IF_ERROR(CheckLease(*db_, ns, lease));
  ContentInfo record;
  record.digest = std::string(shared_digest);
  record.created_at = record.updated_at = std::chrono::system_clock::now();
  if (lease.empty()) {
    record.labels[std::string(kLabelGcExpire)] =
        FormatRfc3339(record.created_at + kUnleasedIngestLifetime);
  }
  leveldb::WriteBatch batch;
  BERTH_RETURN_IF_ERROR(db_->EnsureNamespace(ns, batch));
  batch.Put(keys::ContentIngest(ns, ref), EncodeInfo(record));
  HoldResource(batch, ns, lease, kResourceIngests, ref);
  // Not synced: should the machine lose it, the ingest's bytes are collected
  // as an orphan and the client starts the upload over (a process crash
  // loses nothing; the commit, which publishes the blob, is synced).
  return db_->Write(batch, /*sync=*/false);
}

Status NamespacedContentStore::CommitIngest(std::string_view ns, std::string_view ref,
                                            std::string_view lease, const Labels& labels,
                                            const std::optional<Published>& planned,
                                            const std::function<Result<Published>()>& publish) {
  const std::string intent_key = keys::ContentIntent(ns, ref);
  {
    ReaderLock backend_lock(&backend_mu_);
    ReaderLock collect(&db_->collection_mutex());
    if (planned) {
      // Step 1: the intent, synced.
      Intent intent;
      intent.op = std::string(Intent::kContentCommit);
      intent.ns = std::string(ns);
      intent.key = std::string(ref);
      intent.digest = planned->digest;
      intent.size = planned->size;
      intent.lease = std::string(lease);
      intent.labels = labels;
      intent.created_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      leveldb::WriteBatch batch;
      batch.Put(intent_key, EncodeIntent(intent));
      MutexLock lock(&db_->write_mutex());
      BERTH_RETURN_IF_ERROR(db_->Write(batch, /*sync=*/true));
    }
    failpoint::Hit("content-commit-after-intent");
    // Step 2: the backend.
    auto published = publish();
    if (!published.ok()) {
      if (planned) {
        leveldb::WriteBatch drop;
        drop.Delete(intent_key);
        MutexLock lock(&db_->write_mutex());
        (void)db_->Write(drop);  // else the next start finds no blob and drops it
      }
      return published.status();
    }
    failpoint::Hit("content-commit-after-backend");
    // Step 3: the record, and the intent's end, in one batch.
    ContentInfo info;
    info.digest = published->digest;
    info.size = published->size;
    info.created_at = info.updated_at = std::chrono::system_clock::now();
    info.labels = labels;
    MutexLock lock(&db_->write_mutex());
    // A lease that went meanwhile fails the commit; the intent stays and the
    // next start (or collection) records the blob without the lease.
    if (!Info(ns, published->digest).ok()) BERTH_RETURN_IF_ERROR(CheckLease(*db_, ns, lease));
    leveldb::WriteBatch batch;
    auto existed = RecordBlobBatch(ns, ref, lease, /*hold_lease=*/true, info, batch);
    if (!existed.ok()) return existed.status();
    if (planned) batch.Delete(intent_key);
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
    if (*existed) return Status::AlreadyExists("content " + published->digest);
  }
  failpoint::Hit("content-commit-after-record");
  db_->Mutated(false);
  return Status::Ok();
}

Result<bool> NamespacedContentStore::RecordBlobBatch(std::string_view ns, std::string_view ref,
                                                     std::string_view lease, bool hold_lease,
                                                     const ContentInfo& info,
                                                     leveldb::WriteBatch& batch) {
  batch.Delete(keys::ContentIngest(ns, ref));
  ReleaseResource(batch, ns, lease, kResourceIngests, ref);
  if (Info(ns, info.digest).ok()) return true;
  BERTH_RETURN_IF_ERROR(db_->EnsureNamespace(ns, batch));
  batch.Put(keys::ContentBlob(ns, info.digest), EncodeInfo(info));
  batch.Put(keys::ContentIndex(info.digest, ns), "");
  if (hold_lease) HoldResource(batch, ns, lease, kResourceContent, info.digest);
  return false;
}

Status NamespacedContentStore::Recover(RecoveryCounts* counts) {
  RecoveryCounts local;
  WriterLock backend_lock(&backend_mu_);
  return RecoverLocked(counts != nullptr ? *counts : local);
}

Status NamespacedContentStore::ScanIntents(
    const std::function<void(const std::string&, const Intent&)>& fn) const {
  std::vector<std::pair<std::string, std::string>> found;
  BERTH_RETURN_IF_ERROR(
      db_->Scan(keys::kContentIntentPrefix, [&](std::string_view k, std::string_view v) {
        found.emplace_back(std::string(k), std::string(v));
        return true;
      }));
  for (const auto& [k, v] : found) {
    auto intent = DecodeIntent(v);
    if (!intent.ok()) {
      log::Error("cannot read a content intent; keeping it",
                 {{"intent", k}, {"error", intent.status().ToString()}});
      continue;
    }
    fn(k, *intent);
  }
  return Status::Ok();
}

// A content commit rolls forward once the backend holds the blob (the
// ingest's bytes are in it then, and the ingest itself is gone or going),
// and back otherwise (the ingest stays, resumable).
Status NamespacedContentStore::RecoverLocked(RecoveryCounts& counts) {
  std::vector<std::pair<std::string, Intent>> intents;
  BERTH_RETURN_IF_ERROR(ScanIntents([&](const std::string& k, const Intent& intent) {
    intents.emplace_back(k, intent);
  }));
  bool changed = false;
  for (const auto& [intent_key, intent] : intents) {
    auto blob = intent.op == Intent::kContentCommit
                    ? backend_->Info(intent.digest)
                    : Result<ContentInfo>(Status::Unknown("unknown operation \"" + intent.op + "\""));
    if (!blob.ok() && !blob.status().Is(Code::kNotFound)) {
      ++counts.errors;
      log::Error("cannot repair an interrupted content commit; keeping its intent",
                 {{"namespace", intent.ns}, {"ref", intent.key}, {"digest", intent.digest},
                  {"error", blob.status().ToString()}});
      continue;
    }
    std::string repair;
    leveldb::WriteBatch batch;
    Status written;
    {
      ReaderLock collect(&db_->collection_mutex());
      MutexLock lock(&db_->write_mutex());
      if (blob.ok()) {
        ContentInfo info;
        info.digest = intent.digest;
        info.size = intent.size;
        info.created_at = info.updated_at = Timestamp(std::chrono::duration_cast<Timestamp::duration>(
            std::chrono::nanoseconds(intent.created_ns)));
        info.labels = intent.labels;
        const bool lease_held = CheckLease(*db_, intent.ns, intent.lease).ok();
        auto existed = RecordBlobBatch(intent.ns, intent.key, intent.lease, lease_held, info, batch);
        written = existed.status();
        repair = existed.ok() && *existed
                     ? "rolled forward: the namespace had the blob already; dropped the ingest"
                 : lease_held || intent.lease.empty()
                     ? "rolled forward: recorded the blob the backend holds"
                     : "rolled forward: recorded the blob the backend holds (its lease is gone)";
      } else {
        repair = "rolled back: the backend had not published the blob; the ingest stays";
      }
      batch.Delete(intent_key);
      if (written.ok()) written = db_->Write(batch);
    }
    if (!written.ok()) {
      ++counts.errors;
      log::Error("cannot repair an interrupted content commit; keeping its intent",
                 {{"namespace", intent.ns}, {"ref", intent.key}, {"digest", intent.digest},
                  {"error", written.ToString()}});
      continue;
    }
    changed = true;
    ++(blob.ok() ? counts.rolled_forward : counts.rolled_back);
    log::Warn("repaired an interrupted content commit",
              {{"namespace", intent.ns}, {"ref", intent.key}, {"digest", intent.digest},
               {"repair", repair}});
  }
  if (changed) db_->MarkDirty(kContentBackend);
  return Status::Ok();
}

Result<IngestStatus> NamespacedContentStore::GetStatus(std::string_view ns,
                                                       std::string_view ref) {
  BERTH_RETURN_IF_ERROR(ValidateRef(ref));
  auto st = backend_->GetStatus(BackendRef(ns, ref));
  if (!st.ok()) {
    if (st.status().Is(Code::kNotFound)) {
      return Status::NotFound("ref " + std::string(ref));
    }
    return st.status();
  }
  st->ref = std::string(ref);
  return st;
}

Result<std::vector<IngestStatus>> NamespacedContentStore::ListStatuses(
    std::string_view ns, const filters::Filter& filter) {
  auto all = backend_->ListStatuses(filters::Filter());
  if (!all.ok()) return all.status();
  const std::string prefix = std::string(ns) + "/";
  std::vector<IngestStatus> out;
  for (IngestStatus& st : *all) {
    if (st.ref.compare(0, prefix.size(), prefix) != 0) continue;
    st.ref = st.ref.substr(prefix.size());
    if (filter.Match(AdaptIngestStatus(st))) out.push_back(std::move(st));
  }
  return out;
}

Status NamespacedContentStore::Abort(std::string_view ns, std::string_view ref,
                                     std::string_view lease) {
  BERTH_RETURN_IF_ERROR(ValidateRef(ref));
  bool recorded = false;
  {
    ReaderLock collect(&db_->collection_mutex());
    MutexLock lock(&db_->write_mutex());
    auto record = db_->Get(keys::ContentIngest(ns, ref));
    if (!record.ok()) return record.status();
    recorded = record->has_value();
    if (recorded) {
      leveldb::WriteBatch batch;
      batch.Delete(keys::ContentIngest(ns, ref));
      ReleaseResource(batch, ns, lease, kResourceIngests, ref);
      BERTH_RETURN_IF_ERROR(db_->Write(batch));
    }
  }
  // A shared writer that never wrote has no backend ingest.
  Status s = backend_->Abort(BackendRef(ns, ref));
  if (recorded) db_->Mutated(true, kContentBackend);
  if (s.Is(Code::kNotFound)) {
    if (recorded) return Status::Ok();
    return Status::NotFound("ingest ref \"" + std::string(ref) + "\"");
  }
  return s;
}

Status NamespacedContentStore::Referenced(std::unordered_set<std::string>& digests,
                                          std::unordered_set<std::string>& ingests) const {
  const std::string_view root = keys::kContentIndexRoot;
  BERTH_RETURN_IF_ERROR(db_->Scan(root, [&](std::string_view key, std::string_view) {
    std::string_view rest = key.substr(root.size());
    digests.emplace(rest.substr(0, rest.find('/')));
    return true;
  }));
  auto namespaces = db_->ListNamespaces();
  if (!namespaces.ok()) return namespaces.status();
  for (const NamespaceRecord& ns : *namespaces) {
    const std::string prefix = keys::ContentIngestPrefix(ns.name);
    BERTH_RETURN_IF_ERROR(db_->Scan(prefix, [&](std::string_view key, std::string_view value) {
      ingests.insert(BackendRef(ns.name, key.substr(prefix.size())));
      auto record = DecodeInfo(value);
      if (record.ok() && !record->digest.empty()) digests.insert(record->digest);
      return true;
    }));
  }
  return Status::Ok();
}

Result<NamespacedContentStore::BackendCounts> NamespacedContentStore::CollectBackend() {
  WriterLock backend_lock(&backend_mu_);
  // Intents seen under backend_mu_ belong to no commit in flight: repair
  // them first; a blob one that cannot be repaired names stays.
  RecoveryCounts recovered;
  BERTH_RETURN_IF_ERROR(RecoverLocked(recovered));
  std::unordered_set<std::string> digests, ingests;
  BERTH_RETURN_IF_ERROR(Referenced(digests, ingests));
  BERTH_RETURN_IF_ERROR(ScanIntents([&](const std::string&, const Intent& intent) {
    if (!intent.digest.empty()) digests.insert(intent.digest);
    ingests.insert(BackendRef(intent.ns, intent.key));
  }));
  std::vector<std::string> unreferenced;
  BERTH_RETURN_IF_ERROR(backend_->Walk(filters::Filter(), [&](const ContentInfo& info) {
    if (!digests.count(info.digest)) unreferenced.push_back(info.digest);
    return Status::Ok();
  }));
  BackendCounts counts;
  for (const std::string& digest : unreferenced) {
    Status s = backend_->Delete(digest);
    if (s.ok()) {
      ++counts.blobs;
    } else if (!s.Is(Code::kNotFound)) {
      ++counts.errors;
      log::Warn("garbage collection could not remove a blob",
                {{"digest", digest}, {"error", s.ToString()}});
    }
  }
  auto statuses = backend_->ListStatuses(filters::Filter());
  if (!statuses.ok()) return statuses.status();
  for (const IngestStatus& st : *statuses) {
    if (ingests.count(st.ref)) continue;
    Status s = backend_->Abort(st.ref);
    if (s.ok()) {
      ++counts.ingests;
    } else if (!s.Is(Code::kNotFound)) {
      ++counts.errors;
      log::Warn("garbage collection could not abort an ingest",
                {{"ref", st.ref}, {"error", s.ToString()}});
    }
  }
  return counts;
}

}  // namespace berth::host::metadata
