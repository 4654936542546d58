// OverlaySnapshotter: the io.containerd.snapshotter.v1 "overlayfs" snapshotter.
//
// Layout under its root: "metadata.db" (berth::snapshots::MetaStore) and
// "snapshots/<id>/{fs,work}". Mounts are containerd's: a bind of "fs" when
// there is no parent, a read-only bind of the parent for a one-parent view,
// otherwise an overlay with the parents' "fs" as lowerdirs, nearest first.
//
// Crash safety: a new snapshot's directory is built under a temporary name
// and renamed to its id before the record is written; a removal drops the
// record first and then renames the directory to "rm-<id>". Either way a crash
// leaves at most a directory without a record, which Cleanup deletes.
//
// Thread-safe.
#ifndef BERTH_PLUGINS_SNAPSHOT_OVERLAY_OVERLAY_H_
#define BERTH_PLUGINS_SNAPSHOT_OVERLAY_OVERLAY_H_

#include <memory>
#include <string>
#include <vector>

#include "berth/mutex.h"
#include "berth/snapshot_storage.h"
#include "berth/snapshotter.h"

namespace berth::overlay {

// containerd's label carrying the upper directory of a snapshot.
inline constexpr char kUpperdirLabel[] = "containerd.io/snapshot/overlay.upperdir";

struct Options {
  // Adds kUpperdirLabel to every Info returned (default false).
  bool upperdir_label = false;
  // Delete a removed snapshot's directory during Remove rather than at the
  // next Cleanup (default false).
  bool sync_remove = false;
  // Extra options for every overlay mount (default none).
  std::vector<std::string> mount_options;
  // Sync the record store on every change (default true).
  bool sync_metadata = true;
};

class OverlaySnapshotter final : public Snapshotter {
 public:
  // Opens (creating) the snapshotter at `root`. SkipPlugin when the
  // filesystem under `root` cannot host overlay (no d_type, or an overlay
  // mount fails there).
  static Result<std::shared_ptr<OverlaySnapshotter>> Open(const std::string& root,
                                                          Options options);

  Result<snapshots::Info> Stat(const std::string& key) override;
  Result<snapshots::Info> Update(const snapshots::Info& info,
                                 const std::vector<std::string>& fieldpaths) override;
  Result<snapshots::Usage> Usage(const std::string& key) override;
  Result<std::vector<berth::Mount>> Mounts(const std::string& key) override;
  Result<std::vector<berth::Mount>> Prepare(const std::string& key,
                                            const std::string& parent,
                                            const snapshots::Labels& labels) override;
  Result<std::vector<berth::Mount>> View(const std::string& key,
                                         const std::string& parent,
                                         const snapshots::Labels& labels) override;
  Status Commit(const std::string& name, const std::string& key,
                const snapshots::Labels& labels) override;
  Status Remove(const std::string& key) override BERTH_EXCLUDES(dirs_mu_);
  Status Walk(const snapshots::WalkFn& fn,
              const std::vector<std::string>& filters) override;
  Status Cleanup() override BERTH_EXCLUDES(dirs_mu_);
  Status Close() override;

  const std::string& root() const { return root_; }

 private:
  OverlaySnapshotter(std::string root, Options options,
                     std::unique_ptr<snapshots::MetaStore> store);

  Result<std::vector<berth::Mount>> Create(snapshots::Kind kind, const std::string& key,
                                           const std::string& parent,
                                           const snapshots::Labels& labels)
      BERTH_EXCLUDES(dirs_mu_);
  std::vector<berth::Mount> MountsFor(const snapshots::StoredSnapshot& s) const;
  void AddUpperdirLabel(const std::string& id, snapshots::Info& info) const;
  std::string SnapshotsDir() const;
  std::string UpperPath(const std::string& id) const;
  std::string WorkPath(const std::string& id) const;

  const std::string root_;
  const Options options_;
  const bool index_off_;
  const bool userxattr_;
  std::unique_ptr<snapshots::MetaStore> store_;
  // Serialises changes to the snapshots directory's entries against the
  // orphan scan of Cleanup.
  Mutex dirs_mu_;
};

}  // namespace berth::overlay

#endif  // BERTH_PLUGINS_SNAPSHOT_OVERLAY_OVERLAY_H_
