// What the tasks tests share (tasks_test.cc, tasks_more_test.cc,
// tasks_restart_test.cc): a berthd with the busybox image imported into a
// namespace of the test's own, ctr helpers over that namespace, a busybox
// rootfs folder for `ctr run --rootfs`, and a TearDown that kills whatever a
// failed test left — tasks through ctr, then any shim and container process
// still up (by the shims' -namespace/-id arguments and runc/crun), bundle
// root filesystems unmounted — before the harness removes the daemon's
// folders (the fifos of `--fifo-dir FifoDir()` with them).
//
// Not thread-safe; one fixture per test.
#ifndef BERTH_TESTS_INTEGRATION_TASKS_FIXTURE_H_
#define BERTH_TESTS_INTEGRATION_TASKS_FIXTURE_H_

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "berth/mount.h"
#include "berthd_process.h"
#include "daemon_test.h"
#include "run_command.h"
#include "temp_dir.h"

namespace berth::test {

inline constexpr char kImage[] = "docker.io/library/busybox:latest";
inline constexpr char kStockShim[] = "/usr/bin/containerd-shim-runc-v2";
inline constexpr char kStockRuntime[] = "io.containerd.runc.v2";   // ctr's default
inline constexpr char kBerthRuntime[] = "io.containerd.berth.v2";  // our shim

inline bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

// Field `n` (1-based, after the comm field as 2) of /proc/<pid>/stat, or "".
inline std::string StatField(const std::string& pid, int n) {
  std::string stat = ReadFile("/proc/" + pid + "/stat");
  std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= n && rest >> field; ++i) {
  }
  return field;
}

// The parent of `pid` (a task's init process: its shim), or -1.
inline pid_t ParentOf(const std::string& pid) {
  std::string ppid = StatField(pid, 4);
  return ppid.empty() ? -1 : std::stoi(ppid);
}

// Whether `pid` runs (exists and is no zombie).
inline bool Alive(pid_t pid) {
  std::string state = StatField(std::to_string(pid), 3);
  return !state.empty() && state != "Z" && state != "X";
}

// The shims serving task `id` of namespace `ns`: processes whose command
// line holds "-namespace NS" and "-id ID" (a namespace no other test uses).
inline std::vector<pid_t> ShimsOf(const std::string& ns, const std::string& id) {
  std::vector<pid_t> pids;
  const std::string want_ns = std::string("-namespace") + '\0' + ns + '\0';
  const std::string want_id = std::string("-id") + '\0' + id + '\0';
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = ReadFile(entry.path().string() + "/cmdline");
    if (cmdline.find("containerd-shim") != std::string::npos &&
        cmdline.find(want_ns) != std::string::npos && cmdline.find(want_id) != std::string::npos) {
      pids.push_back(std::stoi(name));
    }
  }
  return pids;
}

// Polls `done` every 50 ms until it holds or `bound` passes; its last value.
template <typename Predicate>
bool Eventually(Predicate done, std::chrono::milliseconds bound = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

// The number of descriptors `pid` holds.
inline int CountFds(pid_t pid) {
  int n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

// The mount points (of this mount namespace) at or under `dir`.
inline std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> found;
  std::istringstream info(ReadFile("/proc/self/mountinfo"));
  for (std::string line; std::getline(info, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point == dir || point.rfind(dir + "/", 0) == 0) found.push_back(point);
  }
  return found;
}

// Whether a process runs with exactly `argv` as its command line.
inline bool ProcessWithArgs(const std::vector<std::string>& argv) {
  std::string want;
  for (const std::string& a : argv) want += a + '\0';
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (ReadFile(entry.path().string() + "/cmdline") == want && Alive(std::stoi(name))) {
      return true;
    }
  }
  return false;
}

class TasksFixture : public DaemonTest {
 protected:
  explicit TasksFixture(BerthdOptions options = {"", kNoCollectionToml, {}, {}})
      : DaemonTest(std::move(options)) {}

  // One busybox image tarball for the suite.
  static void SetUpTestSuite() {
    image_dir_ = new TempDir("berth-tasks-image-");
    CommandResult made =
        RunCommand({"bash", std::string(BERTH_SOURCE_DIR) + "/scripts/busybox-image.sh",
                    image_dir_->Join("busybox.tar")});
    image_error_ = made.exit_code == 0 ? "" : made.Describe();
  }
  static void TearDownTestSuite() {
    delete image_dir_;
    image_dir_ = nullptr;
  }

  void SetUp() override {
    if (!Exists(kStockShim)) GTEST_SKIP() << kStockShim << " is not installed";
    ASSERT_EQ(image_error_, "");
    DaemonTest::SetUp();
    // A valid namespace: a parametrized test's "Name/Param" as "Name-Param".
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '-';
    }
    ns_ = "tasks-test-" + std::to_string(getpid()) + "-" + name;
    Ctr({"-n", ns_, "images", "import", image_dir_->Join("busybox.tar")});
  }

  void TearDown() override {
    if (ns_.empty()) return;
    for (const std::string& id : ids_) CleanUp(id);
    // The namespace's cgroup parent, which runc leaves as containerd's does.
    rmdir(("/sys/fs/cgroup/" + ns_).c_str());
    rmdir(("/run/containerd/runc/" + ns_).c_str());
  }

  // Best effort, bounded: the task through berthd, then what is left by hand.
  void CleanUp(const std::string& id) {
    if (berthd_.running()) {
      berthd_.Ctr({"-n", ns_, "task", "kill", "-s", "SIGKILL", id});
      for (int i = 0; i < 50 && TaskStatus(id) == "RUNNING"; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      berthd_.Ctr({"-n", ns_, "task", "rm", "-f", id});
      berthd_.Ctr({"-n", ns_, "containers", "rm", id});
    }
    std::string bundle = Bundle(id);
    for (const char* runtime : {"runc", "crun"}) {
      RunCommand({runtime, "--root", "/run/containerd/runc/" + ns_, "delete", "-f", id}, "",
                 std::chrono::seconds(30));
    }
    // A shim told to shut down exits within moments.
    for (int i = 0; i < 50 && !ShimsOf(ns_, id).empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    for (pid_t shim : ShimsOf(ns_, id)) {
      ADD_FAILURE() << "shim " << shim << " of " << ns_ << "/" << id << " left running; killed";
      kill(shim, SIGKILL);
    }
    if (Exists(bundle + "/rootfs")) (void)UnmountAll(bundle + "/rootfs");
  }

  std::string Bundle(const std::string& id) const {
    return berthd_.state() + "/io.containerd.runtime.v2.task/" + ns_ + "/" + id;
  }
  // The shim's work folder (the bundle's `work` link points there).
  std::string WorkDir(const std::string& id) const {
    return berthd_.root() + "/io.containerd.runtime.v2.task/" + ns_ + "/" + id;
  }

  // Nothing of task `id` is left: no bundle, no work folder, no mount under
  // its bundle, no shim (waited for, bounded: a shim told to shut
  // down takes a moment).
  ::testing::AssertionResult NothingLeftOf(const std::string& id) {
    std::vector<std::string> left;
    if (Exists(Bundle(id))) left.push_back("bundle " + Bundle(id));
    if (Exists(WorkDir(id))) left.push_back("work folder " + WorkDir(id));
    for (const std::string& m : MountsUnder(Bundle(id))) left.push_back("mount " + m);
    if (!Eventually([&] { return ShimsOf(ns_, id).empty(); }, std::chrono::seconds(10))) {
      left.push_back("shim " + std::to_string(ShimsOf(ns_, id).front()));
    }
    if (left.empty()) return ::testing::AssertionSuccess();
    auto failure = ::testing::AssertionFailure() << "left of task " << id << ":";
    for (const std::string& l : left) failure << " " << l << ";";
    return failure << "\n" << berthd_.Log();
  }
  // Where `--fifo-dir` puts ctr's fifos: inside the daemon's folder, so
  // that they go with it.
  std::string FifoDir() const { return berthd_.dir().Join("fifo"); }

  // A busybox root filesystem for `ctr run --rootfs` (made on first use):
  // /bin/busybox and one symlink per applet, the usual mount points.
  const std::string& Rootfs() {
    if (rootfs_.empty()) {
      std::string root = berthd_.dir().Join("busybox-rootfs");
      CommandResult made = RunCommand(
          {"sh", "-ec",
           "mkdir -p \"$1/bin\" \"$1/etc\" \"$1/dev\" \"$1/proc\" \"$1/sys\" \"$1/tmp\" "
           "\"$1/root\"; cp /bin/busybox \"$1/bin/busybox\"; "
           "for a in $(/bin/busybox --list); do [ \"$a\" = busybox ] || ln -s busybox "
           "\"$1/bin/$a\"; done; echo 'root:x:0:0:root:/root:/bin/sh' >\"$1/etc/passwd\"",
           "sh", root});
      EXPECT_EQ(made.exit_code, 0) << made.Describe();
      rootfs_ = root;
    }
    return rootfs_;
  }

  // Remembers `id` for TearDown's clean-up; returns it.
  std::string Track(const std::string& id) {
    ids_.push_back(id);
    return id;
  }

  // ctr's namespace-scoped command.
  std::vector<std::string> In(std::vector<std::string> args) const {
    args.insert(args.begin(), {"-n", ns_});
    return args;
  }

  // `ctr task ls` as id → "PID STATUS".
  std::map<std::string, std::pair<std::string, std::string>> Tasks() {
    std::map<std::string, std::pair<std::string, std::string>> tasks;
    CommandResult r = berthd_.Ctr(In({"task", "ls"}));
    EXPECT_EQ(r.exit_code, 0) << r.Describe() << "\n" << berthd_.Log();
    for (const std::string& line : OutputLines(r.out)) {
      std::istringstream fields(line);
      std::string id, pid, status;
      fields >> id >> pid >> status;
      if (id == "TASK") continue;
      tasks[id] = {pid, status};
    }
    return tasks;
  }
  std::string TaskStatus(const std::string& id) {
    auto tasks = Tasks();
    auto it = tasks.find(id);
    return it == tasks.end() ? "" : it->second.second;
  }
  // Polls `task ls` (bounded) until `id` shows `status` ("" = gone).
  ::testing::AssertionResult WaitStatus(const std::string& id, const std::string& status,
                                        std::chrono::milliseconds bound = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
      last = TaskStatus(id);
      if (last == status) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return ::testing::AssertionFailure()
           << "task " << id << " is \"" << last << "\", not \"" << status << "\"\n"
           << berthd_.Log();
  }

  // `ctr run -d [FLAGS...] IMAGE ID ARGS...`, remembered for clean-up.
  void RunDetached(const std::string& id, const std::vector<std::string>& args,
                   const std::vector<std::string>& flags = {}) {
    Track(id);
    std::vector<std::string> run = {"run", "-d", "--fifo-dir", FifoDir()};
    run.insert(run.end(), flags.begin(), flags.end());
    run.insert(run.end(), {kImage, id});
    run.insert(run.end(), args.begin(), args.end());
    Ctr(In(run));
  }

  static inline TempDir* image_dir_ = nullptr;
  static inline std::string image_error_;
  std::string ns_;
  std::vector<std::string> ids_;
  std::string rootfs_;
};

}  // namespace berth::test

#endif  // BERTH_TESTS_INTEGRATION_TASKS_FIXTURE_H_
