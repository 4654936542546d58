// OciArchive: an OCI image layout tarball built in the test, for
// `ctr images import` (berthd or containerd). Each layer is a list of tar
// entries (files with content/mode/owner/mtime, directories, symlinks,
// hardlinks, fifos, devices, xattrs, OCI whiteouts `.wh.NAME` and opaque
// markers `.wh..wh..opq`) written by libarchive's writer as a pax tar, then
// gzip (default), zstd or nothing. The config lists each layer's diff_id
// (sha256 of the uncompressed tar); the manifest, index.json (annotated with
// io.containerd.image.name and org.opencontainers.image.ref.name, as
// containerd's exporter and scripts/busybox-image.sh do) and oci-layout go
// with the blobs into one tar.
//
// BuildOciImage makes every blob in memory; a test may then spoil any of them
// (truncate a layer, change a descriptor's size, drop the config blob) before
// Archive() writes the tarball. Blobs are named by the digest of their final
// bytes, so the content store accepts them at ingest.
//
// Header only; needs libarchive (LibArchive::LibArchive) and berth::sdk's
// digest helper. Pure functions of their arguments; thread-safe.
#ifndef BERTH_TESTS_SUPPORT_OCI_ARCHIVE_H_
#define BERTH_TESTS_SUPPORT_OCI_ARCHIVE_H_

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "berth/digest.h"
#include "berth/platform.h"

namespace berth::test {

// One tar entry. `type` is S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFCHR or
// S_IFBLK; a hardlink is S_IFREG with `hardlink` set and `link` the linked
// path (which must be an earlier entry of the same layer).
struct LayerEntry {
  std::string path;
  mode_t type = S_IFREG;
  mode_t perm = 0644;
  std::int64_t uid = 0;
  std::int64_t gid = 0;
  std::int64_t mtime = 1600000000;  // seconds; nanoseconds are 0
  std::string data;                 // a regular file's content
  std::string link;                 // symlink target or hardlink path
  bool hardlink = false;
  unsigned rdev_major = 0;
  unsigned rdev_minor = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;  // name → value
};

inline LayerEntry FileEntry(std::string path, std::string data, mode_t perm = 0644) {
  LayerEntry e;
  e.path = std::move(path);
  e.data = std::move(data);
  e.perm = perm;
  return e;
}
inline LayerEntry DirEntry(std::string path, mode_t perm = 0755) {
  LayerEntry e;
  e.path = std::move(path);
  e.type = S_IFDIR;
  e.perm = perm;
  return e;
}
inline LayerEntry SymlinkEntry(std::string path, std::string target) {
  LayerEntry e;
  e.path = std::move(path);
  e.type = S_IFLNK;
  e.perm = 0777;
  e.link = std::move(target);
  return e;
}
inline LayerEntry HardlinkEntry(std::string path, std::string target) {
  LayerEntry e;
  e.path = std::move(path);
  e.hardlink = true;
  e.link = std::move(target);
  return e;
}
inline LayerEntry FifoEntry(std::string path, mode_t perm = 0644) {
  LayerEntry e;
  e.path = std::move(path);
  e.type = S_IFIFO;
  e.perm = perm;
  return e;
}
inline LayerEntry CharDeviceEntry(std::string path, unsigned major, unsigned minor,
                                  mode_t perm = 0666) {
  LayerEntry e;
  e.path = std::move(path);
  e.type = S_IFCHR;
  e.perm = perm;
  e.rdev_major = major;
  e.rdev_minor = minor;
  return e;
}
// The OCI whiteout deleting `path` ("d/x" → "d/.wh.x").
inline LayerEntry WhiteoutEntry(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return FileEntry(dir + ".wh." + name, "", 0644);
}
// The OCI opaque marker of directory `dir` ("d" → "d/.wh..wh..opq").
inline LayerEntry OpaqueEntry(const std::string& dir) {
  return FileEntry(dir + "/.wh..wh..opq", "", 0644);
}

enum class LayerCompression { kNone, kGzip, kZstd };

struct OciLayer {
  std::vector<LayerEntry> entries;
  LayerCompression compression = LayerCompression::kGzip;
  std::string media_type;  // "" = the OCI layer type of `compression`
};

inline std::string CompressLayer(const std::string& bytes, LayerCompression compression);

// A pax tar of `entries`, compressed as asked (see CompressLayer). "" when
// libarchive fails.
inline std::string BuildLayerTar(const std::vector<LayerEntry>& entries,
                                 LayerCompression compression) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  auto append = [](struct archive*, void* sink, const void* buf, size_t n) -> la_ssize_t {
    static_cast<std::string*>(sink)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  bool ok = archive_write_open2(a, &out, nullptr, append, nullptr, nullptr) == ARCHIVE_OK;
  for (const LayerEntry& t : entries) {
    if (!ok) break;
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.path.c_str());
    archive_entry_set_filetype(e, t.hardlink ? S_IFREG : t.type);
    archive_entry_set_perm(e, t.perm);
    archive_entry_set_uid(e, t.uid);
    archive_entry_set_gid(e, t.gid);
    archive_entry_set_mtime(e, t.mtime, 0);
    if (t.hardlink) {
      archive_entry_set_hardlink(e, t.link.c_str());
    } else if (t.type == S_IFLNK) {
      archive_entry_set_symlink(e, t.link.c_str());
    }
    if (t.type == S_IFCHR || t.type == S_IFBLK) {
      archive_entry_set_rdevmajor(e, t.rdev_major);
      archive_entry_set_rdevminor(e, t.rdev_minor);
    }
    for (const auto& [name, value] : t.xattrs) {
      archive_entry_xattr_add_entry(e, name.c_str(), value.data(), value.size());
    }
    const bool data = t.type == S_IFREG && !t.hardlink;
    archive_entry_set_size(e, data ? static_cast<la_int64_t>(t.data.size()) : 0);
    ok = archive_write_header(a, e) == ARCHIVE_OK;
    if (ok && data && !t.data.empty()) {
      ok = archive_write_data(a, t.data.data(), t.data.size()) ==
           static_cast<la_ssize_t>(t.data.size());
    }
    archive_entry_free(e);
  }
  ok = archive_write_close(a) == ARCHIVE_OK && ok;
  archive_write_free(a);
  return ok ? CompressLayer(out, compression) : std::string();
}

// `bytes` compressed as asked (kNone: unchanged). "" when libarchive fails.
inline std::string CompressLayer(const std::string& bytes, LayerCompression compression) {
  if (compression == LayerCompression::kNone) return bytes;
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_raw(a);
  if (compression == LayerCompression::kGzip) {
    archive_write_add_filter_gzip(a);
    archive_write_set_filter_option(a, "gzip", "timestamp", nullptr);
  } else {
    archive_write_add_filter_zstd(a);
  }
  archive_write_set_bytes_in_last_block(a, 1);
  auto append = [](struct archive*, void* sink, const void* buf, size_t n) -> la_ssize_t {
    static_cast<std::string*>(sink)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  bool ok = archive_write_open2(a, &out, nullptr, append, nullptr, nullptr) == ARCHIVE_OK;
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "layer.tar");
  archive_entry_set_filetype(e, S_IFREG);
  archive_entry_set_size(e, static_cast<la_int64_t>(bytes.size()));
  ok = ok && archive_write_header(a, e) == ARCHIVE_OK;
  ok = ok &&
       archive_write_data(a, bytes.data(), bytes.size()) == static_cast<la_ssize_t>(bytes.size());
  archive_entry_free(e);
  ok = archive_write_close(a) == ARCHIVE_OK && ok;
  archive_write_free(a);
  return ok ? out : std::string();
}

inline const char* OciLayerMediaType(LayerCompression compression) {
  switch (compression) {
    case LayerCompression::kNone:
      return "application/vnd.oci.image.layer.v1.tar";
    case LayerCompression::kGzip:
      return "application/vnd.oci.image.layer.v1.tar+gzip";
    case LayerCompression::kZstd:
      return "application/vnd.oci.image.layer.v1.tar+zstd";
  }
  return "";
}

// An image's blobs and how they are described, all editable before Archive().
struct OciImage {
  struct Layer {
    std::string tar;                              // uncompressed
    std::string blob;                             // as stored (compressed)
    std::string media_type;                       // in the manifest
    std::optional<std::int64_t> descriptor_size;  // nullopt = blob.size()
  };
  std::string name;  // io.containerd.image.name, e.g. "example.com/unpack/a:v1"
  std::string architecture;
  std::vector<Layer> layers;
  std::string config;        // the config JSON; "" = made from the layers' diff_ids
  bool write_config = true;  // false: the manifest names a config blob that is not there

  // "sha256:…" of each layer's uncompressed tar (the config's diff_ids).
  std::vector<std::string> DiffIds() const {
    std::vector<std::string> ids;
    for (const Layer& l : layers) ids.push_back(Sha256Of(l.tar));
    return ids;
  }
  // The chain IDs of the layers (the keys of their committed snapshots).
  std::vector<std::string> ChainIds() const {
    std::vector<std::string> chain;
    for (const std::string& id : DiffIds()) {
      chain.push_back(chain.empty() ? id : Sha256Of(chain.back() + " " + id));
    }
    return chain;
  }
  std::string ConfigJson() const {
    if (!config.empty()) return config;
    std::string ids;
    for (const std::string& id : DiffIds()) ids += (ids.empty() ? "\"" : ",\"") + id + "\"";
    return "{\"architecture\":\"" + architecture +
           "\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" +
           ids + "]}}";
  }
  std::string ManifestJson() const {
    const std::string cfg = ConfigJson();
    std::string out =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" +
        Sha256Of(cfg) + "\",\"size\":" + std::to_string(cfg.size()) + "},\"layers\":[";
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const Layer& l = layers[i];
      const std::int64_t size =
          l.descriptor_size.value_or(static_cast<std::int64_t>(l.blob.size()));
      out += std::string(i ? "," : "") + "{\"mediaType\":\"" + l.media_type + "\",\"digest\":\"" +
             Sha256Of(l.blob) + "\",\"size\":" + std::to_string(size) + "}";
    }
    return out + "]}";
  }
  std::string IndexJson() const {
    const std::string manifest = ManifestJson();
    const auto colon = name.rfind(':');
    const std::string tag = colon == std::string::npos || name.find('/', colon) != std::string::npos
                                ? "latest"
                                : name.substr(colon + 1);
    return "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
           "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
           "\"digest\":\"" +
           Sha256Of(manifest) + "\",\"size\":" + std::to_string(manifest.size()) +
           ",\"annotations\":{\"io.containerd.image.name\":\"" + name +
           "\",\"org.opencontainers.image.ref.name\":\"" + tag +
           "\"},\"platform\":{\"architecture\":\"" + architecture + "\",\"os\":\"linux\"}}]}";
  }

  // The OCI layout as one uncompressed tar: oci-layout, index.json,
  // blobs/sha256/<hex> for the manifest, the config (unless !write_config)
  // and each distinct layer blob. "" when libarchive fails.
  std::string Archive() const {
    std::vector<std::pair<std::string, std::string>> files = {
        {"oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"}, {"index.json", IndexJson()}};
    auto blob = [&files](const std::string& bytes) {
      const std::string path = "blobs/sha256/" + std::string(DigestHex(Sha256Of(bytes)));
      for (const auto& f : files) {
        if (f.first == path) return;
      }
      files.emplace_back(path, bytes);
    };
    blob(ManifestJson());
    if (write_config) blob(ConfigJson());
    for (const Layer& l : layers) blob(l.blob);
    std::vector<LayerEntry> entries = {DirEntry("blobs"), DirEntry("blobs/sha256")};
    for (auto& [path, bytes] : files) entries.push_back(FileEntry(path, bytes));
    return BuildLayerTar(entries, LayerCompression::kNone);
  }
};

// An image named `name` of `layers`, for the host's architecture.
inline OciImage BuildOciImage(const std::string& name, const std::vector<OciLayer>& layers) {
  OciImage image;
  image.name = name;
  image.architecture = HostArchitecture();  // ctr imports the host's platform only
  for (const OciLayer& l : layers) {
    OciImage::Layer built;
    built.tar = BuildLayerTar(l.entries, LayerCompression::kNone);
    built.blob = CompressLayer(built.tar, l.compression);
    built.media_type = l.media_type.empty() ? OciLayerMediaType(l.compression) : l.media_type;
    image.layers.push_back(std::move(built));
  }
  return image;
}

}  // namespace berth::test

#endif  // BERTH_TESTS_SUPPORT_OCI_ARCHIVE_H_
