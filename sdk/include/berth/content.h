// The content store interface (containerd's content.Store): immutable blobs
// addressed by digest, and resumable ingests addressed by a caller's ref.
//
// ContentStore implementations are thread-safe. A ContentWriter or
// ContentReader belongs to one caller at a time (not thread-safe) and may
// outlive nothing: release it before the store is closed.
//
// Errors follow containerd's errdefs: NotFound (no blob / no ingest),
// AlreadyExists (blob present), Unavailable (ref locked by another writer),
// FailedPrecondition (size or digest mismatch on commit; update on a store
// without labels), InvalidArgument (malformed digest, ref, label, field path).
#ifndef BERTH_CONTENT_H_
#define BERTH_CONTENT_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "berth/filters.h"
#include "berth/plugin.h"
#include "berth/status.h"

namespace berth {

using Labels = std::map<std::string, std::string>;
using Timestamp = std::chrono::system_clock::time_point;

// A committed blob.
struct ContentInfo {
  std::string digest;  // "sha256:<hex>"
  std::int64_t size = 0;
  Timestamp created_at;
  Timestamp updated_at;
  Labels labels;
};

// An active (or interrupted, resumable) ingest.
struct IngestStatus {
  std::string ref;
  std::int64_t offset = 0;  // bytes written so far
  std::int64_t total = 0;   // declared size; 0 = unknown
  std::string expected;     // declared digest; "" = unknown
  Timestamp started_at;
  Timestamp updated_at;
};

struct WriterOptions {
  std::string ref;           // required
  std::int64_t total = 0;    // 0 = unknown
  std::string expected;      // "" = unknown
};

// Random access to one blob.
class ContentReader {
 public:
  virtual ~ContentReader();
  // Reads up to `size` bytes at `offset` into `buf`; returns the count read,
  // 0 at or past the end.
  virtual Result<std::size_t> ReadAt(void* buf, std::size_t size,
                                     std::int64_t offset) = 0;
  virtual std::int64_t Size() const = 0;
};

// Appends to one ingest. Destroying a writer closes it and keeps the ingest
// (and its bytes) for a later writer of the same ref to resume.
class ContentWriter {
 public:
  virtual ~ContentWriter();
  // Appends at Offset().
  virtual Status Write(const void* data, std::size_t size) = 0;
  // The digest of the bytes written so far.
  virtual std::string Digest() const = 0;
  virtual std::int64_t Offset() const = 0;
  virtual Result<IngestStatus> Stat() const = 0;
  // Discards the bytes after `size`. Implementations may accept only 0
  // (InvalidArgument otherwise).
  virtual Status Truncate(std::int64_t size) = 0;
  // Publishes the bytes as a blob. `size` (if non-zero) and `expected` (if
  // non-empty) must match what was written: FailedPrecondition otherwise, and
  // nothing is published. AlreadyExists when the blob is already there (the
  // ingest is removed). After Commit the writer accepts nothing else.
  virtual Status Commit(std::int64_t size, std::string_view expected,
                        const Labels& labels) = 0;
};

class ContentStore : public virtual Plugin {
 public:
  ~ContentStore() override;

  // NotFound if the blob is absent.
  virtual Result<ContentInfo> Info(std::string_view digest) = 0;
  // Updates the fields named by `fieldpaths` ("labels", "labels.<key>"; none
  // = all labels) from `info`; returns the stored result.
  virtual Result<ContentInfo> Update(const ContentInfo& info,
                                     const std::vector<std::string>& fieldpaths) = 0;
  // Calls `fn` for each blob matching `filter`; stops at fn's first error.
  virtual Status Walk(const filters::Filter& filter,
                      const std::function<Status(const ContentInfo&)>& fn) = 0;
  virtual Status Delete(std::string_view digest) = 0;
  virtual Result<std::unique_ptr<ContentReader>> ReaderAt(
      std::string_view digest) = 0;
  // Opens (or resumes) the ingest `options.ref`. Unavailable when another
  // writer holds the ref; InvalidArgument when a resumed ingest declared a
  // different total; AlreadyExists when `expected` is already stored.
  virtual Result<std::unique_ptr<ContentWriter>> Writer(
      const WriterOptions& options) = 0;
  // NotFound when no ingest has the ref.
  virtual Result<IngestStatus> GetStatus(std::string_view ref) = 0;
  virtual Result<std::vector<IngestStatus>> ListStatuses(
      const filters::Filter& filter) = 0;
  // Removes an ingest and its bytes. NotFound when absent.
  virtual Status Abort(std::string_view ref) = 0;
};

// Longest ref accepted.
inline constexpr std::size_t kMaxRefLength = 1024;
// Longest key plus value of one label, as containerd limits it.
inline constexpr std::size_t kMaxLabelSize = 4096;
// Most bytes (keys plus values) all labels of one record may hold. containerd
// has no such bound; berth has one so that no record's labels can grow it
// past the maximum message size (16 MiB by default), where its update would
// be stored and its response then fail, and so that one record cannot pin
// tens of megabytes in every request that touches it.
inline constexpr std::size_t kMaxLabelsSize = 1 << 20;

// InvalidArgument for an empty ref or one over kMaxRefLength. Any other ref
// is fine (containerd's rule): refs are names, and an implementation must
// never make a path of one (content-local hashes it).
Status ValidateRef(std::string_view ref);
// InvalidArgument for an empty key, key plus value over kMaxLabelSize, or
// all keys plus values over kMaxLabelsSize (the message names the limit).
Status ValidateLabels(const Labels& labels);

// Applies a containerd-style field-mask update of labels: "labels" replaces
// all, "labels.<key>" sets (or, absent from `from`, removes) one key; no
// paths replaces all. InvalidArgument on any other path.
Status ApplyLabelUpdate(Labels& to, const Labels& from,
                        const std::vector<std::string>& fieldpaths);

// Filter adaptors: "digest", "labels.<key>" for blobs; "ref" for ingests.
// The adaptors refer to their argument, which must outlive them.
filters::Adaptor AdaptContentInfo(const ContentInfo& info);
filters::Adaptor AdaptIngestStatus(const IngestStatus& status);

}  // namespace berth

#endif  // BERTH_CONTENT_H_
