// Helpers of the tests that serve plugins over containerd's API
// (berth-snapshotter, libberth-grpc's servers): a scratch folder on the real
// disk (overlay needs one), a child process with a log file that is always
// killed and reaped, and a bounded poll. Not thread-safe; owned by one test.
#ifndef BERTH_TESTS_INTEGRATION_SERVED_UTIL_H_
#define BERTH_TESTS_INTEGRATION_SERVED_UTIL_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "berth/mount.h"
#include "run_command.h"
#include "temp_dir.h"

namespace berth::test {

// Polls `done` every 20 ms until it holds or `bound` passes.
inline bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// "/var/tmp/<prefix>XXXXXX". The destructor unmounts every mount point the
// test registered (and whatever is stacked on them), then removes the tree
// without crossing into another file system.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix) {
    std::string tmpl = "/var/tmp/" + prefix + "XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp /var/tmp");
      std::abort();
    }
    path_ = tmpl;
  }
  ~ScratchDir() {
    for (const std::string& m : mount_points_) {
      Status s = UnmountAll(m);
      if (!s.ok()) ADD_FAILURE() << "unmount " << m << ": " << s.ToString();
    }
    struct stat st {};
    if (lstat(path_.c_str(), &st) == 0) RemoveTree(path_, st.st_dev);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Join(const std::string& relative) const { return path_ + "/" + relative; }
  // Unmounted by the destructor, even when the test fails first.
  void AddMountPoint(const std::string& path) { mount_points_.push_back(path); }

 private:
  static void RemoveTree(const std::string& path, dev_t device) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != device) {
        ADD_FAILURE() << "leaving mount point " << path << " in place";
        return;
      }
      std::error_code ec;
      std::vector<std::string> children;
      for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
        children.push_back(e.path().string());
      }
      for (const auto& child : children) RemoveTree(child, device);
      rmdir(path.c_str());
      return;
    }
    unlink(path.c_str());
  }

  std::string path_;
  std::vector<std::string> mount_points_;
};

// A child process whose stdout and stderr go to `log_path`. The destructor
// SIGKILLs and reaps it if it still runs.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::string log_path)
      : argv_(std::move(argv)), log_path_(std::move(log_path)) {}
  ~ChildProcess() { Kill(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  ::testing::AssertionResult Start() {
    int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd >= 0 && null_fd >= 0) pid_ = SpawnProcess(argv_, null_fd, log_fd, log_fd);
    if (log_fd >= 0) close(log_fd);
    if (null_fd >= 0) close(null_fd);
    if (pid_ < 0) return ::testing::AssertionFailure() << "cannot start " << argv_[0];
    return ::testing::AssertionSuccess();
  }
  // Polls `ready` (bounded); fails with the log when the child exits first.
  ::testing::AssertionResult WaitReady(const std::function<bool()>& ready,
                                       std::chrono::milliseconds bound) {
    std::optional<int> exited;
    bool ok = PollUntil(
        [&] {
          if (pid_ > 0 && (exited = WaitForExit(pid_, std::chrono::milliseconds(0)))) pid_ = -1;
          return exited.has_value() || ready();
        },
        bound);
    if (exited) {
      return ::testing::AssertionFailure() << argv_[0] << " exited with " << *exited << "; log:\n"
                                           << Log();
    }
    if (!ok) return ::testing::AssertionFailure() << argv_[0] << " not ready; log:\n" << Log();
    return ::testing::AssertionSuccess();
  }
  // Sends `signal`, then the exit code within `bound` (SIGKILL and -1 after
  // it).
  int Stop(int signal = SIGTERM, std::chrono::milliseconds bound = std::chrono::seconds(30)) {
    if (pid_ <= 0) return -1;
    kill(pid_, signal);
    std::optional<int> code = WaitForExit(pid_, bound);
    if (!code) {
      Kill();
      return -1;
    }
    pid_ = -1;
    return *code;
  }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    if (!WaitForExit(pid_, std::chrono::seconds(30))) ADD_FAILURE() << "pid " << pid_ << " lives";
    pid_ = -1;
  }
  std::string Log() const { return ReadFile(log_path_); }
  pid_t pid() const { return pid_; }

 private:
  std::vector<std::string> argv_;
  std::string log_path_;
  pid_t pid_ = -1;
};

}  // namespace berth::test

#endif  // BERTH_TESTS_INTEGRATION_SERVED_UTIL_H_
