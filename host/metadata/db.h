// MetadataStore: the daemon's namespaced metadata in one LevelDB database
// (<root>/io.containerd.metadata.v1.leveldb/meta.db), and the namespaces in it.
//
// Key schema (frozen on disk; every key is "/"-separated text, and neither
// namespace names, snapshotter names nor digests contain "/"; lease ids are
// escaped, keys::EscapedLeaseId):
//
//   v1/namespaces/<ns>                       Namespace proto (name, labels)
//   v1/n/<ns>/content/blob/<digest>          content Info proto (size,
//                                            created_at, updated_at, labels)
//   v1/n/<ns>/content/ingest/<ref>           an ingest the namespace has open:
//                                            content Info proto whose digest is
//                                            the blob a shared writer stands on
//                                            ("" when it writes its own bytes),
//                                            and, unless a lease holds it, the
//                                            label containerd.io/gc.expire
//                                            (RFC 3339). The backend's ref is
//                                            "<ns>/<ref>".
//   v1/n/<ns>/snapshots/<snapshotter>/<key>  snapshot record (see snapshots.h)
//   v1/n/<ns>/snapshot-children/<snapshotter>/<n>/<parent>/<child>
//                                            "" — `child`'s parent is `parent`,
//                                            whose length in bytes is <n> (so
//                                            keys holding "/" cannot collide)
//   v1/n/<ns>/containers/<id>                containerd.services.containers.v1.
//                                            Container proto (the id is an
//                                            identifier: no "/")
//   v1/n/<ns>/images/<name>                  containerd.services.images.v1.Image
//                                            proto (the name is a reference and
//                                            may hold "/": it is the whole rest
//                                            of the key)
//   v1/n/<ns>/leases/<escaped id>            Lease proto (id, created_at, labels)
//   v1/n/<ns>/leases/<id>/content/<digest>   "" — resources the lease holds;
//   v1/n/<ns>/leases/<id>/ingests/<ref>      the part after "<id>/" is the
//   v1/n/<ns>/leases/<id>/snapshots/<snapshotter>/<key>
//                                            resource's type and id as the
//                                            leases API names them
//   v1/index/content/<digest>/<ns>           "" — which namespaces refer to a
//                                            blob
//   v1/snapshot-seq/<snapshotter>            last backend key number handed out
//   v1/intents/snapshots/<snapshotter>/<new backend key>
//   v1/intents/content/<ns>/<ref>            a two-store change in flight, or
//                                            left by a crash (intents.h)
//
// Everything stored under v1/n/<ns>/ counts as the namespace's contents: a
// namespace with any such key cannot be deleted. The component after
// "v1/n/<ns>/" names the kind ("content", "snapshots", "leases", ...); garbage
// collection (gc.h) reads every kind in one pass.
//
// Nothing is removed from a backend when a record goes: a blob, an ingest's
// bytes or a backend snapshot is freed by the next garbage collection once no
// record refers to it.
//
// Thread-safety: reads are safe from any thread (LevelDB). Read-modify-write
// transactions hold write_mutex() from their first read to their Write, and
// put every key they change in one WriteBatch. Changes that may add a
// reference (new records, labels, lease resources) also hold
// collection_mutex() shared from their first read to their Write (backend
// calls in between included), so that a collection, which holds it
// exclusively while it marks and sweeps, never sees half of one. Lock order:
// a snapshotter's or the content store's own lock, collection_mutex(),
// write_mutex().
#ifndef BERTH_HOST_METADATA_DB_H_
#define BERTH_HOST_METADATA_DB_H_

#include <functional>
#include <memory>
#include <cstdint>
#include "berth/mutex.h"
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include "berth/content.h"
#include "berth/metadata.h"
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
inline constexpr std::string_view kNamespaceDataRoot = "v1/n/";
inline constexpr std::string_view kContentIndexRoot = "v1/index/content/";
std::string ContentIngest(std::string_view ns, std::string_view ref);
std::string ContentIngestPrefix(std::string_view ns);
// Snapshot records: "v1/n/<ns>/snapshots/<snapshotter>/".
std::string SnapshotPrefix(std::string_view ns, std::string_view snapshotter);
std::string SnapshotChildrenPrefix(std::string_view ns, std::string_view snapshotter,
                                   std::string_view parent);
std::string SnapshotChild(std::string_view ns, std::string_view snapshotter,
                          std::string_view parent, std::string_view child);
// "v1/n/<ns>/containers/", and one container's record under it.
std::string ContainerPrefix(std::string_view ns);
std::string Container(std::string_view ns, std::string_view id);
// "v1/n/<ns>/images/", and one image's record under it.
inline std::string ImagePrefix(std::string_view ns) { return NamespaceData(ns) + "images/"; }
inline std::string Image(std::string_view ns, std::string_view name) {
  return ImagePrefix(ns) + std::string(name);
}
// "v1/n/<ns>/leases/".
std::string LeasePrefix(std::string_view ns);
// A lease id in keys: '%' and '/' escaped as "%25" and "%2F", so that any id
// (containerd accepts any non-empty string) is one key component.
std::string EscapedLeaseId(std::string_view id);
std::string Lease(std::string_view ns, std::string_view id);
// A lease's resources: Lease(ns, id) + "/".
std::string LeaseResourcePrefix(std::string_view ns, std::string_view id);
// `type` is "content", "ingests" or "snapshots/<snapshotter>".
std::string LeaseResource(std::string_view ns, std::string_view id, std::string_view type,
                          std::string_view resource_id);
}  // namespace keys

// The storage a collection's backend phase may have to free: the content
// store ("content") or one snapshotter ("snapshots/<name>").
inline constexpr std::string_view kContentBackend = "content";
std::string SnapshotterBackend(std::string_view snapshotter);

// What changed since the last collection (MetadataStore::TakeMutations).
struct MutationCounts {
  std::int64_t mutations = 0;   // committed changes
  std::int64_t deletions = 0;   // of which removed a reference
  bool all_dirty = false;       // no collection ran yet: every backend may hold garbage
  std::set<std::string> dirty;  // backends that lost a reference
};

using NamespaceRecord = berth::Namespace;

class MetadataStore {
 public:
  // Opens (creating) the database at `path`. Unknown on LevelDB errors,
  // Unavailable when another process holds its lock.
  static Result<std::unique_ptr<MetadataStore>> Open(const std::string& path);
  ~MetadataStore();

  leveldb::DB* db() { return db_.get(); }
  Mutex& write_mutex() BERTH_RETURN_CAPABILITY(write_mu_) { return write_mu_; }
  SharedMutex& collection_mutex() BERTH_RETURN_CAPABILITY(collect_mu_) { return collect_mu_; }

  // --- mutations ---
  // Registers `fn`, called by Mutated (see berth/gc.h, OnMutation).
  void OnMutation(std::function<void(bool deletion)> fn);
  // Reports a committed change: counts it, marks `dirty_backend` (if any) as
  // holding storage a collection may free, and calls the callbacks. Call
  // after the write, with no lock held.
  void Mutated(bool deletion, std::string_view dirty_backend = "");
  // Marks a backend dirty without counting a change (a collection's sweep).
  void MarkDirty(std::string_view backend);
  // The counts and dirty backends since the last call; resets them.
  MutationCounts TakeMutations();

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
  Status EnsureNamespace(std::string_view ns, leveldb::WriteBatch& batch)
      BERTH_REQUIRES(write_mu_);
  Result<NamespaceRecord> GetNamespace(std::string_view ns) const;  // NotFound
  Result<std::vector<NamespaceRecord>> ListNamespaces() const;
  // AlreadyExists when present; InvalidArgument for a bad name or label.
  Status CreateNamespace(const NamespaceRecord& record);
  // Field paths as in ApplyLabelUpdate; creates the namespace when absent.
  Result<NamespaceRecord> UpdateNamespace(const NamespaceRecord& record,
                                          const std::vector<std::string>& paths);
  // NotFound when absent; FailedPrecondition naming what it still holds.
  Status DeleteNamespace(std::string_view ns);

 private:
  explicit MetadataStore(std::unique_ptr<leveldb::DB> db);
  Status PutNamespace(const NamespaceRecord& record);

  std::unique_ptr<leveldb::DB> db_;
  // Serialise transactions (see the header comment); they guard the
  // database's state, not members. Lock order: collect_mu_, then write_mu_.
  Mutex write_mu_;
  SharedMutex collect_mu_ BERTH_ACQUIRED_BEFORE(write_mu_);

  Mutex mutation_mu_;
  std::vector<std::function<void(bool)>> callbacks_ BERTH_GUARDED_BY(mutation_mu_);
  MutationCounts mutations_ BERTH_GUARDED_BY(mutation_mu_){0, 0, true, {}};
};

// Status for a LevelDB error.
Status FromLevelDb(const leveldb::Status& s, std::string_view what);

}  // namespace berth::host::metadata

#endif  // BERTH_HOST_METADATA_DB_H_
