// The walking differ (containerd's diff/walking and diff/apply): applies
// layers with libarchive onto any mounts, and writes layers from a double
// walk of two mounted trees. It uses no special features of the snapshotter,
// so it works with any of them.
//
// Apply targets: one overlay mount with an upperdir is applied straight into
// the upperdir, converting whiteouts for overlayfs; one bind mount is
// applied into its source directory; anything else is mounted on a
// temporary directory, applied there and always unmounted.
//
// Thread-safety: thread-safe; the differ holds only its options.
#ifndef BERTH_PLUGINS_DIFF_WALKING_WALKING_H_
#define BERTH_PLUGINS_DIFF_WALKING_WALKING_H_

#include <string>
#include <vector>

#include "berth/diff.h"

namespace berth::diff_walking {

struct WalkingOptions {
  // Where temporary mounts are made. Default "" = $TMPDIR, else /tmp.
  std::string temp_dir;
};

class WalkingDiffer final : public Differ {
 public:
  explicit WalkingDiffer(WalkingOptions options) : options_(std::move(options)) {}

  // See berth/diff.h. Beyond containerd 1.6, Compare also writes
  // kOciLayerZstd; Apply reads every layer media type containerd does.
  Result<Descriptor> Apply(ContentStore& content, const Descriptor& desc,
                           const std::vector<Mount>& mounts,
                           const ApplyOptions& opts) override;
  Result<Descriptor> Compare(ContentStore& content, const std::vector<Mount>& lower,
                             const std::vector<Mount>& upper,
                             const DiffOptions& opts) override;

 private:
  WalkingOptions options_;
};

}  // namespace berth::diff_walking

#endif  // BERTH_PLUGINS_DIFF_WALKING_WALKING_H_
