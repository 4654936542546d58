// Mark and sweep over the metadata store, with containerd's roots and
// references (its metadata/gc.go):
//
// Roots:
//   - every lease without containerd.io/gc.expire, or with one in the
//     future, and what it holds (content, ingests, snapshots); a lease
//     labelled containerd.io/gc.flat holds its resources (and a snapshot's
//     parents) but not what their labels refer to;
//   - content and snapshots labelled containerd.io/gc.root;
//   - ingests whose containerd.io/gc.expire lies in the future;
//   - whatever the scanners of other kinds (containers, images) report.
// References:
//   - labels containerd.io/gc.ref.content, containerd.io/gc.ref.content.<x>
//     and containerd.io/gc.ref.content/<x> name a digest;
//     containerd.io/gc.ref.snapshot.<snapshotter>[/<x>] a snapshot key;
//   - a snapshot refers to its parent; an ingest to the blob it stands on.
// A reference to a record that does not exist is ignored.
//
// Mark reads every record under v1/n/ in one pass, then walks the graph in
// memory; Sweep puts the unreachable records (and the keys that go with them:
// content index, snapshot-children entries, a lease's resource list) in one
// batch. The caller holds the collection lock exclusively across both, so
// nothing changes in between. Not thread-safe; one GcCollection per run.
#ifndef BERTH_HOST_METADATA_GC_H_
#define BERTH_HOST_METADATA_GC_H_

#include <leveldb/write_batch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "berth/content.h"
#include "metadata/db.h"

namespace berth::host::metadata {

// Where a scanner reports what a record keeps alive.
class GcRootSink {
 public:
  virtual ~GcRootSink() = default;
  virtual void Content(std::string_view ns, std::string_view digest) = 0;
  virtual void Snapshot(std::string_view ns, std::string_view snapshotter,
                        std::string_view key) = 0;
  // Every containerd.io/gc.ref.* label in `labels`.
  virtual void LabelRefs(std::string_view ns, const Labels& labels) = 0;
};

// Reads one record of a kind the collector does not know itself ("containers",
// "images", ...): `rest` is its key after "v1/n/<ns>/<kind>/". Records of such
// kinds are never collected; they only add roots.
using GcKindScanner = std::function<Status(std::string_view ns, std::string_view rest,
                                           std::string_view value, GcRootSink& roots)>;
using GcKindScanners = std::map<std::string, GcKindScanner, std::less<>>;

struct GcSweepCounts {
  std::int64_t records = 0;  // keys deleted
  std::int64_t content = 0;  // content records
  std::int64_t ingests = 0;  // ingest records
  std::int64_t snapshots = 0;
  std::int64_t leases = 0;
};

class GcCollection {
 public:
  // Reads the store and marks what is reachable; leases and ingests expire
  // against `now`. Unknown when a record does not parse.
  Status Mark(const MetadataStore& db, const GcKindScanners& scanners, Timestamp now);
  // Adds every unreachable record to `batch`, counts them, and adds to
  // `dirty` the backends (db.h) that may now hold unreferenced storage.
  void Sweep(leveldb::WriteBatch& batch, GcSweepCounts& counts, std::set<std::string>& dirty) const;

  std::size_t node_count() const { return nodes_.size(); }

 private:
  struct Node {
    std::string record_key;
    std::vector<std::string> extra_keys;  // deleted with the record
    std::vector<std::string> refs;        // node ids, followed unless flat
    std::string parent;                   // node id, followed even when flat
    std::string backend;                  // dirtied when the node goes
    std::uint8_t marks = 0;               // kFlatMark | kFullMark
  };
  struct LeaseScan {
    bool has_record = false;
    bool live = true;
    bool flat = false;
    std::vector<std::pair<std::string, std::string>> resources;  // type, id
    std::vector<std::string> resource_keys;
  };
  struct ChildEntry {
    std::string key;
    std::string child;   // node id
    std::string parent;  // the parent's key
  };
  class Sink;

  Status ScanRecord(std::string_view key, std::string_view value, const GcKindScanners& scanners,
                    Timestamp now);
  Status ScanContent(std::string_view ns, std::string_view rest, std::string_view key,
                     std::string_view value, Timestamp now);
  Status ScanSnapshot(std::string_view ns, std::string_view rest, std::string_view key,
                      std::string_view value);
  Status ScanLease(std::string_view ns, std::string_view rest, std::string_view key,
                   std::string_view value, Timestamp now);
  void ScanChild(std::string_view ns, std::string_view rest, std::string_view key);
  void AddLeaseRoots();
  void AddLabelRefs(std::string_view ns, const Labels& labels, std::vector<std::string>& out);
  void Walk();

  std::unordered_map<std::string, Node> nodes_;
  std::vector<std::pair<std::string, bool>> roots_;                  // node id, flat
  std::map<std::pair<std::string, std::string>, LeaseScan> leases_;  // (ns, id)
  std::vector<ChildEntry> children_;
};

}  // namespace berth::host::metadata

#endif  // BERTH_HOST_METADATA_GC_H_
