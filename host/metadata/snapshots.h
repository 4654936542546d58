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
// - Remove removes the backend snapshot first (so its children rule holds)
//   and then the record. A record whose backend snapshot is gone (a crash
//   between the two) counts as absent everywhere: Stat and Walk skip it, a
//   new snapshot may take its key, Remove and Cleanup drop it.
//
// - Cleanup removes backend snapshots no record refers to (left by a crash
//   between the backend's change and the record's) and records whose backend
//   snapshot is gone, then asks the backend to free unreferenced storage.
//
// Keys and names: empty, holding a NUL byte, longer than kMaxSnapshotKey
// bytes, starting with "/" or holding a ".." path component are
// InvalidArgument ("/" inside a key is fine: the backend never makes a path
// of it); labels are checked as containerd checks them.
// Thread-safe: changes are serialised per snapshotter.
#ifndef BERTH_HOST_METADATA_SNAPSHOTS_H_
#define BERTH_HOST_METADATA_SNAPSHOTS_H_

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "berth/snapshotter.h"
#include "metadata/db.h"

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
                                     const snapshots::Labels& labels);
  Result<std::vector<Mount>> View(std::string_view ns, const std::string& key,
                                  const std::string& parent,
                                  const snapshots::Labels& labels);
  Status Commit(std::string_view ns, const std::string& name, const std::string& key,
                const snapshots::Labels& labels);
  Status Remove(std::string_view ns, const std::string& key);
  // `fn` runs with no lock held.
  Status Walk(std::string_view ns, const std::vector<std::string>& filters,
              const snapshots::WalkFn& fn);
  // REQUIRES: no other NamespacedSnapshotter shares the backend.
  Status Cleanup();

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
  Result<std::string> NextBackendKey(std::string_view ns, const std::string& key);
  Result<std::vector<Mount>> Create(std::string_view ns, snapshots::Kind kind,
                                    const std::string& key, const std::string& parent,
                                    const snapshots::Labels& labels);
  Result<snapshots::Info> Merge(const Record& record);
  // Backend keys referred to by some namespace's record; records whose backend
  // snapshot is gone are added to `dangling` as deletions.
  Result<std::set<std::string>> ReferencedBackendKeys(leveldb::WriteBatch& dangling);
  // Removes every backend snapshot not in `referenced`, children first.
  Status RemoveUnreferenced(const std::set<std::string>& referenced);

  MetadataStore* db_;
  const std::string name_;
  std::shared_ptr<Snapshotter> backend_;
  std::mutex mu_;  // serialises changes to this snapshotter's records
};

// InvalidArgument for an empty key, a NUL byte, one over kMaxSnapshotKey,
// a leading "/" or a ".." path component; the message starts with `what`.
Status ValidateSnapshotKey(std::string_view what, const std::string& key);

}  // namespace berth::host::metadata

#endif  // BERTH_HOST_METADATA_SNAPSHOTS_H_
