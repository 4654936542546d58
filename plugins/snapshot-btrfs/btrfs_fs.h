// The btrfs and mount-table operations the btrfs snapshotter needs, kept in
// one place: which mount holds a path, subvolume create / snapshot / delete
// and id (through libbtrfsutil), the quota-group numbers of a subvolume
// (through the tree-search ioctl), and the usage walk used when quotas are off.
// Thread-safe; none keeps state.
#ifndef BERTH_PLUGINS_SNAPSHOT_BTRFS_BTRFS_FS_H_
#define BERTH_PLUGINS_SNAPSHOT_BTRFS_BTRFS_FS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "berth/fs.h"  // ErrnoMessage, SyncDir
#include "berth/snapshotter.h"
#include "berth/status.h"

namespace berth::btrfs {

// One line of /proc/self/mountinfo.
struct MountEntry {
  std::string mount_point;
  std::string fstype;
  std::string source;  // the device, e.g. "/dev/loop3"
};

// The mount that holds `path` (symlinks resolved): the one with the longest
// mount point that is a parent of it, the topmost one when several are
// stacked there. NotFound when none does; Unknown when `path` cannot be
// resolved or the table cannot be read.
Result<MountEntry> LookupMount(const std::string& path);

// Creates an empty subvolume at `path` (its parent must exist and `path` must
// not). Unknown with libbtrfsutil's message on failure.
Status CreateSubvolume(const std::string& path);

// Snapshots the subvolume `source` at `path`, read-only when `read_only`.
Status CreateSnapshot(const std::string& source, const std::string& path, bool read_only);

// Deletes the subvolume at `path` (read-only ones too). NotFound if absent.
Status DeleteSubvolume(const std::string& path);

// Whether `path` is the root of a subvolume.
bool IsSubvolume(const std::string& path);

// Deletes whatever is at `path`: a subvolume through DeleteSubvolume, anything
// else recursively. A missing path is success.
Status RemoveAny(const std::string& path);

// The id of the subvolume whose root is `path` (the `subvolid=` mount option).
Result<std::uint64_t> SubvolumeId(const std::string& path);

// Bytes referenced by the subvolume at `path` and by no other subvolume, from
// its level-0 quota group, after a sync of the filesystem so that pending
// writes are accounted. nullopt when quotas are off or their numbers are not
// consistent (a rescan pending).
Result<std::optional<std::int64_t>> QgroupExclusiveBytes(const std::string& path);

// What the tree at `dir` holds that the tree at `base` does not: every entry
// with no counterpart at the same relative path in `base`, or whose
// counterpart is another inode or has another change time (a btrfs snapshot
// keeps inode numbers and times, so unchanged entries match). Sizes are
// allocated blocks; hard links count once; deletions count nothing. With an
// empty `base`, everything under `dir`, itself included. Symlinks are not
// followed.
Result<snapshots::Usage> DiffUsage(const std::string& dir, const std::string& base);

}  // namespace berth::btrfs

#endif  // BERTH_PLUGINS_SNAPSHOT_BTRFS_BTRFS_FS_H_
