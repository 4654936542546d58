#include "server/root_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace berth::host {

Result<std::unique_ptr<RootLock>> RootLock::Acquire(const std::string& root) {
  std::string path = root + "/berthd.lock";
  int fd =
      ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Status::Unknown("open " + path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::FailedPrecondition("another berthd is running with root " +
                                        root);
    }
    return Status::Unknown("lock " + path + ": " + std::strerror(err));
  }
  return std::unique_ptr<RootLock>(new RootLock(fd, std::move(path)));
}

RootLock::~RootLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace berth::host
