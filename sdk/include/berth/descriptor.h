// Descriptor: an OCI content descriptor (media type, digest, size,
// annotations), as images, manifests and layers name their blobs, and the
// media types berth knows. Value types; thread-safe as any value.
#ifndef BERTH_DESCRIPTOR_H_
#define BERTH_DESCRIPTOR_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "berth/content.h"

namespace berth {

struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<hex>"
  std::int64_t size = 0;
  Labels annotations;

  bool operator==(const Descriptor&) const = default;
};

namespace media_types {
inline constexpr std::string_view kOciLayer =
    "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip =
    "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd =
    "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNonDistributable =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr std::string_view kOciLayerNonDistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kOciLayerNonDistributableZstd =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
inline constexpr std::string_view kDockerLayer =
    "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerForeign =
    "application/vnd.docker.image.rootfs.foreign.diff.tar";
inline constexpr std::string_view kDockerLayerForeignGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}  // namespace media_types

}  // namespace berth

#endif  // BERTH_DESCRIPTOR_H_
