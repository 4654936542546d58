// Filesystem probes and measurements the overlay snapshotter needs, kept in
// one place: d_type support, overlay's "index" and "userxattr" needs, a
// trial multi-lowerdir mount, and disk usage of a tree (directory syncs:
// berth/fs.h's SyncDir).
// Thread-safe; none keeps state.
#ifndef BERTH_PLUGINS_SNAPSHOT_OVERLAY_OVERLAY_FS_H_
#define BERTH_PLUGINS_SNAPSHOT_OVERLAY_OVERLAY_FS_H_

#include <string>

#include "berth/fs.h"  // ErrnoMessage, SyncDir
#include "berth/snapshotter.h"
#include "berth/status.h"

namespace berth::overlay {

// Whether readdir on `dir`'s filesystem reports file types (overlay needs it).
// Creates and removes a probe file inside `dir`.
Result<bool> SupportsDType(const std::string& dir);

// Whether the kernel knows overlay's "index" parameter (then mounts carry
// index=off).
bool SupportsIndex();

// Whether overlay mounts on `dir` need "userxattr": inside a user namespace,
// not on tmpfs, on a kernel 5.11 or newer.
bool NeedsUserXattr(const std::string& dir);

// Mounts a two-lower overlay in a scratch directory under `dir` and takes it
// down again. Unknown with the mount error when overlay is unusable there.
Status CheckOverlayMount(const std::string& dir);

// Bytes (allocated blocks) and distinct inodes under `dir`, itself included.
// Hard links count once. Symlinks are not followed.
Result<snapshots::Usage> DiskUsage(const std::string& dir);

}  // namespace berth::overlay

#endif  // BERTH_PLUGINS_SNAPSHOT_OVERLAY_OVERLAY_FS_H_
