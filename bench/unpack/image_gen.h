// A generated OCI image for the unpack benchmark: `layers` gzip layers of
// mixed file sizes (many small files, some medium, a few large; half of the
// bytes incompressible, half text-like), written with libarchive into an OCI
// image layout folder and packed into one tarball that `ctr images import`
// takes. Deterministic: the same parameters give the same digests.
// Not thread-safe.
#ifndef BERTH_BENCH_UNPACK_IMAGE_GEN_H_
#define BERTH_BENCH_UNPACK_IMAGE_GEN_H_

#include <cstdint>
#include <string>
#include <vector>

namespace berth::bench {

struct GeneratedLayer {
  std::string path;    // the tar+gzip blob
  std::string digest;  // "sha256:<hex>" of the blob
  std::int64_t size = 0;
  std::string diff_id;  // "sha256:<hex>" of the uncompressed tar
  std::int64_t tar_size = 0;
  std::int64_t file_bytes = 0;  // the regular files' contents
  int files = 0;
};

struct GeneratedImage {
  std::string name;     // the image name recorded in index.json
  std::string tarball;  // the OCI layout tarball
  std::vector<GeneratedLayer> layers;
  std::int64_t TarBytes() const;
};

// Writes the image under `dir` (which must exist). `mib_per_layer` is the
// approximate content size of each layer. Returns false (after printing why)
// on failure.
bool GenerateImage(const std::string& dir, int layers, int mib_per_layer, GeneratedImage* out);

}  // namespace berth::bench

#endif  // BERTH_BENCH_UNPACK_IMAGE_GEN_H_
