#include "fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>

namespace berth::content_local {

Result<std::string> ReadSmallFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoStatus("read", path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > (1 << 20)) break;  // these files are small by design
  }
  ::close(fd);
  return out;
}

Status WriteSmallFile(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("create", tmp, errno);
  Status s = FullPwrite(fd, data.data(), data.size(), 0, tmp);
  ::close(fd);
  if (!s.ok()) return s;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoStatus("rename", tmp, errno);
  }
  return Status::Ok();
}

Timestamp ParseTimestamp(std::string_view text, Timestamp fallback) {
  std::string s(text);
  struct tm tm {};
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return fallback;
  long frac = 0;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 9) {
        frac = frac * 10 + (*rest - '0');
        ++digits;
      }
      ++rest;
    }
    for (; digits < 9; ++digits) frac *= 10;
  }
  if (*rest != 'Z') return fallback;
  std::time_t secs = timegm(&tm);
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(
      std::chrono::seconds(secs) + std::chrono::nanoseconds(frac)));
}

Timestamp FromTimespec(const struct timespec& ts) {
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(
      std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

Status FullPwrite(int fd, const void* data, std::size_t size, off_t offset,
                  const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::pwrite(fd, p, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("write", path, errno);
    p += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return Status::Ok();
}

Result<std::size_t> FullPread(int fd, void* buf, std::size_t size, off_t offset,
                              const std::string& path) {
  char* p = static_cast<char*>(buf);
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, p + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read", path, errno);
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

Status RemoveDir(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::NotFound(path + ": no such ingest");
  }
  std::filesystem::remove_all(path, ec);
  if (ec) return Status::Unknown("remove " + path + ": " + ec.message());
  return Status::Ok();
}

Status MakeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Status::Unknown("mkdir " + path + ": " + ec.message());
  return Status::Ok();
}

}  // namespace berth::content_local
