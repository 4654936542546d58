// IngestWriter: appends to one ingest folder of the LocalStore (see
// local_store.h for the layout) with pwrite straight from the caller's
// buffer, hashing the same bytes on a worker thread while they are written. Resuming an ingest rebuilds
// the hash state by re-reading the bytes already in `data`.
//
// Not thread-safe; one owner. Holds its ref's lock until destroyed.
#ifndef BERTH_PLUGINS_CONTENT_LOCAL_INGEST_WRITER_H_
#define BERTH_PLUGINS_CONTENT_LOCAL_INGEST_WRITER_H_

#include <memory>
#include <string>

#include "berth/content.h"
#include "berth/digest.h"
#include "hash_worker.h"
#include "local_store.h"

namespace berth::content_local {

class IngestWriter : public ContentWriter {
 public:
  // Opens or resumes `dir` for `options`. REQUIRES: the ref's lock is held by
  // the caller; the writer releases it when destroyed (or on failure here).
  static Result<std::unique_ptr<IngestWriter>> Open(
      std::shared_ptr<RefLocks> locks, std::string dir, std::string blob_dir,
      const WriterOptions& options);
  ~IngestWriter() override;

  Status Write(const void* data, std::size_t size) override;
  std::string Digest() const override { return hash_.Digest(); }
  std::int64_t Offset() const override { return offset_; }
  Result<IngestStatus> Stat() const override;
  Status Truncate(std::int64_t size) override;
  Status Commit(std::int64_t size, std::string_view expected,
                const Labels& labels) override;

 private:
  IngestWriter(std::shared_ptr<RefLocks> locks, std::string dir,
               std::string blob_dir, WriterOptions options);
  Status Init();
  // Rebuilds hash_ from the first `size` bytes of data.
  Status Rehash(std::int64_t size);
  std::string DataPath() const { return dir_ + "/data"; }

  std::shared_ptr<RefLocks> locks_;
  const std::string dir_;
  const std::string blob_dir_;
  WriterOptions options_;
  int fd_ = -1;
  std::int64_t offset_ = 0;
  Sha256 hash_;
  // Hashes large writes in parallel with their pwrite; made on first use.
  // Declared after hash_, which it refers to.
  std::unique_ptr<HashWorker> hasher_;
  Timestamp started_at_;
  Timestamp updated_at_;
  bool committed_ = false;
};

}  // namespace berth::content_local

#endif  // BERTH_PLUGINS_CONTENT_LOCAL_INGEST_WRITER_H_
