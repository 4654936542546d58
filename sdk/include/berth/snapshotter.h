// Snapshotter: the interface of io.containerd.snapshotter.v1 plugins, and the
// value types it trades in (snapshots::Kind, Info, Usage).
//
// A snapshot is named by a key. Prepare creates an *active* snapshot (writable)
// over a *committed* parent; View creates a read-only *view*; Commit turns an
// active key into a committed name and drops the key. The rules every
// implementation keeps (containerd's):
//   - only committed snapshots can be parents: a parent that exists but is not
//     committed is InvalidArgument, a missing parent NotFound;
//   - a key or name already in use is AlreadyExists;
//   - committing anything but an active snapshot is FailedPrecondition;
//   - removing a snapshot that has children is FailedPrecondition;
//   - Mounts answers only for active snapshots and views (FailedPrecondition
//     for a committed one), NotFound for unknown keys.
// Implementations are thread-safe: the host calls them from many threads.
#ifndef BERTH_SNAPSHOTTER_H_
#define BERTH_SNAPSHOTTER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "berth/filters.h"
#include "berth/mount.h"
#include "berth/plugin.h"
#include "berth/status.h"

namespace berth {
namespace snapshots {

// Frozen: the values are stored on disk and sent on the wire.
enum class Kind : std::uint8_t {
  kUnknown = 0,
  kView = 1,
  kActive = 2,
  kCommitted = 3,
};

// "View", "Active", "Committed" or "Unknown", as containerd prints a kind.
std::string_view KindName(Kind kind);
// Parses "view", "active", "committed" in any case; anything else is kUnknown.
Kind ParseKind(std::string_view text);

using Labels = std::map<std::string, std::string>;
using Time = std::chrono::system_clock::time_point;

struct Info {
  std::string name;    // key of an active snapshot or view; name if committed
  std::string parent;  // name of the committed parent; empty for none
  Kind kind = Kind::kUnknown;
  Labels labels;
  Time created{};
  Time updated{};
};

struct Usage {
  std::int64_t size = 0;    // bytes in use
  std::int64_t inodes = 0;  // inodes in use
  void Add(const Usage& other) {
    size += other.size;
    inodes += other.inodes;
  }
};

// Labels with this prefix are stored by the snapshotter itself (the host's
// metadata store keeps the others), and so is kLabelSnapshotRef.
inline constexpr std::string_view kInheritedLabelPrefix = "containerd.io/snapshot/";
inline constexpr std::string_view kLabelSnapshotRef = "containerd.io/snapshot.ref";

// The labels a snapshotter keeps: those under kInheritedLabelPrefix, and the
// kLabelSnapshotRef label.
Labels FilterInheritedLabels(const Labels& labels);

// The filter adaptor for an Info: fields "name", "parent", "kind" (lower case
// "view"/"active"/"committed") and "labels.<key>".
filters::Adaptor AdaptInfo(const Info& info);

// Applies containerd's update rules to `current`: with no field paths every
// label is replaced by `update.labels`; "labels" replaces them all;
// "labels.<k>" sets (or, with an empty or missing value, deletes) one label.
// Any other path is InvalidArgument naming it.
Status ApplyUpdate(const Info& update, const std::vector<std::string>& fieldpaths,
                   Info& current);

// Called once per matching snapshot; a non-OK Status stops the walk and is
// returned by Walk.
using WalkFn = std::function<Status(const Info&)>;

}  // namespace snapshots

class Snapshotter : public virtual Plugin {
 public:
  ~Snapshotter() override;

  // Info of the snapshot `key`. NotFound if absent.
  virtual Result<snapshots::Info> Stat(const std::string& key) = 0;

  // Updates the labels of `info.name` per snapshots::ApplyUpdate and returns
  // the new Info. NotFound if absent, InvalidArgument for a bad field path.
  virtual Result<snapshots::Info> Update(
      const snapshots::Info& info, const std::vector<std::string>& fieldpaths) = 0;

  // Space used by the snapshot itself (not its parents); for active
  // snapshots measured now, for committed ones as recorded at commit.
  virtual Result<snapshots::Usage> Usage(const std::string& key) = 0;

  // The mounts of an active snapshot or a view.
  virtual Result<std::vector<Mount>> Mounts(const std::string& key) = 0;

  // Creates the active snapshot `key` over `parent` (empty: none) with
  // `labels`, and returns its mounts.
  virtual Result<std::vector<Mount>> Prepare(const std::string& key,
                                             const std::string& parent,
                                             const snapshots::Labels& labels) = 0;

  // Creates the read-only view `key` over `parent` and returns its mounts.
  virtual Result<std::vector<Mount>> View(const std::string& key,
                                          const std::string& parent,
                                          const snapshots::Labels& labels) = 0;

  // Commits the active snapshot `key` as `name` with `labels`; `key` is gone
  // afterwards.
  virtual Status Commit(const std::string& name, const std::string& key,
                        const snapshots::Labels& labels) = 0;

  // Removes the snapshot `key`. FailedPrecondition if it has children.
  virtual Status Remove(const std::string& key) = 0;

  // Calls `fn` for each snapshot matching any of `filters` (none: all).
  // InvalidArgument for a filter that does not parse. `fn` may call back into
  // the snapshotter.
  virtual Status Walk(const snapshots::WalkFn& fn,
                      const std::vector<std::string>& filters) = 0;

  // Releases storage that no snapshot refers to any more (containerd's
  // optional Cleaner). The default answers NotImplemented.
  virtual Status Cleanup();
};

}  // namespace berth

#endif  // BERTH_SNAPSHOTTER_H_
