// Applying a tar layer onto a directory tree, as containerd's archive.Apply
// (archive/tar.go applyNaive) does, with every path resolved inside the tree.
//
// Entry names are cleaned as if rooted ("../x" and "/x" land at "<root>/x");
// parents are resolved with openat2(RESOLVE_IN_ROOT), so a symlink in the
// layer or the tree that points anywhere ("/", "../..") is followed only
// within the root; hardlink targets resolve the same way. Existing entries
// are replaced, except that a directory over a directory merges.
//
// Whiteouts: for a plain tree, ".wh.NAME" removes NAME and ".wh..wh..opq"
// removes the directory's children that this layer did not write. For an
// overlay upper directory (`overlay` set), ".wh.NAME" becomes a 0:0
// character device and ".wh..wh..opq" the opaque xattr on the directory.
//
// Directory times are set after all entries, as containerd does.
// Thread-safety: stateless; one call per tree at a time.
#ifndef BERTH_PLUGINS_DIFF_WALKING_APPLY_H_
#define BERTH_PLUGINS_DIFF_WALKING_APPLY_H_

#include <string>
#include <vector>

#include "berth/status.h"
#include "layer_stream.h"

namespace berth::diff_walking {

struct ApplyTarget {
  // The directory the layer is written into. REQUIRES: exists.
  std::string root;
  // Convert whiteouts for overlayfs instead of deleting. Default false.
  bool overlay = false;
  // With `overlay`: the opaque marker is "user.overlay.opaque" (the mount
  // uses "userxattr") instead of "trusted.overlay.opaque". Default false.
  bool userxattr = false;
  // With `overlay`: the lower directories, highest first. A parent directory
  // missing from the upper directory copies its mode, owner and times from
  // the first lower that has it (containerd's WithParents). Default none.
  std::vector<std::string> parents;
};

// Reads every entry of `layer`'s tar and applies it under `target.root`.
// Returns the first error: the stream's own failure (see
// LayerReader::TarError), FailedPrecondition for an invalid archive entry
// (bad whiteout name, unsupported type), Unknown or NotFound for a failed
// file-system operation. Part of the layer may have been written.
Status ApplyLayer(LayerReader& layer, const ApplyTarget& target);

}  // namespace berth::diff_walking

#endif  // BERTH_PLUGINS_DIFF_WALKING_APPLY_H_
