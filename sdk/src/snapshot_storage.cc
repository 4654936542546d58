// MetaStore on LevelDB. Layout (frozen; "v1" is the format):
//   "v1/seq"                        last id handed out, 8 bytes big-endian
//   "v1/s/<key>"                    the snapshot record (EncodeRecord)
//   "v1/p/<parent id><child id>"    child key; ids 8 bytes big-endian, so all
//                                   children of a parent share a prefix
#include "berth/snapshot_storage.h"

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <cstring>

#include "berth/mutex.h"

namespace berth::snapshots {
namespace {

constexpr char kSeqKey[] = "v1/seq";
constexpr char kSnapshotPrefix[] = "v1/s/";
constexpr char kParentPrefix[] = "v1/p/";
constexpr std::uint8_t kRecordVersion = 1;

struct Record {
  std::uint64_t id = 0;
  Info info;  // name filled from the key
  Usage usage;
};

void PutFixed64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}

bool GetFixed64(std::string_view& in, std::uint64_t& v) {
  if (in.size() < 8) return false;
  v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  in.remove_prefix(8);
  return true;
}

void PutString(std::string& out, std::string_view s) {
  PutFixed64(out, s.size());
  out.append(s);
}

bool GetString(std::string_view& in, std::string& s) {
  std::uint64_t n = 0;
  if (!GetFixed64(in, n) || in.size() < n) return false;
  s.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

std::int64_t ToNanos(Time t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch())
      .count();
}

Time FromNanos(std::int64_t ns) {
  return Time(std::chrono::duration_cast<Time::duration>(std::chrono::nanoseconds(ns)));
}

std::string EncodeRecord(const Record& r) {
  std::string out;
  out.push_back(static_cast<char>(kRecordVersion));
  PutFixed64(out, r.id);
  out.push_back(static_cast<char>(r.info.kind));
  PutString(out, r.info.parent);
  PutFixed64(out, static_cast<std::uint64_t>(ToNanos(r.info.created)));
  PutFixed64(out, static_cast<std::uint64_t>(ToNanos(r.info.updated)));
  PutFixed64(out, static_cast<std::uint64_t>(r.usage.size));
  PutFixed64(out, static_cast<std::uint64_t>(r.usage.inodes));
  PutFixed64(out, r.info.labels.size());
  for (const auto& [k, v] : r.info.labels) {
    PutString(out, k);
    PutString(out, v);
  }
  return out;
}

Status DecodeRecord(std::string_view key, std::string_view in, Record& r) {
  const Status bad = Status::Unknown("corrupt snapshot record for \"" +
                                     std::string(key) + "\"");
  if (in.size() < 2 || static_cast<std::uint8_t>(in[0]) != kRecordVersion) return bad;
  in.remove_prefix(1);
  std::uint64_t created = 0, updated = 0, size = 0, inodes = 0, nlabels = 0;
  if (!GetFixed64(in, r.id) || in.empty()) return bad;
  r.info.kind = static_cast<Kind>(in[0]);
  in.remove_prefix(1);
  if (!GetString(in, r.info.parent) || !GetFixed64(in, created) ||
      !GetFixed64(in, updated) || !GetFixed64(in, size) || !GetFixed64(in, inodes) ||
      !GetFixed64(in, nlabels)) {
    return bad;
  }
  r.info.name.assign(key);
  r.info.created = FromNanos(static_cast<std::int64_t>(created));
  r.info.updated = FromNanos(static_cast<std::int64_t>(updated));
  r.usage.size = static_cast<std::int64_t>(size);
  r.usage.inodes = static_cast<std::int64_t>(inodes);
  r.info.labels.clear();
  for (std::uint64_t i = 0; i < nlabels; ++i) {
    std::string k, v;
    if (!GetString(in, k) || !GetString(in, v)) return bad;
    r.info.labels.emplace(std::move(k), std::move(v));
  }
  return Status::Ok();
}

std::string SnapshotKey(std::string_view key) {
  return std::string(kSnapshotPrefix) + std::string(key);
}

std::string ParentPrefix(std::uint64_t parent) {
  std::string k(kParentPrefix);
  PutFixed64(k, parent);
  return k;
}

std::string ParentLink(std::uint64_t parent, std::uint64_t child) {
  std::string k = ParentPrefix(parent);
  PutFixed64(k, child);
  return k;
}

Status FromLevelDB(const leveldb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  return Status::Unknown(std::string(what) + ": " + s.ToString());
}

}  // namespace

// Every access to db_ holds mu_: shared to read, exclusive to change (and to
// hand out ids).
class MetaStore::Impl {
 public:
  Impl(std::unique_ptr<leveldb::DB> db, StoreOptions options)
      : db_(std::move(db)), options_(options) {
    write_options_.sync = options.sync;
  }

  // Reads the record of `key`; NotFound (with `missing` as message) if absent.
  Status Read(const std::string& key, Record& r, const std::string& missing) const
      BERTH_REQUIRES_SHARED(mu_) {
    std::string value;
    leveldb::Status s = db_->Get(leveldb::ReadOptions(), SnapshotKey(key), &value);
    if (s.IsNotFound()) return Status::NotFound(missing);
    BERTH_RETURN_IF_ERROR(FromLevelDB(s, "read snapshot"));
    return DecodeRecord(key, value, r);
  }

  bool Exists(const std::string& key) const BERTH_REQUIRES_SHARED(mu_) {
    std::string value;
    return db_->Get(leveldb::ReadOptions(), SnapshotKey(key), &value).ok();
  }

  // Ids of `parent` and its ancestors, nearest first.
  Result<std::vector<std::string>> ParentChain(const Record& parent) const
      BERTH_REQUIRES_SHARED(mu_) {
    std::vector<std::string> ids{std::to_string(parent.id)};
    std::string next = parent.info.parent;
    while (!next.empty()) {
      Record r;
      BERTH_RETURN_IF_ERROR(Read(next, r, "missing parent \"" + next + "\""));
      ids.push_back(std::to_string(r.id));
      next = r.info.parent;
    }
    return ids;
  }

  bool HasChildren(std::uint64_t id) const BERTH_REQUIRES_SHARED(mu_) {
    const std::string prefix = ParentPrefix(id);
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    it->Seek(prefix);
    return it->Valid() && it->key().starts_with(prefix);
  }

  Result<std::uint64_t> NextId(leveldb::WriteBatch& batch) const BERTH_REQUIRES(mu_) {
    std::string value;
    leveldb::Status s = db_->Get(leveldb::ReadOptions(), kSeqKey, &value);
    std::uint64_t last = 0;
    if (s.ok()) {
      std::string_view in(value);
      if (!GetFixed64(in, last)) return Status::Unknown("corrupt snapshot sequence");
    } else if (!s.IsNotFound()) {
      return FromLevelDB(s, "read snapshot sequence");
    }
    std::string next;
    PutFixed64(next, last + 1);
    batch.Put(kSeqKey, next);
    return last + 1;
  }

  Status Write(leveldb::WriteBatch& batch) BERTH_REQUIRES(mu_) {
    return FromLevelDB(db_->Write(write_options_, &batch), "write snapshot store");
  }

  std::unique_ptr<leveldb::DB> db_;
  StoreOptions options_;
  leveldb::WriteOptions write_options_;
  mutable SharedMutex mu_;
};

MetaStore::MetaStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetaStore::~MetaStore() = default;

Result<std::unique_ptr<MetaStore>> MetaStore::Open(const std::string& path,
                                                   StoreOptions options) {
  leveldb::Options db_options;
  db_options.create_if_missing = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(db_options, path, &raw);
  if (!s.ok()) {
    return Status::Unknown("open snapshot store " + path + ": " + s.ToString());
  }
  auto impl = std::make_unique<Impl>(std::unique_ptr<leveldb::DB>(raw), options);
  return std::unique_ptr<MetaStore>(new MetaStore(std::move(impl)));
}

Result<StoredSnapshot> MetaStore::CreateSnapshot(Kind kind, const std::string& key,
                                                 const std::string& parent,
                                                 const Labels& labels,
                                                 const BeforeCommit& before_commit) {
  if (kind != Kind::kActive && kind != Kind::kView) {
    return Status::InvalidArgument(
        "snapshot type " + std::string(KindName(kind)) +
        " invalid; only snapshots of type Active or View can be created");
  }
  WriterLock lock(&impl_->mu_);
  StoredSnapshot out;
  out.kind = kind;
  Record parent_record;
  if (!parent.empty()) {
    BERTH_RETURN_IF_ERROR(
        impl_->Read(parent, parent_record, "missing parent \"" + parent + "\""));
    if (parent_record.info.kind != Kind::kCommitted) {
      return Status::InvalidArgument("parent \"" + parent +
                                     "\" is not committed snapshot");
    }
  }
  if (impl_->Exists(key)) return Status::AlreadyExists("snapshot " + key);

  leveldb::WriteBatch batch;
  Result<std::uint64_t> id = impl_->NextId(batch);
  if (!id.ok()) return id.status();
  Record r;
  r.id = *id;
  r.info.kind = kind;
  r.info.parent = parent;
  r.info.labels = labels;
  std::erase_if(r.info.labels, [](const auto& kv) { return kv.second.empty(); });
  r.info.created = r.info.updated = std::chrono::system_clock::now();
  batch.Put(SnapshotKey(key), EncodeRecord(r));
  if (!parent.empty()) {
    batch.Put(ParentLink(parent_record.id, r.id), key);
    Result<std::vector<std::string>> chain = impl_->ParentChain(parent_record);
    if (!chain.ok()) return chain.status();
    out.parent_ids = std::move(*chain);
  }
  out.id = std::to_string(r.id);
  if (before_commit) BERTH_RETURN_IF_ERROR(before_commit(out));
  BERTH_RETURN_IF_ERROR(impl_->Write(batch));
  return out;
}

Result<StoredInfo> MetaStore::GetInfo(const std::string& key) const {
  ReaderLock lock(&impl_->mu_);
  Record r;
  BERTH_RETURN_IF_ERROR(impl_->Read(key, r, "snapshot " + key + " does not exist"));
  return StoredInfo{std::to_string(r.id), std::move(r.info), r.usage};
}

Result<Info> MetaStore::UpdateInfo(const Info& info,
                                   const std::vector<std::string>& fieldpaths) {
  WriterLock lock(&impl_->mu_);
  Record r;
  BERTH_RETURN_IF_ERROR(
      impl_->Read(info.name, r, "snapshot " + info.name + " does not exist"));
  BERTH_RETURN_IF_ERROR(ApplyUpdate(info, fieldpaths, r.info));
  r.info.updated = std::chrono::system_clock::now();
  leveldb::WriteBatch batch;
  batch.Put(SnapshotKey(info.name), EncodeRecord(r));
  BERTH_RETURN_IF_ERROR(impl_->Write(batch));
  return r.info;
}

Status MetaStore::WalkInfo(
    const std::function<Status(const std::string&, const Info&)>& fn,
    const std::vector<std::string>& filter_exprs) const {
  Result<filters::Filter> filter = filters::ParseAll(filter_exprs);
  if (!filter.ok()) return filter.status();
  std::vector<Record> matches;
  {
    ReaderLock lock(&impl_->mu_);
    std::unique_ptr<leveldb::Iterator> it(
        impl_->db_->NewIterator(leveldb::ReadOptions()));
    const leveldb::Slice prefix(kSnapshotPrefix);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      std::string_view key(it->key().data() + prefix.size(),
                           it->key().size() - prefix.size());
      Record r;
      BERTH_RETURN_IF_ERROR(
          DecodeRecord(key, std::string_view(it->value().data(), it->value().size()), r));
      if (filter->Match(AdaptInfo(r.info))) matches.push_back(std::move(r));
    }
    BERTH_RETURN_IF_ERROR(FromLevelDB(it->status(), "walk snapshots"));
  }
  for (const Record& r : matches) {
    BERTH_RETURN_IF_ERROR(fn(std::to_string(r.id), r.info));
  }
  return Status::Ok();
}

Result<StoredSnapshot> MetaStore::GetSnapshot(const std::string& key) const {
  ReaderLock lock(&impl_->mu_);
  Record r;
  BERTH_RETURN_IF_ERROR(impl_->Read(key, r, "snapshot " + key + " does not exist"));
  if (r.info.kind != Kind::kActive && r.info.kind != Kind::kView) {
    return Status::FailedPrecondition("requested snapshot " + key +
                                      " not active or view");
  }
  StoredSnapshot out{std::to_string(r.id), r.info.kind, {}};
  if (!r.info.parent.empty()) {
    Record parent;
    BERTH_RETURN_IF_ERROR(impl_->Read(r.info.parent, parent, "parent does not exist"));
    Result<std::vector<std::string>> chain = impl_->ParentChain(parent);
    if (!chain.ok()) return chain.status();
    out.parent_ids = std::move(*chain);
  }
  return out;
}

Result<StoredSnapshot> MetaStore::Remove(const std::string& key,
                                         const BeforeCommit& before_commit) {
  WriterLock lock(&impl_->mu_);
  Record r;
  BERTH_RETURN_IF_ERROR(impl_->Read(key, r, "snapshot " + key + " does not exist"));
  if (impl_->HasChildren(r.id)) {
    return Status::FailedPrecondition("cannot remove snapshot with child");
  }
  leveldb::WriteBatch batch;
  batch.Delete(SnapshotKey(key));
  if (!r.info.parent.empty()) {
    Record parent;
    BERTH_RETURN_IF_ERROR(
        impl_->Read(r.info.parent, parent, "snapshot " + key + " parent missing"));
    batch.Delete(ParentLink(parent.id, r.id));
  }
  StoredSnapshot out{std::to_string(r.id), r.info.kind, {}};
  if (before_commit) BERTH_RETURN_IF_ERROR(before_commit(out));
  BERTH_RETURN_IF_ERROR(impl_->Write(batch));
  return out;
}

Result<std::string> MetaStore::CommitActive(const std::string& key,
                                            const std::string& name,
                                            const Usage& usage, const Labels& labels,
                                            const BeforeCommit& before_commit) {
  WriterLock lock(&impl_->mu_);
  if (impl_->Exists(name)) {
    return Status::AlreadyExists("committed snapshot " + name);
  }
  Record r;
  BERTH_RETURN_IF_ERROR(
      impl_->Read(key, r, "failed to get active snapshot \"" + key + "\""));
  if (r.info.kind != Kind::kActive) {
    return Status::FailedPrecondition("snapshot \"" + key + "\" is not active");
  }
  r.info.kind = Kind::kCommitted;
  r.info.created = r.info.updated = std::chrono::system_clock::now();
  r.info.labels = labels;
  std::erase_if(r.info.labels, [](const auto& kv) { return kv.second.empty(); });
  r.usage = usage;
  leveldb::WriteBatch batch;
  batch.Delete(SnapshotKey(key));
  batch.Put(SnapshotKey(name), EncodeRecord(r));
  if (!r.info.parent.empty()) {
    Record parent;
    BERTH_RETURN_IF_ERROR(impl_->Read(r.info.parent, parent,
                                      "missing parent \"" + r.info.parent +
                                          "\" of snapshot \"" + key + "\""));
    batch.Put(ParentLink(parent.id, r.id), name);
  }
  const std::string id = std::to_string(r.id);
  if (before_commit) {
    BERTH_RETURN_IF_ERROR(before_commit(StoredSnapshot{id, Kind::kCommitted, {}}));
  }
  BERTH_RETURN_IF_ERROR(impl_->Write(batch));
  return id;
}

Result<std::map<std::string, std::string>> MetaStore::IdMap() const {
  ReaderLock lock(&impl_->mu_);
  std::map<std::string, std::string> ids;
  std::unique_ptr<leveldb::Iterator> it(impl_->db_->NewIterator(leveldb::ReadOptions()));
  const leveldb::Slice prefix(kSnapshotPrefix);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view key(it->key().data() + prefix.size(), it->key().size() - prefix.size());
    Record r;
    BERTH_RETURN_IF_ERROR(
        DecodeRecord(key, std::string_view(it->value().data(), it->value().size()), r));
    ids.emplace(std::to_string(r.id), std::string(key));
  }
  BERTH_RETURN_IF_ERROR(FromLevelDB(it->status(), "list snapshots"));
  return ids;
}

}  // namespace berth::snapshots
