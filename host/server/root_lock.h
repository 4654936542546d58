// RootLock: the exclusive flock that keeps two daemons off one root.
//
// The lock lives on "<root>/berthd.lock" and is held for as long as the
// object lives (and dies with the process). Not thread-safe; one owner.
#ifndef BERTH_HOST_SERVER_ROOT_LOCK_H_
#define BERTH_HOST_SERVER_ROOT_LOCK_H_

#include <memory>
#include <string>

#include "berth/status.h"

namespace berth::host {

class RootLock {
 public:
  // Takes the lock without waiting. FailedPrecondition
  // "another berthd is running with root <root>" when it is held elsewhere;
  // Unknown when the lock file cannot be opened.
  static Result<std::unique_ptr<RootLock>> Acquire(const std::string& root);

  ~RootLock();  // releases the lock
  RootLock(const RootLock&) = delete;
  RootLock& operator=(const RootLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  RootLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace berth::host

#endif  // BERTH_HOST_SERVER_ROOT_LOCK_H_
