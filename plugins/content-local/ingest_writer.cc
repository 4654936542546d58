#include "ingest_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "fs.h"

namespace berth::content_local {
namespace {

constexpr std::size_t kRehashChunk = 1 << 20;
// Below this, handing a chunk to the hash worker costs more than it saves.
constexpr std::size_t kParallelHashMin = 64 << 10;

}  // namespace

IngestWriter::IngestWriter(std::shared_ptr<RefLocks> locks, std::string dir,
                           std::string blob_dir, WriterOptions options)
    : locks_(std::move(locks)),
      dir_(std::move(dir)),
      blob_dir_(std::move(blob_dir)),
      options_(std::move(options)) {}

IngestWriter::~IngestWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    if (!committed_) {
      // Best effort: the time of the last write, for status after a restart.
      (void)WriteSmallFile(dir_ + "/updatedat", FormatRfc3339NanoFixed(updated_at_));
    }
  }
  locks_->Unlock(options_.ref);
}

Result<std::unique_ptr<IngestWriter>> IngestWriter::Open(
    std::shared_ptr<RefLocks> locks, std::string dir, std::string blob_dir,
    const WriterOptions& options) {
  std::unique_ptr<IngestWriter> w(new IngestWriter(
      std::move(locks), std::move(dir), std::move(blob_dir), options));
  BERTH_RETURN_IF_ERROR(w->Init());
  return w;
}

Status IngestWriter::Init() {
  const std::string ref_path = dir_ + "/ref";
  auto stored_ref = ReadSmallFile(ref_path);
  bool resume = stored_ref.ok();
  if (resume && *stored_ref != options_.ref) {
    return Status::FailedPrecondition("ingest folder " + dir_ +
                                      " belongs to another ref");
  }
  Timestamp now = std::chrono::system_clock::now();
  if (resume) {
    auto total_text = ReadSmallFile(dir_ + "/total");
    std::int64_t stored_total = 0;
    if (total_text.ok()) stored_total = std::atoll(total_text->c_str());
    if (options_.total > 0 && stored_total > 0 && options_.total != stored_total) {
      return Status::FailedPrecondition(
          "provided total differs from status: " + std::to_string(options_.total) +
          " != " + std::to_string(stored_total));
    }
    if (options_.total == 0) {
      options_.total = stored_total;
    } else if (stored_total == 0) {
      BERTH_RETURN_IF_ERROR(
          WriteSmallFile(dir_ + "/total", std::to_string(options_.total)));
    }
    auto started = ReadSmallFile(dir_ + "/startedat");
    started_at_ = started.ok() ? ParseTimestamp(*started, now) : now;
  } else {
    // A fresh ingest, or a folder left half-made by a crash: (re)initialise.
    BERTH_RETURN_IF_ERROR(MakeDirs(dir_));
    started_at_ = now;
    BERTH_RETURN_IF_ERROR(WriteSmallFile(dir_ + "/startedat", FormatRfc3339NanoFixed(now)));
    if (options_.total > 0) {
      BERTH_RETURN_IF_ERROR(
          WriteSmallFile(dir_ + "/total", std::to_string(options_.total)));
    }
  }
  int flags = O_RDWR | O_CREAT | O_CLOEXEC | (resume ? 0 : O_TRUNC);
  fd_ = ::open(DataPath().c_str(), flags, 0644);
  if (fd_ < 0) return ErrnoStatus("open", DataPath(), errno);
  if (!resume) {
    // The ref file goes last: its presence marks a complete ingest folder.
    BERTH_RETURN_IF_ERROR(WriteSmallFile(ref_path, options_.ref));
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return ErrnoStatus("stat", DataPath(), errno);
  // mtime comes from the kernel's coarse clock; never report it before the start.
  updated_at_ = resume ? std::max(FromTimespec(st.st_mtim), started_at_) : now;
  return Rehash(st.st_size);
}

Status IngestWriter::Rehash(std::int64_t size) {
  hash_.Reset();
  offset_ = 0;
  std::vector<char> buf(kRehashChunk);
  while (offset_ < size) {
    std::size_t want = static_cast<std::size_t>(
        std::min<std::int64_t>(static_cast<std::int64_t>(buf.size()), size - offset_));
    auto n = FullPread(fd_, buf.data(), want, offset_, DataPath());
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    hash_.Update(buf.data(), *n);
    offset_ += static_cast<std::int64_t>(*n);
  }
  return Status::Ok();
}

Status IngestWriter::Write(const void* data, std::size_t size) {
  if (committed_) return Status::FailedPrecondition("writer already committed");
  if (size == 0) return Status::Ok();
  if (size < kParallelHashMin) {
    BERTH_RETURN_IF_ERROR(FullPwrite(fd_, data, size, offset_, DataPath()));
    hash_.Update(data, size);
  } else {
    // Hash on the worker while this thread writes the same bytes.
    if (!hasher_) hasher_ = std::make_unique<HashWorker>(hash_);
    hasher_->Start(data, size);
    Status written = FullPwrite(fd_, data, size, offset_, DataPath());
    hasher_->Wait();
    if (!written.ok()) {
      // The hash has bytes the file may not: rebuild it from what is there.
      Status rehashed = Rehash(offset_);
      return rehashed.ok() ? written : rehashed;
    }
  }
  offset_ += static_cast<std::int64_t>(size);
  updated_at_ = std::chrono::system_clock::now();
  return Status::Ok();
}

Result<IngestStatus> IngestWriter::Stat() const {
  IngestStatus st;
  st.ref = options_.ref;
  st.offset = offset_;
  st.total = options_.total;
  st.expected = options_.expected;
  st.started_at = started_at_;
  st.updated_at = updated_at_;
  return st;
}

Status IngestWriter::Truncate(std::int64_t size) {
  if (committed_) return Status::FailedPrecondition("writer already committed");
  if (size < 0 || size > offset_) {
    return Status::InvalidArgument("truncate to " + std::to_string(size) +
                                   " outside written range");
  }
  if (::ftruncate(fd_, size) != 0) return ErrnoStatus("truncate", DataPath(), errno);
  updated_at_ = std::chrono::system_clock::now();
  return Rehash(size);
}

Status IngestWriter::Commit(std::int64_t size, std::string_view expected,
                            const Labels& labels) {
  if (committed_) return Status::FailedPrecondition("writer already committed");
  BERTH_RETURN_IF_ERROR(ValidateLabels(labels));
  if (!expected.empty()) BERTH_RETURN_IF_ERROR(ValidateDigest(expected));
  if (::fsync(fd_) != 0) return ErrnoStatus("fsync", DataPath(), errno);
  if (size > 0 && size != offset_) {
    return Status::FailedPrecondition(
        "\"" + options_.ref + "\" failed size validation: " +
        std::to_string(offset_) + " != " + std::to_string(size));
  }
  std::string digest = hash_.Digest();
  if (!expected.empty() && expected != digest) {
    return Status::FailedPrecondition("unexpected commit digest " + digest +
                                      ", expected " + std::string(expected));
  }
  std::string target = blob_dir_ + "/" + std::string(DigestHex(digest));
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0) {
    committed_ = true;
    (void)RemoveDir(dir_);
    return Status::AlreadyExists("content " + digest);
  }
  if (::fchmod(fd_, 0444) != 0) return ErrnoStatus("chmod", DataPath(), errno);
  if (::rename(DataPath().c_str(), target.c_str()) != 0) {
    return ErrnoStatus("rename", DataPath(), errno);
  }
  committed_ = true;
  BERTH_RETURN_IF_ERROR(SyncDir(blob_dir_));
  (void)RemoveDir(dir_);
  return Status::Ok();
}

}  // namespace berth::content_local
