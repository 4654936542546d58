// Writing the changes between two directory trees as an OCI layer tar, as
// containerd's archive.WriteDiff over continuity's double walk does.
//
// Both trees are walked together in name order. A path only in `lower`
// becomes a whiteout ".wh.NAME" (its children are not listed); a path only
// in `upper`, or whose type, mode, owner, device, xattrs, size, mtime (or,
// when both mtimes have whole seconds, content or symlink target) differ,
// is written from `upper`. Unchanged parents of a written path are written
// first. Hardlinked files are written once and linked afterwards, including
// unchanged names sharing the inode of a changed one. Sockets are skipped;
// mtimes are truncated to seconds; xattrs other than trusted.overlay.* are
// kept.
//
// Thread-safety: stateless; the trees must not change during the walk.
#ifndef BERTH_PLUGINS_DIFF_WALKING_COMPARE_H_
#define BERTH_PLUGINS_DIFF_WALKING_COMPARE_H_

#include <string>

#include "berth/status.h"
#include "layer_stream.h"

namespace berth::diff_walking {

// Writes the entries turning `lower_root` into `upper_root` to `out`'s tar.
// Unknown / NotFound on a file-system error, the writer's error otherwise.
Status WriteDiff(const std::string& lower_root, const std::string& upper_root,
                 LayerWriter& out);

}  // namespace berth::diff_walking

#endif  // BERTH_PLUGINS_DIFF_WALKING_COMPARE_H_
