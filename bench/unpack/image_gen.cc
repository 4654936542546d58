#include "image_gen.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "daemon.h"

namespace berth::bench {
namespace {

namespace fs = std::filesystem;

// SHA-256 over bytes fed in pieces.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void Update(const void* data, std::size_t n) { EVP_DigestUpdate(ctx_.get(), data, n); }
  std::string Digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    std::string hex = "sha256:";
    char byte[3];
    for (unsigned int i = 0; i < len; ++i) {
      std::snprintf(byte, sizeof(byte), "%02x", md[i]);
      hex += byte;
    }
    return hex;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

// splitmix64: fast, deterministic file contents.
class Prng {
 public:
  explicit Prng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Random bytes, or (text) words from a small vocabulary, which compress
  // about as well as source and configuration files do.
  void Fill(std::string& buf, bool text) {
    static const char* const kWords[] = {"container ", "layer ",  "snapshot ",     "the ", "of ",
                                         "int ",       "return ", "config\n",      "{\n",  "}\n",
                                         "  value = ", "0x1f ",   "path/to/file ", "= ",   "name "};
    std::size_t i = 0;
    while (i < buf.size()) {
      const std::uint64_t r = Next();
      if (text) {
        const char* w = kWords[r % (sizeof(kWords) / sizeof(kWords[0]))];
        for (; *w != '\0' && i < buf.size(); ++w) buf[i++] = *w;
      } else {
        for (int b = 0; b < 8 && i < buf.size(); ++b) buf[i++] = static_cast<char>(r >> (8 * b));
      }
    }
  }

 private:
  std::uint64_t state_;
};

struct HashedFile {
  std::FILE* file = nullptr;
  Sha256 sha;
  std::int64_t bytes = 0;
};

la_ssize_t WriteHashed(struct archive*, void* client, const void* buf, size_t n) {
  auto* out = static_cast<HashedFile*>(client);
  if (std::fwrite(buf, 1, n, out->file) != n) return -1;
  out->sha.Update(buf, n);
  out->bytes += static_cast<std::int64_t>(n);
  return static_cast<la_ssize_t>(n);
}

bool Fail(struct archive* a, const char* what) {
  std::fprintf(stderr, "image_gen: %s: %s\n", what, archive_error_string(a));
  archive_write_free(a);
  return false;
}

// Writes layer `index` as an uncompressed tar to `tar_path`.
bool WriteTar(const std::string& tar_path, int index, int mib, GeneratedLayer* layer) {
  HashedFile out;
  out.file = std::fopen(tar_path.c_str(), "wb");
  if (out.file == nullptr) return false;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  if (archive_write_open(a, &out, nullptr, WriteHashed, nullptr) != ARCHIVE_OK) {
    std::fclose(out.file);
    return Fail(a, "open tar");
  }
  Prng prng(0xb0a7 + static_cast<std::uint64_t>(index));
  const std::int64_t total = std::int64_t{mib} << 20;
  // {file size, share of the layer's bytes}
  const std::pair<std::int64_t, double> kMix[] = {
      {2 << 10, 0.06}, {32 << 10, 0.19}, {512 << 10, 0.40}, {6 << 20, 0.35}};
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> entry(archive_entry_new(),
                                                                 archive_entry_free);
  auto put_dir = [&](const std::string& path) {
    archive_entry_clear(entry.get());
    archive_entry_set_pathname(entry.get(), path.c_str());
    archive_entry_set_filetype(entry.get(), AE_IFDIR);
    archive_entry_set_perm(entry.get(), 0755);
    archive_entry_set_mtime(entry.get(), 0, 0);
    return archive_write_header(a, entry.get()) == ARCHIVE_OK;
  };
  const std::string top = "layer" + std::to_string(index);
  if (!put_dir(top)) return Fail(a, "dir header");
  std::string buf;
  int n = 0;
  for (const auto& [size, share] : kMix) {
    const std::string sub = top + "/s" + std::to_string(size);
    if (!put_dir(sub)) return Fail(a, "dir header");
    const auto count = std::max<std::int64_t>(
        1, std::llround(static_cast<double>(total) * share / static_cast<double>(size)));
    for (std::int64_t k = 0; k < count; ++k, ++n) {
      archive_entry_clear(entry.get());
      const std::string path = sub + "/f" + std::to_string(k);
      archive_entry_set_pathname(entry.get(), path.c_str());
      archive_entry_set_filetype(entry.get(), AE_IFREG);
      archive_entry_set_perm(entry.get(), 0644);
      archive_entry_set_size(entry.get(), size);
      archive_entry_set_mtime(entry.get(), 0, 0);
      if (archive_write_header(a, entry.get()) != ARCHIVE_OK) return Fail(a, "file header");
      buf.resize(static_cast<std::size_t>(size));
      prng.Fill(buf, n % 2 == 0);
      if (archive_write_data(a, buf.data(), buf.size()) != static_cast<la_ssize_t>(buf.size())) {
        return Fail(a, "file data");
      }
      layer->file_bytes += size;
    }
  }
  layer->files = n;
  const bool closed = archive_write_close(a) == ARCHIVE_OK;
  archive_write_free(a);
  std::fclose(out.file);
  layer->diff_id = out.sha.Digest();
  layer->tar_size = out.bytes;
  return closed;
}

// gzip(tar_path) → gz_path, with libarchive's raw format as the compressor.
bool Gzip(const std::string& tar_path, const std::string& gz_path, GeneratedLayer* layer) {
  HashedFile out;
  out.file = std::fopen(gz_path.c_str(), "wb");
  std::ifstream in(tar_path, std::ios::binary);
  if (out.file == nullptr || !in) return false;
  struct archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_raw(a);
  archive_write_set_bytes_in_last_block(a, 1);
  if (archive_write_open(a, &out, nullptr, WriteHashed, nullptr) != ARCHIVE_OK) {
    std::fclose(out.file);
    return Fail(a, "open gzip");
  }
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> entry(archive_entry_new(),
                                                                 archive_entry_free);
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_pathname(entry.get(), "layer.tar");
  if (archive_write_header(a, entry.get()) != ARCHIVE_OK) return Fail(a, "gzip header");
  std::string buf(1 << 20, '\0');
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
    const auto got = static_cast<std::size_t>(in.gcount());
    if (archive_write_data(a, buf.data(), got) != static_cast<la_ssize_t>(got)) {
      return Fail(a, "gzip data");
    }
  }
  const bool closed = archive_write_close(a) == ARCHIVE_OK;
  archive_write_free(a);
  std::fclose(out.file);
  layer->digest = out.sha.Digest();
  layer->size = out.bytes;
  return closed;
}

std::string Hex(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

// Writes `text` as a blob; its descriptor fields.
bool PutBlob(const std::string& layout, const std::string& text, std::string* digest) {
  Sha256 sha;
  sha.Update(text.data(), text.size());
  *digest = sha.Digest();
  std::ofstream(layout + "/blobs/sha256/" + Hex(*digest), std::ios::binary) << text;
  return true;
}

std::string Descriptor(const char* media_type, const std::string& digest, std::size_t size) {
  std::ostringstream s;
  s << "{\"mediaType\":\"" << media_type << "\",\"digest\":\"" << digest << "\",\"size\":" << size
    << "}";
  return s.str();
}

}  // namespace

std::int64_t GeneratedImage::TarBytes() const {
  std::int64_t n = 0;
  for (const GeneratedLayer& l : layers) n += l.tar_size;
  return n;
}

bool GenerateImage(const std::string& dir, int layers, int mib_per_layer, GeneratedImage* out) {
  const std::string layout = dir + "/layout";
  fs::create_directories(layout + "/blobs/sha256");
  out->name = "bench.local/unpack:latest";
  std::string diff_ids;
  std::string layer_descs;
  for (int i = 0; i < layers; ++i) {
    GeneratedLayer layer;
    const std::string tar = dir + "/layer" + std::to_string(i) + ".tar";
    const std::string gz = tar + ".gz";
    if (!WriteTar(tar, i, mib_per_layer, &layer) || !Gzip(tar, gz, &layer)) return false;
    fs::remove(tar);
    layer.path = layout + "/blobs/sha256/" + Hex(layer.digest);
    fs::rename(gz, layer.path);
    diff_ids += (i > 0 ? "," : "") + ("\"" + layer.diff_id + "\"");
    layer_descs +=
        (i > 0 ? "," : "") + Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer.digest,
                                        static_cast<std::size_t>(layer.size));
    out->layers.push_back(layer);
  }
  const std::string config =
      "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
      "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" +
      diff_ids + "]}}";
  std::string config_digest;
  PutBlob(layout, config, &config_digest);
  const std::string manifest =
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
      "\"config\":" +
      Descriptor("application/vnd.oci.image.config.v1+json", config_digest, config.size()) +
      ",\"layers\":[" + layer_descs + "]}";
  std::string manifest_digest;
  PutBlob(layout, manifest, &manifest_digest);
  std::ofstream(layout + "/oci-layout") << "{\"imageLayoutVersion\":\"1.0.0\"}";
  std::ofstream(layout + "/index.json")
      << "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
         "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\""
      << manifest_digest << "\",\"size\":" << manifest.size()
      << ",\"annotations\":{\"io.containerd.image.name\":\"" << out->name
      << "\",\"org.opencontainers.image.ref.name\":\"latest\"}}]}";
  out->tarball = dir + "/image.tar";
  const int rc = RunToCompletion({"/bin/tar", "-C", layout, "-cf", out->tarball, "."}, "/dev/null",
                                 dir + "/tar.log");
  if (rc != 0) {
    std::fprintf(stderr, "image_gen: tar exited %d (see %s/tar.log)\n", rc, dir.c_str());
    return false;
  }
  return true;
}

}  // namespace berth::bench
