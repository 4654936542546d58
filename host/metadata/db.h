// MetadataStore: the daemon's namespaced metadata in one LevelDB database
// (<root>/io.containerd.metadata.v1.leveldb/meta.db), and the namespaces in it.
//
// Key schema (frozen on disk; every key is "/"-separated text, and neither
// namespace names nor digests contain "/"):
//
//   v1/namespaces/<ns>                       Namespace proto (name, labels)
//   v1/n/<ns>/content/blob/<digest>          content Info proto (size,
//                                            created_at, updated_at, labels)
//   v1/n/<ns>/leases/<id>/...                reserved: leases
//   v1/n/<ns>/snapshots/<snapshotter>/<key>  reserved: snapshot records
//   v1/index/content/<digest>/<ns>           "" — which namespaces refer to a
//                                            blob (the blob goes with the last)
//
// Everything stored under v1/n/<ns>/ counts as the namespace's contents: a
// namespace with any such key cannot be deleted. The component after
// "v1/n/<ns>/" names the kind ("content", "snapshots", ...).
//
// Thread-safety: reads are safe from any thread (LevelDB). Read-modify-write
// transactions hold write_mutex() from their first read to their Write, and
// put every key they change in one WriteBatch.
#ifndef BERTH_HOST_METADATA_DB_H_
#define BERTH_HOST_METADATA_DB_H_

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include "berth/content.h"
#include "berth/status.h"

namespace berth::host::metadata {

namespace keys {
std::string Namespace(std::string_view ns);
inline constexpr std::string_view kNamespacesPrefix = "v1/namespaces/";
// "v1/n/<ns>/": everything a namespace holds.
std::string NamespaceData(std::string_view ns);
std::string ContentBlob(std::string_view ns, std::string_view digest);
std::string ContentBlobPrefix(std::string_view ns);
std::string ContentIndex(std::string_view digest, std::string_view ns);
std::string ContentIndexPrefix(std::string_view digest);
// Reserved for snapshot records: "v1/n/<ns>/snapshots/<snapshotter>/".
std::string SnapshotPrefix(std::string_view ns, std::string_view snapshotter);
}  // namespace keys

struct NamespaceRecord {
  std::string name;
  Labels labels;
};

class MetadataStore {
 public:
  // Opens (creating) the database at `path`. Unknown on LevelDB errors,
  // Unavailable when another process holds its lock.
  static Result<std::unique_ptr<MetadataStore>> Open(const std::string& path);
  ~MetadataStore();

  leveldb::DB* db() { return db_.get(); }
  std::mutex& write_mutex() { return write_mu_; }

  // Applies `batch` atomically; `sync` waits for it to reach the disk.
  Status Write(leveldb::WriteBatch& batch, bool sync = true);
  // nullopt when the key is absent.
  Result<std::optional<std::string>> Get(std::string_view key) const;
  // Calls fn(key, value) for each key starting with `prefix`, in key order,
  // until fn returns false.
  Status Scan(std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& fn) const;
  // True if any key starts with `prefix`.
  Result<bool> HasPrefix(std::string_view prefix) const;

  // --- namespaces ---
  // REQUIRES: write_mutex() held. Adds the namespace's record to `batch` when
  // it does not exist yet (writing into a namespace creates it).
  Status EnsureNamespace(std::string_view ns, leveldb::WriteBatch& batch);
  Result<NamespaceRecord> GetNamespace(std::string_view ns) const;  // NotFound
  Result<std::vector<NamespaceRecord>> ListNamespaces() const;
  // AlreadyExists when present; InvalidArgument for a bad name or label.
  Status CreateNamespace(const NamespaceRecord& record);
  // Field paths as in ApplyLabelUpdate; NotFound when absent.
  Result<NamespaceRecord> UpdateNamespace(const NamespaceRecord& record,
                                          const std::vector<std::string>& paths);
  // NotFound when absent; FailedPrecondition naming what it still holds.
  Status DeleteNamespace(std::string_view ns);

 private:
  explicit MetadataStore(std::unique_ptr<leveldb::DB> db);
  Status PutNamespace(const NamespaceRecord& record);

  std::unique_ptr<leveldb::DB> db_;
  std::mutex write_mu_;
};

// Status for a LevelDB error.
Status FromLevelDb(const leveldb::Status& s, std::string_view what);

}  // namespace berth::host::metadata

#endif  // BERTH_HOST_METADATA_DB_H_
