// BtrfsSnapshotter: the io.containerd.snapshotter.v1 "btrfs" snapshotter.
//
// Every snapshot is a btrfs subvolume, laid out as containerd lays it out
// under the root: "active/<id>", "view/<id>" and "snapshots/<id>" (committed,
// read-only), with the records in "metadata.db" (berth::snapshots::MetaStore).
// Prepare and View without a parent create an empty subvolume; with a parent
// they snapshot the parent's subvolume (read-only for a view). Commit takes a
// read-only snapshot of the active subvolume into "snapshots/<id>" and deletes
// the active one. Mounts are containerd's: type "btrfs", the device as source,
// "subvolid=<id>" and, unless the snapshot is active, "ro".
//
// Crash safety: a subvolume is made under its final name before its record is
// written; a removal drops the record first, renames the subvolume to
// "rm-<id>", then deletes it. A crash therefore leaves at most subvolumes that
// no record claims under that kind's folder, which Cleanup deletes (and a
// Prepare that is handed the same id again replaces).
//
// Usage of an active snapshot is measured: the inodes and blocks that differ
// from its parent, by a walk; with quotas enabled on the filesystem the size
// is the subvolume's exclusive bytes from its quota group instead.
//
// Thread-safe; changes to the subvolume folders are serialised.
#ifndef BERTH_PLUGINS_SNAPSHOT_BTRFS_BTRFS_H_
#define BERTH_PLUGINS_SNAPSHOT_BTRFS_BTRFS_H_

#include <memory>
#include <string>
#include <vector>

#include "berth/mutex.h"
#include "berth/snapshot_storage.h"
#include "berth/snapshotter.h"

namespace berth::btrfs {

struct Options {
  // Sync the record store on every change (default true).
  bool sync_metadata = true;
};

class BtrfsSnapshotter final : public Snapshotter {
 public:
  // Opens (creating, mode 0700) the snapshotter at `root`. SkipPlugin when
  // `root` is not on a btrfs filesystem, worded as containerd's:
  // "path <root> (<fstype>) must be a btrfs filesystem to be used with the
  // btrfs snapshotter".
  static Result<std::shared_ptr<BtrfsSnapshotter>> Open(const std::string& root,
                                                        Options options = {});

  Result<snapshots::Info> Stat(const std::string& key) override;
  Result<snapshots::Info> Update(const snapshots::Info& info,
                                 const std::vector<std::string>& fieldpaths) override;
  Result<snapshots::Usage> Usage(const std::string& key) override;
  Result<std::vector<berth::Mount>> Mounts(const std::string& key) override;
  Result<std::vector<berth::Mount>> Prepare(const std::string& key, const std::string& parent,
                                            const snapshots::Labels& labels) override;
  Result<std::vector<berth::Mount>> View(const std::string& key, const std::string& parent,
                                         const snapshots::Labels& labels) override;
  Status Commit(const std::string& name, const std::string& key,
                const snapshots::Labels& labels) override BERTH_EXCLUDES(dirs_mu_);
  Status Remove(const std::string& key) override BERTH_EXCLUDES(dirs_mu_);
  Status Walk(const snapshots::WalkFn& fn, const std::vector<std::string>& filters) override;
  Status Cleanup() override BERTH_EXCLUDES(dirs_mu_);
  Status Close() override;

  const std::string& root() const { return root_; }
  // The device the root's filesystem is mounted from (the mounts' source).
  const std::string& device() const { return device_; }

 private:
  BtrfsSnapshotter(std::string root, std::string device,
                   std::unique_ptr<snapshots::MetaStore> store);

  Result<std::vector<berth::Mount>> Create(snapshots::Kind kind, const std::string& key,
                                           const std::string& parent,
                                           const snapshots::Labels& labels)
      BERTH_EXCLUDES(dirs_mu_);
  Result<std::vector<berth::Mount>> MountsFor(const snapshots::StoredSnapshot& s) const;
  // Usage of the active subvolume `id` over the committed `parent_id` ("" for
  // none).
  Result<snapshots::Usage> Measure(const std::string& id, const std::string& parent_id) const;
  // "<root>/active", "<root>/view" or "<root>/snapshots".
  std::string KindDir(snapshots::Kind kind) const;
  std::string PathOf(snapshots::Kind kind, const std::string& id) const;

  const std::string root_;
  const std::string device_;
  std::unique_ptr<snapshots::MetaStore> store_;
  // Serialises the creation, renaming and deletion of subvolumes against
  // each other and against the leftover scan of Cleanup.
  Mutex dirs_mu_;
};

}  // namespace berth::btrfs

#endif  // BERTH_PLUGINS_SNAPSHOT_BTRFS_BTRFS_H_
