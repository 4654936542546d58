// NamespacedSnapshotter: each namespace's view of one backend snapshotter, as
// containerd's metadata layer gives it.
//
// - Clients name snapshots per namespace; the backend sees the unique key
//   "<ns>/<seq>/<key>", where <seq> comes from a per-snapshotter counter
//   ("v1/snapshot-seq/<snapshotter>", outside any namespace's data).
// - The namespace's record (v1/n/<ns>/snapshots/<snapshotter>/<key>, a
//   containerd.services.snapshots.v1.Info proto whose `name` is the backend
//   key) holds the client's parent name, times and every label; only labels
//   under "containerd.io/snapshot/" and "containerd.io/snapshot.ref" reach the
//   backend.
// - Stat and Walk answer per namespace: the backend's kind and labels under
//   the namespace's name, parent, times and labels.
// - Remove removes only the record, as containerd's metadata layer does
//   (FailedPrecondition while the namespace has a snapshot over it; the
//   parent-child links are indexed under v1/n/<ns>/snapshot-children/, db.h).
//   The backend snapshot stays until a garbage collection finds no record
//   naming it (Cleanup). A record whose backend snapshot is gone (left by an
//   older daemon or a crash) counts as absent everywhere: Stat and Walk skip
//   it, a new snapshot may take its key, Remove and Cleanup drop it.
// - Leases: Prepare and View put the new snapshot in the caller's lease,
//   Commit moves the lease's hold from the key to the name, Remove drops it.
//   A lease that does not exist is NotFound.
// - Every change is reported to MetadataStore::Mutated once written.
// - Remote snapshots (containerd's contract): a backend that answers a
//   Prepare or View carrying the label kLabelSnapshotRef (the target name)
//   with AlreadyExists has the target committed already. The committed
//   backend snapshot carrying that label over the same parent (found by
//   Walk) becomes the namespace's snapshot named after the target, with the
//   request's labels over the backend's, and the call answers AlreadyExists
//   ("target snapshot ... from snapshotter"). AlreadyExists without the
//   label is Unknown: backend keys are always new.
//
// - Cleanup (a collection's backend phase, and once at startup) removes
//   backend snapshots no record refers to, children first, and records whose
//   backend snapshot is gone, then asks the backend to free unreferenced
//   storage (its own Cleanup, e.g. overlay's deferred removals). It holds
//   this snapshotter's lock meanwhile, so only this snapshotter's changes
//   wait for it.
//
// - Crash safety: Prepare, View and Commit change two stores, the backend
//   and this database. Each writes an intent first (intents.h; synced, with
//   the new backend key's sequence number), then calls the backend, then
//   writes the record change and the intent's deletion in one batch, so a
//   kill at any point leaves either no intent (the change is whole, or never
//   started) or an intent that Recover resolves by asking the backend:
//   Prepare/View roll back (the backend snapshot made for it, if any, is
//   removed; containerd, whose backend call runs inside the record's
//   transaction, ends the same way); Commit rolls forward when the backend
//   holds the committed snapshot (the active one is gone from the backend
//   then, its data now in the committed one: the records are rewritten as
//   the call would have) and back when it does not. Every repair is logged
//   (warn, naming the snapshot and what was done). Remove writes one batch
//   and leaves the backend to Cleanup, so it needs no intent. The metadata
//   plugin calls Recover before its start-up Cleanup; Cleanup recovers too
//   (under mu_, so an intent it sees belongs to no call in flight, e.g. one
//   whose final write failed) and never removes a backend snapshot that an
//   intent it could not resolve names. Failpoints (failpoint.h) sit between
//   the steps.
//
// Keys and names are names, not paths: any non-empty string of at most
// kMaxSnapshotKey bytes (containerd's Go client uses keys like
// "/tmp/suite-1/preparing" and "default/1/sha256:..."). No key reaches the
// filesystem: the backend gets "<ns>/<seq>/<key>" and lays snapshots out by
// its own numeric ids. Labels are checked as containerd checks them.
// Thread-safe: changes are serialised per snapshotter.
#ifndef BERTH_HOST_METADATA_SNAPSHOTS_H_
#define BERTH_HOST_METADATA_SNAPSHOTS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include "berth/mutex.h"
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "berth/snapshotter.h"
#include "metadata/db.h"
#include "metadata/intents.h"

namespace berth::host::metadata {

inline constexpr std::size_t kMaxSnapshotKey = 4096;

class NamespacedSnapshotter {
 public:
  NamespacedSnapshotter(MetadataStore* db, std::string name,
                        std::shared_ptr<Snapshotter> backend);

  const std::string& name() const { return name_; }
  Snapshotter& backend() { return *backend_; }

  Result<snapshots::Info> Stat(std::string_view ns, const std::string& key);
  Result<snapshots::Info> Update(std::string_view ns, const snapshots::Info& info,
                                 const std::vector<std::string>& fieldpaths);
  Result<snapshots::Usage> Usage(std::string_view ns, const std::string& key);
  Result<std::vector<Mount>> Mounts(std::string_view ns, const std::string& key);
  Result<std::vector<Mount>> Prepare(std::string_view ns, const std::string& key,
                                     const std::string& parent,
                                     const snapshots::Labels& labels,
                                     std::string_view lease = "");
  Result<std::vector<Mount>> View(std::string_view ns, const std::string& key,
                                  const std::string& parent,
                                  const snapshots::Labels& labels,
                                  std::string_view lease = "");
  Status Commit(std::string_view ns, const std::string& name, const std::string& key,
                const snapshots::Labels& labels, std::string_view lease = "");
  Status Remove(std::string_view ns, const std::string& key, std::string_view lease = "");
  // `fn` runs with no lock held.
  Status Walk(std::string_view ns, const std::vector<std::string>& filters,
              const snapshots::WalkFn& fn);
  // What Cleanup removed from the backend.
  struct CleanupCounts {
    std::int64_t removed = 0;  // backend snapshots
    std::int64_t errors = 0;   // removals that failed (retried next time)
  };
  // REQUIRES: no other NamespacedSnapshotter shares the backend.
  Status Cleanup(CleanupCounts* counts = nullptr);
  // What Recover repaired.
  struct RecoveryCounts {
    std::int64_t rolled_forward = 0;
    std::int64_t rolled_back = 0;
    std::int64_t errors = 0;  // intents kept (logged; retried by the next Cleanup)
  };
  // Resolves every intent this snapshotter's changes left (see "Crash
  // safety" above), logging each repair. An intent that cannot be resolved
  // (a backend error, a corrupt value) is logged, counted and kept; the
  // status is an error only when the database cannot be read.
  // REQUIRES: no other NamespacedSnapshotter shares the backend.
  Status Recover(RecoveryCounts* counts = nullptr);

 private:
  struct Record {
    std::string backend_key;
    snapshots::Info info;  // name = the client's key
  };

  Result<Record> Read(std::string_view ns, const std::string& key) const;
  // Whether `key` has a record whose backend snapshot exists.
  bool Live(std::string_view ns, const std::string& key) const;
  Status PutRecord(std::string_view ns, const Record& record,
                   leveldb::WriteBatch& batch) const;
  // The next backend key for `key`; its sequence number goes into `batch`
  // (written, synced, with the intent before the backend sees the key, so a
  // key is never handed out twice).
  Result<std::string> NextBackendKey(std::string_view ns, const std::string& key,
                                     leveldb::WriteBatch& batch);
  // Puts `intent` into `batch` and writes it, synced.
  Status WriteIntent(const Intent& intent, leveldb::WriteBatch& batch) BERTH_REQUIRES(mu_);
  // Deletes the intent for `new_backend_key`; a failure is logged (the next
  // Recover finds the backend never made it).
  void DropIntent(const std::string& new_backend_key) BERTH_REQUIRES(mu_);
  // Commit's final batch from its intent: the active record becomes the
  // committed one, the children index and (when `hold_lease`) the lease
  // follow, the intent goes.
  Status CommitBatch(const Intent& intent, bool hold_lease, leveldb::WriteBatch& batch) const;
  // Calls fn(db key, intent) for each readable intent of this snapshotter.
  Status ScanIntents(const std::function<void(const std::string&, const Intent&)>& fn) const;
  Status RecoverLocked(RecoveryCounts& counts) BERTH_REQUIRES(mu_);
  Status RepairCreate(const Intent& intent, RecoveryCounts& counts) BERTH_REQUIRES(mu_);
  Status RepairCommit(const Intent& intent, RecoveryCounts& counts) BERTH_REQUIRES(mu_);
  Result<snapshots::Info> UpdateRecord(std::string_view ns, const snapshots::Info& info,
                                       const std::vector<std::string>& fieldpaths,
                                       bool& dropped_gc_label);
  Result<std::vector<Mount>> Create(std::string_view ns, snapshots::Kind kind,
                                    const std::string& key, const std::string& parent,
                                    const snapshots::Labels& labels, std::string_view lease);
  // The remote-snapshot contract (see the header comment): adopts the
  // backend's committed snapshot labelled kLabelSnapshotRef=`target` over
  // `backend_parent` as the namespace's `target` over `parent`. Never OK:
  // AlreadyExists once adopted, NotFound when the backend has no such
  // snapshot, or what failed.
  Status AdoptTarget(std::string_view ns, const std::string& target, const std::string& parent,
                     const std::string& backend_parent, const snapshots::Labels& labels,
                     std::string_view lease)
      BERTH_REQUIRES(mu_);
  // Whether `key` has a live child in `ns`; stale index entries (whose child
  // is gone or has another parent now) are added to `batch` as deletions.
  Result<bool> HasChild(std::string_view ns, const std::string& key, leveldb::WriteBatch& batch);
  Result<snapshots::Info> Merge(const Record& record);
  // Backend keys referred to by some namespace's record; records whose backend
  // snapshot is gone are added to `dangling` as deletions.
  Result<std::set<std::string>> ReferencedBackendKeys(leveldb::WriteBatch& dangling);
  // Removes every backend snapshot not in `referenced`, children first.
  Status RemoveUnreferenced(const std::set<std::string>& referenced, CleanupCounts& counts);

  MetadataStore* db_;
  const std::string name_;
  std::shared_ptr<Snapshotter> backend_;
  Mutex mu_;  // serialises changes to this snapshotter's records (guards no member)
};

// InvalidArgument for an empty key or one over kMaxSnapshotKey; the message
// starts with `what`.
Status ValidateSnapshotKey(std::string_view what, const std::string& key);

}  // namespace berth::host::metadata

#endif  // BERTH_HOST_METADATA_SNAPSHOTS_H_
