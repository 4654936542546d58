#include "local_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "fs.h"
#include "ingest_writer.h"

namespace berth::content_local {
namespace {

// Reads one blob through its descriptor with pread; no buffering of its own.
class FileReader : public ContentReader {
 public:
  FileReader(int fd, std::int64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  ~FileReader() override { ::close(fd_); }
  Result<std::size_t> ReadAt(void* buf, std::size_t size,
                             std::int64_t offset) override {
    if (offset < 0) return Status::InvalidArgument("negative read offset");
    if (offset >= size_) return std::size_t{0};
    return FullPread(fd_, buf, size, offset, path_);
  }
  std::int64_t Size() const override { return size_; }

 private:
  int fd_;
  std::int64_t size_;
  std::string path_;
};

bool IsHex64(const std::string& name) {
  return ValidateDigest(std::string(kSha256Prefix) + name).ok();
}

}  // namespace

Status RefLocks::Lock(const std::string& ref) {
  MutexLock lock(&mu_);
  auto [it, inserted] = held_.emplace(ref, std::chrono::system_clock::now());
  if (!inserted) {
    return Status::Unavailable("ref " + ref + " locked since " +
                               FormatRfc3339NanoFixed(it->second));
  }
  return Status::Ok();
}

void RefLocks::Unlock(const std::string& ref) {
  MutexLock lock(&mu_);
  held_.erase(ref);
}

LocalStore::LocalStore(std::string root) : root_(std::move(root)) {}

Result<std::shared_ptr<LocalStore>> LocalStore::Open(const std::string& root) {
  BERTH_RETURN_IF_ERROR(MakeDirs(root + "/blobs/sha256"));
  BERTH_RETURN_IF_ERROR(MakeDirs(root + "/ingest"));
  return std::shared_ptr<LocalStore>(new LocalStore(root));
}

std::string LocalStore::BlobPath(std::string_view digest) const {
  return root_ + "/blobs/sha256/" + std::string(DigestHex(digest));
}

std::string LocalStore::IngestPath(std::string_view ref) const {
  return root_ + "/ingest/" + std::string(DigestHex(Sha256Of(ref)));
}

Result<ContentInfo> LocalStore::Info(std::string_view digest) {
  BERTH_RETURN_IF_ERROR(ValidateDigest(digest));
  struct stat st {};
  if (::stat(BlobPath(digest).c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Status::NotFound("content " + std::string(digest));
    }
    return ErrnoStatus("stat", BlobPath(digest), errno);
  }
  ContentInfo info;
  info.digest = std::string(digest);
  info.size = st.st_size;
  info.created_at = FromTimespec(st.st_mtim);
  info.updated_at = info.created_at;
  return info;
}

Result<ContentInfo> LocalStore::Update(const ContentInfo& info,
                                       const std::vector<std::string>&) {
  return Status::FailedPrecondition(
      "update not supported on immutable content store");
}

Status LocalStore::Walk(const filters::Filter& filter,
                        const std::function<Status(const ContentInfo&)>& fn) {
  std::error_code ec;
  std::filesystem::directory_iterator it(root_ + "/blobs/sha256", ec);
  if (ec) return Status::Unknown("walk " + root_ + ": " + ec.message());
  for (const auto& entry : it) {
    std::string name = entry.path().filename().string();
    if (!IsHex64(name)) continue;  // stray files are not content
    auto info = Info(std::string(kSha256Prefix) + name);
    if (!info.ok()) {
      if (info.status().Is(Code::kNotFound)) continue;  // deleted meanwhile
      return info.status();
    }
    if (!filter.Match(AdaptContentInfo(*info))) continue;
    BERTH_RETURN_IF_ERROR(fn(*info));
  }
  return Status::Ok();
}

Status LocalStore::Delete(std::string_view digest) {
  BERTH_RETURN_IF_ERROR(ValidateDigest(digest));
  if (::unlink(BlobPath(digest).c_str()) != 0) {
    if (errno == ENOENT) return Status::NotFound("content " + std::string(digest));
    return ErrnoStatus("remove", BlobPath(digest), errno);
  }
  return Status::Ok();
}

Result<std::unique_ptr<ContentReader>> LocalStore::ReaderAt(
    std::string_view digest) {
  BERTH_RETURN_IF_ERROR(ValidateDigest(digest));
  std::string path = BlobPath(digest);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("content " + std::string(digest));
    return ErrnoStatus("open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("stat", path, err);
  }
  return std::unique_ptr<ContentReader>(
      std::make_unique<FileReader>(fd, st.st_size, std::move(path)));
}

Result<std::unique_ptr<ContentWriter>> LocalStore::Writer(
    const WriterOptions& options) {
  BERTH_RETURN_IF_ERROR(ValidateRef(options.ref));
  if (options.total < 0) return Status::InvalidArgument("negative total");
  if (!options.expected.empty()) {
    BERTH_RETURN_IF_ERROR(ValidateDigest(options.expected));
    if (Info(options.expected).ok()) {
      return Status::AlreadyExists("content " + options.expected);
    }
  }
  BERTH_RETURN_IF_ERROR(locks_->Lock(options.ref));
  // From here the writer owns the lock, also when Open fails.
  auto w = IngestWriter::Open(locks_, IngestPath(options.ref),
                              root_ + "/blobs/sha256", options);
  if (!w.ok()) return w.status();
  return std::unique_ptr<ContentWriter>(std::move(*w));
}

Result<IngestStatus> LocalStore::ReadStatus(const std::string& dir) const {
  auto ref = ReadSmallFile(dir + "/ref");
  if (!ref.ok()) return ref.status();
  IngestStatus st;
  st.ref = *ref;
  struct stat data {};
  std::string data_path = dir + "/data";
  if (::stat(data_path.c_str(), &data) != 0) {
    return ErrnoStatus("stat", data_path, errno);
  }
  st.offset = data.st_size;
  Timestamp mtime = FromTimespec(data.st_mtim);
  auto total = ReadSmallFile(dir + "/total");
  if (total.ok()) st.total = std::atoll(total->c_str());
  auto started = ReadSmallFile(dir + "/startedat");
  st.started_at = started.ok() ? ParseTimestamp(*started, mtime) : mtime;
  // The data file's mtime is the freshest "updated" time for a live writer.
  // The kernel stamps it from a coarse clock that can trail the fine clock
  // startedat was read from by a tick, so the later of the two is the answer.
  st.updated_at = std::max(mtime, st.started_at);
  return st;
}

Result<IngestStatus> LocalStore::GetStatus(std::string_view ref) {
  BERTH_RETURN_IF_ERROR(ValidateRef(ref));
  auto st = ReadStatus(IngestPath(ref));
  if (!st.ok()) {
    if (st.status().Is(Code::kNotFound)) {
      return Status::NotFound("ref " + std::string(ref));
    }
    return st.status();
  }
  return st;
}

Result<std::vector<IngestStatus>> LocalStore::ListStatuses(
    const filters::Filter& filter) {
  std::vector<IngestStatus> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(root_ + "/ingest", ec);
  if (ec) return Status::Unknown("list ingests: " + ec.message());
  for (const auto& entry : it) {
    auto st = ReadStatus(entry.path().string());
    if (!st.ok()) continue;  // half-made or just removed
    if (filter.Match(AdaptIngestStatus(*st))) out.push_back(std::move(*st));
  }
  return out;
}

Status LocalStore::Abort(std::string_view ref) {
  BERTH_RETURN_IF_ERROR(ValidateRef(ref));
  Status s = RemoveDir(IngestPath(ref));
  if (s.Is(Code::kNotFound)) {
    return Status::NotFound("ingest ref \"" + std::string(ref) + "\"");
  }
  return s;
}

}  // namespace berth::content_local
