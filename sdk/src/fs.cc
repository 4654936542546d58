#include "berth/fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace berth {

std::string ErrnoMessage(std::string_view what, std::string_view path, int err) {
  std::string msg(what);
  if (!path.empty()) {
    msg += ' ';
    msg += path;
  }
  msg += ": ";
  msg += std::strerror(err);
  return msg;
}

Status ErrnoStatus(std::string_view what, std::string_view path, int err) {
  std::string msg = ErrnoMessage(what, path, err);
  if (err == ENOENT) return Status::NotFound(std::move(msg));
  return Status::Unknown(std::move(msg));
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("fsync", dir, err);
  return Status::Ok();
}

}  // namespace berth
