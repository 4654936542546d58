#include "metadata/db.h"

#include <filesystem>
#include <set>

#include "containerd/services/namespaces/v1/namespace.pb.h"
#include "berth/identifiers.h"

namespace berth::host::metadata {

namespace nspb = containerd::services::namespaces::v1;

namespace keys {
std::string Namespace(std::string_view ns) {
  return std::string(kNamespacesPrefix) + std::string(ns);
}
std::string NamespaceData(std::string_view ns) {
  return "v1/n/" + std::string(ns) + "/";
}
std::string ContentBlobPrefix(std::string_view ns) {
  return NamespaceData(ns) + "content/blob/";
}
std::string ContentBlob(std::string_view ns, std::string_view digest) {
  return ContentBlobPrefix(ns) + std::string(digest);
}
std::string ContentIndexPrefix(std::string_view digest) {
  return "v1/index/content/" + std::string(digest) + "/";
}
std::string ContentIndex(std::string_view digest, std::string_view ns) {
  return ContentIndexPrefix(digest) + std::string(ns);
}
std::string ContentIngestPrefix(std::string_view ns) {
  return NamespaceData(ns) + "content/ingest/";
}
std::string ContentIngest(std::string_view ns, std::string_view ref) {
  return ContentIngestPrefix(ns) + std::string(ref);
}
std::string SnapshotPrefix(std::string_view ns, std::string_view snapshotter) {
  return NamespaceData(ns) + "snapshots/" + std::string(snapshotter) + "/";
}
std::string SnapshotChildrenPrefix(std::string_view ns, std::string_view snapshotter,
                                   std::string_view parent) {
  return NamespaceData(ns) + "snapshot-children/" + std::string(snapshotter) + "/" +
         std::to_string(parent.size()) + "/" + std::string(parent) + "/";
}
std::string SnapshotChild(std::string_view ns, std::string_view snapshotter,
                          std::string_view parent, std::string_view child) {
  return SnapshotChildrenPrefix(ns, snapshotter, parent) + std::string(child);
}
std::string ContainerPrefix(std::string_view ns) { return NamespaceData(ns) + "containers/"; }
std::string Container(std::string_view ns, std::string_view id) {
  return ContainerPrefix(ns) + std::string(id);
}
std::string LeasePrefix(std::string_view ns) { return NamespaceData(ns) + "leases/"; }
std::string EscapedLeaseId(std::string_view id) {
  std::string out;
  out.reserve(id.size());
  for (char c : id) {
    if (c == '%') {
      out += "%25";
    } else if (c == '/') {
      out += "%2F";
    } else {
      out.push_back(c);
    }
  }
  return out;
}
std::string Lease(std::string_view ns, std::string_view id) {
  return LeasePrefix(ns) + EscapedLeaseId(id);
}
std::string LeaseResourcePrefix(std::string_view ns, std::string_view id) {
  return Lease(ns, id) + "/";
}
std::string LeaseResource(std::string_view ns, std::string_view id, std::string_view type,
                          std::string_view resource_id) {
  return LeaseResourcePrefix(ns, id) + std::string(type) + "/" + std::string(resource_id);
}
}  // namespace keys

std::string SnapshotterBackend(std::string_view snapshotter) {
  return "snapshots/" + std::string(snapshotter);
}

void MetadataStore::OnMutation(std::function<void(bool deletion)> fn) {
  MutexLock lock(&mutation_mu_);
  callbacks_.push_back(std::move(fn));
}

void MetadataStore::Mutated(bool deletion, std::string_view dirty_backend) {
  std::vector<std::function<void(bool)>> callbacks;
  {
    MutexLock lock(&mutation_mu_);
    ++mutations_.mutations;
    if (deletion) ++mutations_.deletions;
    if (!dirty_backend.empty()) mutations_.dirty.emplace(dirty_backend);
    callbacks = callbacks_;
  }
  for (const auto& fn : callbacks) fn(deletion);
}

void MetadataStore::MarkDirty(std::string_view backend) {
  MutexLock lock(&mutation_mu_);
  mutations_.dirty.emplace(backend);
}

MutationCounts MetadataStore::TakeMutations() {
  MutexLock lock(&mutation_mu_);
  MutationCounts taken = std::move(mutations_);
  mutations_ = MutationCounts{};
  return taken;
}

Status FromLevelDb(const leveldb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return Status::NotFound(std::string(what));
  std::string text = s.ToString();
  if (text.find("lock") != std::string::npos) {
    return Status::Unavailable(std::string(what) + ": " + text);
  }
  return Status::Unknown(std::string(what) + ": " + text);
}

MetadataStore::MetadataStore(std::unique_ptr<leveldb::DB> db) : db_(std::move(db)) {}
MetadataStore::~MetadataStore() = default;

Result<std::unique_ptr<MetadataStore>> MetadataStore::Open(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return Status::Unknown("mkdir for " + path + ": " + ec.message());
  leveldb::Options options;
  options.create_if_missing = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, path, &raw);
  if (!s.ok()) return FromLevelDb(s, "open metadata database " + path);
  return std::unique_ptr<MetadataStore>(
      new MetadataStore(std::unique_ptr<leveldb::DB>(raw)));
}

Status MetadataStore::Write(leveldb::WriteBatch& batch, bool sync) {
  leveldb::WriteOptions options;
  options.sync = sync;
  return FromLevelDb(db_->Write(options, &batch), "metadata write");
}

Result<std::optional<std::string>> MetadataStore::Get(std::string_view key) const {
  std::string value;
  leveldb::Status s =
      db_->Get(leveldb::ReadOptions(), leveldb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromLevelDb(s, "metadata read");
  return std::optional<std::string>(std::move(value));
}

Status MetadataStore::Scan(
    std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(leveldb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!fn(key, std::string_view(it->value().data(), it->value().size()))) break;
  }
  return FromLevelDb(it->status(), "metadata scan");
}

Result<bool> MetadataStore::HasPrefix(std::string_view prefix) const {
  bool found = false;
  BERTH_RETURN_IF_ERROR(Scan(prefix, [&](std::string_view, std::string_view) {
    found = true;
    return false;
  }));
  return found;
}

namespace {

std::string Encode(const NamespaceRecord& r) {
  nspb::Namespace pb;
  pb.set_name(r.name);
  for (const auto& [k, v] : r.labels) (*pb.mutable_labels())[k] = v;
  return pb.SerializeAsString();
}

Result<NamespaceRecord> Decode(std::string_view bytes) {
  nspb::Namespace pb;
  if (!pb.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Unknown("corrupt namespace record");
  }
  NamespaceRecord r;
  r.name = pb.name();
  r.labels.insert(pb.labels().begin(), pb.labels().end());
  return r;
}

}  // namespace

Status MetadataStore::EnsureNamespace(std::string_view ns, leveldb::WriteBatch& batch) {
  auto existing = Get(keys::Namespace(ns));
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) return Status::Ok();
  batch.Put(keys::Namespace(ns), Encode(NamespaceRecord{std::string(ns), {}}));
  return Status::Ok();
}

Result<NamespaceRecord> MetadataStore::GetNamespace(std::string_view ns) const {
  auto v = Get(keys::Namespace(ns));
  if (!v.ok()) return v.status();
  if (!v->has_value()) {
    return Status::NotFound("namespace \"" + std::string(ns) + "\"");
  }
  return Decode(**v);
}

Result<std::vector<NamespaceRecord>> MetadataStore::ListNamespaces() const {
  std::vector<NamespaceRecord> out;
  Status bad;
  BERTH_RETURN_IF_ERROR(Scan(keys::kNamespacesPrefix,
                             [&](std::string_view, std::string_view value) {
                               auto r = Decode(value);
                               if (!r.ok()) {
                                 bad = r.status();
                                 return false;
                               }
                               out.push_back(std::move(*r));
                               return true;
                             }));
  BERTH_RETURN_IF_ERROR(bad);
  return out;
}

Status MetadataStore::PutNamespace(const NamespaceRecord& record) {
  leveldb::WriteBatch batch;
  batch.Put(keys::Namespace(record.name), Encode(record));
  return Write(batch);
}

Status MetadataStore::CreateNamespace(const NamespaceRecord& record) {
  BERTH_RETURN_IF_ERROR(ValidateIdentifier(record.name));
  BERTH_RETURN_IF_ERROR(ValidateLabels(record.labels));
  MutexLock lock(&write_mu_);
  auto existing = Get(keys::Namespace(record.name));
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    return Status::AlreadyExists("namespace \"" + record.name + "\"");
  }
  return PutNamespace(record);
}

Result<NamespaceRecord> MetadataStore::UpdateNamespace(
    const NamespaceRecord& record, const std::vector<std::string>& paths) {
  BERTH_RETURN_IF_ERROR(ValidateIdentifier(record.name));
  MutexLock lock(&write_mu_);
  // Labelling a namespace that does not exist creates it, as containerd's
  // SetLabel does (the Go client's first call is often such a label).
  auto current = GetNamespace(record.name);
  if (!current.ok() && current.status().Is(Code::kNotFound)) current = NamespaceRecord{record.name, {}};
  if (!current.ok()) return current.status();
  Status s = ApplyLabelUpdate(current->labels, record.labels, paths);
  if (!s.ok()) {
    return Status::InvalidArgument("cannot update namespace \"" + record.name +
                                   "\": " + s.message());
  }
  BERTH_RETURN_IF_ERROR(ValidateLabels(current->labels));
  BERTH_RETURN_IF_ERROR(PutNamespace(*current));
  return current;
}

Status MetadataStore::DeleteNamespace(std::string_view ns) {
  MutexLock lock(&write_mu_);
  auto current = GetNamespace(ns);
  if (!current.ok()) return current.status();
  const std::string data = keys::NamespaceData(ns);
  std::set<std::string> kinds;
  BERTH_RETURN_IF_ERROR(Scan(data, [&](std::string_view key, std::string_view) {
    std::string_view rest = key.substr(data.size());
    kinds.insert(std::string(rest.substr(0, rest.find('/'))));
    return true;
  }));
  if (!kinds.empty()) {
    std::string what;
    for (const std::string& k : kinds) what += (what.empty() ? "" : ", ") + k;
    return Status::FailedPrecondition("namespace \"" + std::string(ns) +
                                      "\" must be empty, but it still has " + what);
  }
  leveldb::WriteBatch batch;
  batch.Delete(keys::Namespace(ns));
  return Write(batch);
}

}  // namespace berth::host::metadata
