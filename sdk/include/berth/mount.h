// Mount: a filesystem mount as a snapshotter hands it out (containerd's
// types.Mount), and the helpers that apply such mounts to a directory and
// take them down again.
//
// The helpers understand the "overlay", "bind" (with "rbind" and a read-only
// remount for "ro" binds) and block-device types such as "btrfs"; options are
// fstab style. An overlay whose options exceed what one mount(2) call accepts
// is mounted from the lower directories' common parent with relative paths.
// Thread-safe: the helpers keep no state and never change the process's
// working directory.
#ifndef BERTH_MOUNT_H_
#define BERTH_MOUNT_H_

#include <string>
#include <vector>

#include "berth/status.h"

namespace berth {

struct Mount {
  std::string type;     // "overlay", "bind", "btrfs", ...
  std::string source;   // a host path, a device, or "overlay"
  std::string target;   // relative to the mount point; usually empty
  std::vector<std::string> options;

  bool operator==(const Mount&) const = default;
};

// Applies `mount` at `target` (joined with mount.target when that is set).
// Returns Unknown with the errno text when mount(2) fails, InvalidArgument
// when the options cannot fit in one call even after compaction.
Status ApplyMount(const Mount& mount, const std::string& target);

// Applies each mount in order on `target`. On failure, unmounts what this call
// mounted before returning the error.
Status MountAll(const std::vector<Mount>& mounts, const std::string& target);

// Unmounts `target` once (umount2 with `flags`), retrying a busy target for a
// bounded time. Not mounted (EINVAL) counts as success.
Status Unmount(const std::string& target, int flags = 0);

// Unmounts every mount stacked on `target` until none is left. A missing
// target is success.
Status UnmountAll(const std::string& target, int flags = 0);

}  // namespace berth

#endif  // BERTH_MOUNT_H_
