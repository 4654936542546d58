// Layer streams: a blob from a content store through libarchive, both ways.
//
// LayerReader pulls a layer blob through ContentReader::ReadAt in chunks,
// hashes and counts the compressed bytes against the descriptor, decompresses
// (gzip, zstd or none, detected as containerd's DecompressStream does) with
// zlib for gzip (checking each member's CRC-32 and length, as Go's reader
// does) or one libarchive reader in "raw" format, hashes the uncompressed
// bytes, and
// hands them to a second libarchive reader that parses the tar.
//
// LayerWriter is the reverse: a libarchive tar writer whose output is hashed
// (uncompressed digest) and fed to a libarchive "raw" writer that compresses
// into a ContentWriter.
//
// Thread-safety: one object per stream, used by one thread.
#ifndef BERTH_PLUGINS_DIFF_WALKING_LAYER_STREAM_H_
#define BERTH_PLUGINS_DIFF_WALKING_LAYER_STREAM_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "berth/content.h"
#include "berth/diff.h"
#include "berth/digest.h"
#include "berth/status.h"

struct archive;
struct z_stream_s;

namespace berth::diff_walking {

enum class Compression { kNone, kGzip, kZstd, kDetect };

// The compression a layer media type declares, as containerd's
// images.DiffCompression: kDetect for docker's uncompressed types (which may
// still be compressed), kNone for the plain tar types. NotImplemented
// ("unrecognised mediatype X") for anything that is not a layer.
Result<Compression> LayerCompression(std::string_view media_type);

class LayerReader {
 public:
  // Opens `desc` from `content`. InvalidArgument for a malformed digest or a
  // negative size, NotImplemented for an unknown media type, the store's
  // error (NotFound) when the blob cannot be opened, FailedPrecondition when
  // the stream is not compressed data libarchive can read.
  static Result<std::unique_ptr<LayerReader>> Open(ContentStore& content,
                                                   const Descriptor& desc);
  ~LayerReader();
  LayerReader(const LayerReader&) = delete;
  LayerReader& operator=(const LayerReader&) = delete;

  // The tar reader; valid until destruction.
  struct archive* tar() { return tar_; }

  // The error behind a failed libarchive call on tar(): the blob's own
  // failure (read error, truncation, oversize) when there was one, else a
  // FailedPrecondition with libarchive's text prefixed by `what`.
  Status TarError(std::string_view what) const;

  // Call once the tar has been read to its end: reads any trailing data,
  // then checks the blob's size and digest. Returns the uncompressed
  // descriptor (kOciLayer, digest and size of the tar stream).
  // FailedPrecondition on a mismatch.
  Result<Descriptor> Finish();

 private:
  LayerReader() = default;
  static ssize_t ReadBlob(struct archive* a, void* self, const void** buf);
  static ssize_t ReadDecompressed(struct archive* a, void* self, const void** buf);
  // The next inflated bytes of a gzip blob into tar_buf_: their count, 0 at
  // the end, -1 with blob_error_ set.
  ssize_t Inflate();

  Descriptor desc_;
  std::unique_ptr<ContentReader> blob_;
  std::int64_t blob_offset_ = 0;
  Sha256 compressed_hash_;
  Sha256 uncompressed_hash_;
  std::int64_t uncompressed_size_ = 0;
  bool decompressed_eof_ = false;
  Status blob_error_;
  std::string blob_buf_;
  std::string tar_buf_;
  struct archive* raw_ = nullptr;  // owned: decompression (zstd, none)
  std::unique_ptr<z_stream_s> inflate_;  // gzip: zlib, checking CRC and size
  bool gzip_member_done_ = false;
  bool blob_eof_ = false;
  struct archive* tar_ = nullptr;  // owned: tar parsing
};

class LayerWriter {
 public:
  // Starts a layer written to `out` (not owned; must outlive the writer),
  // compressed as `compression` (kNone, kGzip or kZstd).
  static Result<std::unique_ptr<LayerWriter>> Create(ContentWriter& out,
                                                     Compression compression);
  ~LayerWriter();
  LayerWriter(const LayerWriter&) = delete;
  LayerWriter& operator=(const LayerWriter&) = delete;

  // The tar writer (pax); write entries to it.
  struct archive* tar() { return tar_; }
  // The error behind a failed libarchive call on tar().
  Status TarError(std::string_view what) const;
  // Closes the tar and the compressor, flushing everything to the writer.
  Status Close();
  // "sha256:<hex>" of the uncompressed tar. REQUIRES: Close() succeeded.
  std::string UncompressedDigest() const { return uncompressed_hash_.Digest(); }

 private:
  LayerWriter() = default;
  static ssize_t WriteTar(struct archive* a, void* self, const void* buf,
                       std::size_t size);
  static ssize_t WriteCompressed(struct archive* a, void* self, const void* buf,
                              std::size_t size);

  ContentWriter* out_ = nullptr;
  Sha256 uncompressed_hash_;
  Status out_error_;
  struct archive* compressor_ = nullptr;  // owned
  struct archive* tar_ = nullptr;         // owned
  bool closed_ = false;
};

}  // namespace berth::diff_walking

#endif  // BERTH_PLUGINS_DIFF_WALKING_LAYER_STREAM_H_
