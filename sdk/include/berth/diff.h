// The differ interface (containerd's diff.Applier and diff.Comparer): applies
// layer blobs from a content store onto a snapshot's mounts, and writes the
// difference between two mount sets as a new layer blob.
//
// Thread-safety: Differ implementations are thread-safe; concurrent calls on
// distinct targets are independent. Two calls applying onto the same mounts at
// once give an undefined tree, as in containerd.
//
// Errors follow containerd's errdefs: NotImplemented for a media type the
// differ cannot handle; InvalidArgument for malformed descriptors or mounts;
// FailedPrecondition when a blob does not match its descriptor (digest, size,
// truncation) or is not a valid (compressed) tar; NotFound when the blob is
// absent; Unknown for filesystem and mount failures. A failed Apply may have
// written part of the layer: the caller discards the target snapshot.
#ifndef BERTH_DIFF_H_
#define BERTH_DIFF_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "berth/content.h"
#include "berth/descriptor.h"
#include "berth/mount.h"
#include "berth/plugin.h"
#include "berth/status.h"

namespace berth {

// The label a differ sets on a layer it writes: the digest of the layer's
// uncompressed tar (containerd's "containerd.io/uncompressed").
inline constexpr std::string_view kLabelUncompressed = "containerd.io/uncompressed";

struct ApplyOptions {
  // Stream-processor payloads by processor id (containerd's
  // ApplyConfig.ProcessorPayloads). Default: none. Differs without external
  // stream processors ignore them.
  std::map<std::string, std::string> processor_payloads;
};

struct DiffOptions {
  // The media type of the layer to write. Default "" = kOciLayerGzip.
  std::string media_type;
  // The ingest ref to write through. Default "" = a unique ref chosen by the
  // differ (and aborted on failure); a given ref is truncated and reused.
  std::string ref;
  // Labels committed with the blob. The differ adds kLabelUncompressed.
  Labels labels;
};

class Differ : public virtual Plugin {
 public:
  ~Differ() override;

  // Applies the layer `desc`, read from `content`, onto `mounts`. Returns the
  // applied descriptor: media type kOciLayer, the digest and size of the
  // uncompressed tar stream. The blob is verified against desc.digest and
  // desc.size while it streams; a mismatch fails the call (after part of the
  // layer may have been written). Nothing is ever written outside the target.
  // REQUIRES: `content` outlives the call.
  virtual Result<Descriptor> Apply(ContentStore& content, const Descriptor& desc,
                                   const std::vector<Mount>& mounts,
                                   const ApplyOptions& opts) = 0;

  // Writes the changes from `lower` to `upper` as a layer into `content` and
  // returns its descriptor (opts.media_type, committed digest and size).
  // Both mount sets are mounted read-only for the walk. Empty `lower` means
  // an empty tree.
  virtual Result<Descriptor> Compare(ContentStore& content,
                                     const std::vector<Mount>& lower,
                                     const std::vector<Mount>& upper,
                                     const DiffOptions& opts) = 0;
};

}  // namespace berth

#endif  // BERTH_DIFF_H_
