// MetaStore: the snapshot records a snapshotter keeps beside its data, in one
// LevelDB database per snapshotter root (e.g. "<root>/metadata.db").
//
// Each snapshot has a key (its name once committed), a numeric id that is
// never reused (snapshotters name their directories by it), a kind, the key of
// its committed parent, labels, created/updated times and, once committed,
// its recorded usage. The store enforces containerd's snapshot rules (see
// berth/snapshotter.h) and answers with the same error codes.
//
// Every change is one atomic, synced WriteBatch. Thread-safe: writers are
// serialised, readers see a consistent state. Callbacks run without the
// store's lock held, except `before_commit`, which runs under the writer lock
// and must not call back into the store.
//
// Library: berth::snapshot_storage (libberth-snapshot-storage.so).
#ifndef BERTH_SNAPSHOT_STORAGE_H_
#define BERTH_SNAPSHOT_STORAGE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "berth/snapshotter.h"
#include "berth/status.h"

namespace berth::snapshots {

// What a snapshotter needs to build mounts: the snapshot's id and kind and its
// parents' ids, nearest first.
struct StoredSnapshot {
  std::string id;
  Kind kind = Kind::kUnknown;
  std::vector<std::string> parent_ids;
};

// A record as GetInfo answers it.
struct StoredInfo {
  std::string id;
  Info info;
  Usage usage;  // as recorded at commit; zero for active snapshots and views
};

struct StoreOptions {
  // Sync every write to disk (default true). Off only for tests and benches.
  bool sync = true;
};

class MetaStore {
 public:
  // Runs under the writer lock once the change is decided but before it is
  // written; a non-OK Status abandons the change and is returned.
  using BeforeCommit = std::function<Status(const StoredSnapshot&)>;

  // Opens (creating if missing) the database at `path`.
  // Unknown with LevelDB's message when it cannot be opened.
  static Result<std::unique_ptr<MetaStore>> Open(const std::string& path,
                                                 StoreOptions options = {});
  ~MetaStore();
  MetaStore(const MetaStore&) = delete;
  MetaStore& operator=(const MetaStore&) = delete;

  // Creates an active snapshot or a view. InvalidArgument for another kind or
  // a parent that is not committed, NotFound for a missing parent,
  // AlreadyExists when `key` is taken.
  Result<StoredSnapshot> CreateSnapshot(Kind kind, const std::string& key,
                                        const std::string& parent,
                                        const Labels& labels,
                                        const BeforeCommit& before_commit = {});

  // The record of `key`. NotFound if absent.
  Result<StoredInfo> GetInfo(const std::string& key) const;

  // Applies ApplyUpdate to the labels of `info.name` and stamps `updated`.
  Result<Info> UpdateInfo(const Info& info,
                          const std::vector<std::string>& fieldpaths);

  // Calls `fn(id, info)` for every record matching `filters`, in key order.
  // InvalidArgument when a filter does not parse.
  Status WalkInfo(const std::function<Status(const std::string& id,
                                             const Info& info)>& fn,
                  const std::vector<std::string>& filters) const;

  // Id and parent chain of an active snapshot or view. NotFound if absent,
  // FailedPrecondition for a committed snapshot.
  Result<StoredSnapshot> GetSnapshot(const std::string& key) const;

  // Removes the record of `key`, returning its id and kind. NotFound if
  // absent, FailedPrecondition if it has children.
  Result<StoredSnapshot> Remove(const std::string& key,
                                const BeforeCommit& before_commit = {});

  // Turns the active `key` into the committed `name` (keeping its id) with
  // `labels` and `usage`. Returns the id. AlreadyExists if `name` is taken,
  // NotFound if `key` is absent, FailedPrecondition if it is not active.
  Result<std::string> CommitActive(const std::string& key, const std::string& name,
                                   const Usage& usage, const Labels& labels,
                                   const BeforeCommit& before_commit = {});

  // id -> key of every record (for cleaning up storage without a record).
  Result<std::map<std::string, std::string>> IdMap() const;

 private:
  class Impl;
  explicit MetaStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::snapshots

#endif  // BERTH_SNAPSHOT_STORAGE_H_
