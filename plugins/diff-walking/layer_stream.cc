// Layer streams through libarchive (see layer_stream.h).
#include "layer_stream.h"

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace berth::diff_walking {
namespace {

constexpr std::size_t kChunk = 128 * 1024;

std::string ArchiveText(struct archive* a) {
  const char* text = archive_error_string(a);
  return text != nullptr ? text : "unknown libarchive error";
}

// Whether the blob starts with gzip's magic bytes.
bool StartsAsGzip(ContentReader& blob, std::int64_t size) {
  unsigned char magic[2] = {0, 0};
  if (size < 2) return false;
  auto n = blob.ReadAt(magic, sizeof(magic), 0);
  return n.ok() && *n == sizeof(magic) && magic[0] == 0x1f && magic[1] == 0x8b;
}

}  // namespace

Result<Compression> LayerCompression(std::string_view media_type) {
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (pos <= media_type.size()) {
    std::size_t next = media_type.find('+', pos);
    if (next == std::string_view::npos) next = media_type.size();
    parts.push_back(media_type.substr(pos, next - pos));
    pos = next + 1;
  }
  const std::string_view base = parts.front();
  std::vector<std::string_view> ext(parts.begin() + 1, parts.end());
  std::sort(ext.begin(), ext.end());
  namespace mt = media_types;
  if (base == mt::kDockerLayer || base == mt::kDockerLayerForeign) {
    return ext.empty() ? Compression::kDetect : Compression::kNone;
  }
  if (base == mt::kDockerLayerGzip || base == mt::kDockerLayerForeignGzip) {
    return ext.empty() ? Compression::kGzip : Compression::kNone;
  }
  if (base == mt::kOciLayer || base == mt::kOciLayerNonDistributable) {
    if (!ext.empty() && ext.back() == "gzip") return Compression::kGzip;
    if (!ext.empty() && ext.back() == "zstd") return Compression::kZstd;
    return Compression::kNone;
  }
  return Status::NotImplemented("unrecognised mediatype " + std::string(media_type));
}

// ---- LayerReader -------------------------------------------------------

Result<std::unique_ptr<LayerReader>> LayerReader::Open(ContentStore& content,
                                                       const Descriptor& desc) {
  auto compression = LayerCompression(desc.media_type);
  if (!compression.ok()) {
    return compression.status().Annotate("failed to get stream processor for " +
                                         desc.media_type);
  }
  BERTH_RETURN_IF_ERROR(ValidateDigest(desc.digest));
  if (desc.size < 0) {
    return Status::InvalidArgument("invalid size " + std::to_string(desc.size) +
                                   " for " + desc.digest);
  }
  auto blob = content.ReaderAt(desc.digest);
  if (!blob.ok()) {
    return blob.status().Annotate("failed to get reader from content store");
  }
  std::unique_ptr<LayerReader> r(new LayerReader());
  r->desc_ = desc;
  r->blob_ = std::move(*blob);
  r->blob_buf_.resize(kChunk);
  r->tar_buf_.resize(kChunk);

  // Stage 1: blob -> decompressed bytes. Compression is detected from the
  // data, as containerd's DecompressStream does, whatever the media type says.
  // gzip goes through zlib, which checks each member's CRC-32 and length
  // (libarchive's gzip reader does not); zstd and plain tar through libarchive.
  if (StartsAsGzip(*r->blob_, desc.size)) {
    auto z = std::make_unique<z_stream>();  // value-initialised: zeroed
    if (inflateInit2(z.get(), 16 + MAX_WBITS) != Z_OK) {
      return Status::ResourceExhausted("inflateInit2");
    }
    r->inflate_ = std::move(z);
  } else {
    r->raw_ = archive_read_new();
    if (r->raw_ == nullptr) return Status::ResourceExhausted("archive_read_new");
    archive_read_support_filter_gzip(r->raw_);
    archive_read_support_filter_zstd(r->raw_);
    archive_read_support_format_raw(r->raw_);
    if (archive_read_open2(r->raw_, r.get(), nullptr, &LayerReader::ReadBlob,
                           nullptr, nullptr) != ARCHIVE_OK) {
      if (!r->blob_error_.ok()) return r->blob_error_;
      return Status::FailedPrecondition("failed to read layer " + desc.digest +
                                        ": " + ArchiveText(r->raw_));
    }
    struct archive_entry* entry = nullptr;
    int rc = archive_read_next_header(r->raw_, &entry);
    if (rc == ARCHIVE_EOF) {
      r->decompressed_eof_ = true;
    } else if (rc != ARCHIVE_OK) {
      if (!r->blob_error_.ok()) return r->blob_error_;
      return Status::FailedPrecondition("failed to decompress layer " +
                                        desc.digest + ": " + ArchiveText(r->raw_));
    }
  }

  // Stage 2: decompressed bytes -> tar entries.
  r->tar_ = archive_read_new();
  if (r->tar_ == nullptr) return Status::ResourceExhausted("archive_read_new");
  archive_read_support_format_tar(r->tar_);
  if (archive_read_open2(r->tar_, r.get(), nullptr,
                         &LayerReader::ReadDecompressed, nullptr,
                         nullptr) != ARCHIVE_OK) {
    return r->TarError("failed to read tar of " + desc.digest);
  }
  return r;
}

LayerReader::~LayerReader() {
  if (inflate_ != nullptr) inflateEnd(inflate_.get());
  if (tar_ != nullptr) archive_read_free(tar_);
  if (raw_ != nullptr) archive_read_free(raw_);
}

ssize_t LayerReader::ReadBlob(struct archive* a, void* self, const void** buf) {
  auto* r = static_cast<LayerReader*>(self);
  *buf = r->blob_buf_.data();
  // Read at most one byte past the declared size, to notice a larger blob.
  const std::int64_t allowed = r->desc_.size + 1 - r->blob_offset_;
  if (allowed <= 0) return 0;
  const std::size_t want =
      static_cast<std::size_t>(std::min<std::int64_t>(allowed, kChunk));
  auto n = r->blob_->ReadAt(r->blob_buf_.data(), want, r->blob_offset_);
  if (!n.ok()) {
    r->blob_error_ = n.status().Annotate("failed to read " + r->desc_.digest);
    if (a != nullptr) {
      archive_set_error(a, EIO, "%s", r->blob_error_.message().c_str());
    }
    return -1;
  }
  if (*n == 0 && r->blob_offset_ < r->desc_.size) {
    r->blob_error_ = Status::FailedPrecondition(
        "layer " + r->desc_.digest + " truncated: " +
        std::to_string(r->blob_offset_) + " of " +
        std::to_string(r->desc_.size) + " bytes: unexpected EOF");
    if (a != nullptr) {
      archive_set_error(a, EIO, "%s", r->blob_error_.message().c_str());
    }
    return -1;
  }
  r->blob_offset_ += static_cast<std::int64_t>(*n);
  if (r->blob_offset_ > r->desc_.size) {
    r->blob_error_ = Status::FailedPrecondition(
        "layer " + r->desc_.digest + " is larger than its descriptor's " +
        std::to_string(r->desc_.size) + " bytes");
    if (a != nullptr) {
      archive_set_error(a, EIO, "%s", r->blob_error_.message().c_str());
    }
    return -1;
  }
  r->compressed_hash_.Update(r->blob_buf_.data(), *n);
  return static_cast<ssize_t>(*n);
}

ssize_t LayerReader::ReadDecompressed(struct archive* a, void* self,
                                      const void** buf) {
  auto* r = static_cast<LayerReader*>(self);
  *buf = r->tar_buf_.data();
  if (r->decompressed_eof_) return 0;
  la_ssize_t n = r->inflate_ != nullptr
                     ? r->Inflate()
                     : archive_read_data(r->raw_, r->tar_buf_.data(),
                                         r->tar_buf_.size());
  if (n < 0) {
    std::string text = r->blob_error_.ok() ? "failed to decompress layer " +
                                                 r->desc_.digest + ": " +
                                                 ArchiveText(r->raw_)
                                           : r->blob_error_.message();
    archive_set_error(a, EIO, "%s", text.c_str());
    return -1;
  }
  if (n == 0) r->decompressed_eof_ = true;
  r->uncompressed_hash_.Update(r->tar_buf_.data(), static_cast<std::size_t>(n));
  r->uncompressed_size_ += n;
  return n;
}

ssize_t LayerReader::Inflate() {
  z_stream& z = *inflate_;
  z.next_out = reinterpret_cast<Bytef*>(tar_buf_.data());
  z.avail_out = static_cast<uInt>(tar_buf_.size());
  auto fail = [this](const std::string& text) -> ssize_t {
    if (blob_error_.ok()) {
      blob_error_ = Status::FailedPrecondition("failed to decompress layer " +
                                               desc_.digest + ": gzip: " + text);
    }
    return -1;
  };
  for (;;) {
    if (z.avail_in == 0 && !blob_eof_) {
      const void* ignored = nullptr;
      const ssize_t n = ReadBlob(nullptr, this, &ignored);
      if (n < 0) return -1;
      if (n == 0) blob_eof_ = true;
      z.next_in = reinterpret_cast<Bytef*>(blob_buf_.data());
      z.avail_in = static_cast<uInt>(n);
    }
    if (gzip_member_done_) {
      // Concatenated members are one stream, as Go's gzip reader reads them.
      if (z.avail_in == 0) {
        if (blob_eof_) return 0;
        continue;
      }
      if (inflateReset(&z) != Z_OK) return fail("inflateReset failed");
      gzip_member_done_ = false;
    }
    const int rc = inflate(&z, Z_NO_FLUSH);
    const std::size_t produced = tar_buf_.size() - z.avail_out;
    if (rc == Z_STREAM_END) {
      gzip_member_done_ = true;
      if (produced > 0) return static_cast<ssize_t>(produced);
      continue;
    }
    if (rc == Z_OK || rc == Z_BUF_ERROR) {
      if (produced > 0) return static_cast<ssize_t>(produced);
      if (z.avail_in == 0 && blob_eof_) return fail("unexpected EOF");
      continue;
    }
    return fail(z.msg != nullptr ? z.msg
                                 : "inflate error " + std::to_string(rc));
  }
}

Status LayerReader::TarError(std::string_view what) const {
  if (!blob_error_.ok()) return blob_error_;
  return Status::FailedPrecondition(std::string(what) + ": " +
                                    ArchiveText(tar_ != nullptr ? tar_ : raw_));
}

Result<Descriptor> LayerReader::Finish() {
  // Trailing data after the tar's end still counts, as in containerd.
  const void* ignored = nullptr;
  for (;;) {
    ssize_t n = ReadDecompressed(tar_, this, &ignored);
    if (n < 0) return TarError("failed to read trailing data");
    if (n == 0) break;
  }
  // And so do compressed bytes the decompressor did not need.
  for (;;) {
    ssize_t n = ReadBlob(raw_, this, &ignored);
    if (n < 0) return blob_error_;
    if (n == 0) break;
  }
  if (blob_offset_ != desc_.size) {
    return Status::FailedPrecondition(
        "layer " + desc_.digest + " truncated: " + std::to_string(blob_offset_) +
        " of " + std::to_string(desc_.size) + " bytes: unexpected EOF");
  }
  const std::string actual = compressed_hash_.Digest();
  if (actual != desc_.digest) {
    return Status::FailedPrecondition("unexpected commit digest " + actual +
                                      ", expected " + desc_.digest +
                                      ": layer does not match its descriptor");
  }
  Descriptor out;
  out.media_type = std::string(media_types::kOciLayer);
  out.digest = uncompressed_hash_.Digest();
  out.size = uncompressed_size_;
  return out;
}

// ---- LayerWriter -------------------------------------------------------

Result<std::unique_ptr<LayerWriter>> LayerWriter::Create(ContentWriter& out,
                                                         Compression compression) {
  std::unique_ptr<LayerWriter> w(new LayerWriter());
  w->out_ = &out;

  w->compressor_ = archive_write_new();
  if (w->compressor_ == nullptr) return Status::ResourceExhausted("archive_write_new");
  int rc = ARCHIVE_OK;
  switch (compression) {
    case Compression::kGzip:
      rc = archive_write_add_filter_gzip(w->compressor_);
      break;
    case Compression::kZstd:
      rc = archive_write_add_filter_zstd(w->compressor_);
      break;
    case Compression::kNone:
      break;
    case Compression::kDetect:
      return Status::InvalidArgument("no compression named for the layer writer");
  }
  if (rc != ARCHIVE_OK ||
      archive_write_set_format_raw(w->compressor_) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(w->compressor_, 64 * 1024) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(w->compressor_, 1) != ARCHIVE_OK ||
      archive_write_open2(w->compressor_, w.get(), nullptr,
                          &LayerWriter::WriteCompressed, nullptr,
                          nullptr) != ARCHIVE_OK) {
    return Status::Unknown("failed to start the layer compressor: " +
                           ArchiveText(w->compressor_));
  }
  struct archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, "layer.tar");
  archive_entry_set_filetype(entry, AE_IFREG);
  rc = archive_write_header(w->compressor_, entry);
  archive_entry_free(entry);
  if (rc != ARCHIVE_OK) {
    return Status::Unknown("failed to start the layer compressor: " +
                           ArchiveText(w->compressor_));
  }

  w->tar_ = archive_write_new();
  if (w->tar_ == nullptr) return Status::ResourceExhausted("archive_write_new");
  if (archive_write_set_format_pax_restricted(w->tar_) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(w->tar_, 1) != ARCHIVE_OK ||
      archive_write_open2(w->tar_, w.get(), nullptr, &LayerWriter::WriteTar,
                          nullptr, nullptr) != ARCHIVE_OK) {
    return Status::Unknown("failed to start the tar writer: " +
                           ArchiveText(w->tar_));
  }
  return w;
}

LayerWriter::~LayerWriter() {
  if (tar_ != nullptr) archive_write_free(tar_);
  if (compressor_ != nullptr) archive_write_free(compressor_);
}

ssize_t LayerWriter::WriteTar(struct archive* a, void* self, const void* buf,
                              std::size_t size) {
  auto* w = static_cast<LayerWriter*>(self);
  w->uncompressed_hash_.Update(buf, size);
  la_ssize_t n = archive_write_data(w->compressor_, buf, size);
  if (n < 0 || static_cast<std::size_t>(n) != size) {
    std::string text = w->out_error_.ok() ? "compression failed: " +
                                                ArchiveText(w->compressor_)
                                          : w->out_error_.message();
    archive_set_error(a, EIO, "%s", text.c_str());
    return -1;
  }
  return n;
}

ssize_t LayerWriter::WriteCompressed(struct archive* a, void* self,
                                     const void* buf, std::size_t size) {
  auto* w = static_cast<LayerWriter*>(self);
  Status st = w->out_->Write(buf, size);
  if (!st.ok()) {
    w->out_error_ = st.Annotate("failed to write layer");
    archive_set_error(a, EIO, "%s", w->out_error_.message().c_str());
    return -1;
  }
  return static_cast<ssize_t>(size);
}

Status LayerWriter::TarError(std::string_view what) const {
  if (!out_error_.ok()) return out_error_;
  return Status::Unknown(std::string(what) + ": " + ArchiveText(tar_));
}

Status LayerWriter::Close() {
  if (closed_) return Status::Ok();
  closed_ = true;
  if (archive_write_close(tar_) != ARCHIVE_OK) {
    return TarError("failed to close the tar writer");
  }
  if (archive_write_finish_entry(compressor_) != ARCHIVE_OK ||
      archive_write_close(compressor_) != ARCHIVE_OK) {
    if (!out_error_.ok()) return out_error_;
    return Status::Unknown("failed to close the layer compressor: " +
                           ArchiveText(compressor_));
  }
  return Status::Ok();
}

}  // namespace berth::diff_walking
