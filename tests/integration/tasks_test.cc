// The tasks service and the v2 runtime against a real berthd, driven by the
// stock ctr with the stock shim (Debian's containerd-shim-runc-v2, runtime
// io.containerd.runc.v2, ctr's default): `ctr run --rm ... echo hi`,
// detached tasks with `task ls`, exec, ps, kill and rm, and a detached task
// surviving a SIGKILL of berthd (the restarted daemon reconnects to its shim).
//
// Each test uses its own namespace; TearDown kills whatever a failed test
// left — tasks through ctr, then any shim and container process still up
// (by the shim's pid file and runc), and unmounts bundle root filesystems —
// before the harness removes the daemon's folders.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

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
namespace {

constexpr char kImage[] = "docker.io/library/busybox:latest";
constexpr char kStockShim[] = "/usr/bin/containerd-shim-runc-v2";

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

// The parent of `pid` (a task's init process: its shim), or -1.
pid_t ParentOf(const std::string& pid) {
  std::istringstream stat(ReadFile("/proc/" + pid + "/stat"));
  std::string skip, comm, state;
  pid_t ppid = -1;
  stat >> skip >> comm >> state >> ppid;
  return ppid;
}

// The shims serving task `id` of namespace `ns`: processes whose command
// line holds "-namespace NS" and "-id ID" (a namespace no other test uses).
std::vector<pid_t> ShimsOf(const std::string& ns, const std::string& id) {
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

class TasksTest : public DaemonTest {
 protected:
  TasksTest() : DaemonTest(BerthdOptions{"", kNoCollectionToml, {}, {}}) {}

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
    ns_ = "tasks-test-" + std::to_string(getpid()) + "-" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name();
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
        std::this_thread::sleep_for(100ms);
      }
      berthd_.Ctr({"-n", ns_, "task", "rm", "-f", id});
      berthd_.Ctr({"-n", ns_, "containers", "rm", id});
    }
    std::string bundle = Bundle(id);
    RunCommand({"runc", "--root", "/run/containerd/runc/" + ns_, "delete", "-f", id}, "", 30s);
    // A shim told to shut down exits within moments.
    for (int i = 0; i < 50 && !ShimsOf(ns_, id).empty(); ++i) std::this_thread::sleep_for(100ms);
    for (pid_t shim : ShimsOf(ns_, id)) {
      ADD_FAILURE() << "shim " << shim << " of " << ns_ << "/" << id << " left running; killed";
      kill(shim, SIGKILL);
    }
    if (Exists(bundle + "/rootfs")) (void)UnmountAll(bundle + "/rootfs");
  }

  std::string Bundle(const std::string& id) const {
    return berthd_.state() + "/io.containerd.runtime.v2.task/" + ns_ + "/" + id;
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
                                        std::chrono::milliseconds bound = 30s) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
      last = TaskStatus(id);
      if (last == status) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(100ms);
    }
    return ::testing::AssertionFailure()
           << "task " << id << " is \"" << last << "\", not \"" << status << "\"\n"
           << berthd_.Log();
  }

  // `ctr run -d IMAGE ID ARGS...`, remembered for clean-up.
  void RunDetached(const std::string& id, const std::vector<std::string>& args) {
    ids_.push_back(id);
    std::vector<std::string> run = {"run", "-d", kImage, id};
    run.insert(run.end(), args.begin(), args.end());
    Ctr(In(run));
  }

  static inline TempDir* image_dir_ = nullptr;
  static inline std::string image_error_;
  std::string ns_;
  std::vector<std::string> ids_;
};

TEST_F(TasksTest, RunRmEchoesWithTheStockShim) {
  ids_.push_back("t1");
  CommandResult r = berthd_.Ctr(In({"run", "--rm", kImage, "t1", "echo", "hi"}));
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << "\n" << berthd_.Log();
  EXPECT_EQ(r.out, "hi\n");
  // --rm took the task, the container and the bundle away.
  EXPECT_EQ(TaskStatus("t1"), "");
  EXPECT_EQ(Ctr(In({"containers", "ls", "-q"})), "");
  EXPECT_FALSE(Exists(Bundle("t1")));
}

TEST_F(TasksTest, ExitStatusOfTheInitProcessIsCtrs) {
  ids_.push_back("t-exit");
  CommandResult r = berthd_.Ctr(In({"run", "--rm", kImage, "t-exit", "sh", "-c", "exit 3"}));
  EXPECT_EQ(r.exit_code, 3) << r.Describe() << "\n" << berthd_.Log();
}

TEST_F(TasksTest, DetachedTaskListsExecsPsKillsAndRemoves) {
  RunDetached("t2", {"sleep", "1000"});
  auto tasks = Tasks();
  ASSERT_EQ(tasks.count("t2"), 1u) << berthd_.Log();
  EXPECT_EQ(tasks["t2"].second, "RUNNING");
  EXPECT_NE(tasks["t2"].first, "0");

  // exec: a second process in the task, its output and exit on ctr's side.
  CommandResult exec = berthd_.Ctr(In({"task", "exec", "--exec-id", "e1", "t2", "echo", "in"}));
  EXPECT_EQ(exec.exit_code, 0) << exec.Describe() << "\n" << berthd_.Log();
  EXPECT_EQ(exec.out, "in\n");

  // ps: the init process's pid among the task's.
  std::string ps = Ctr(In({"task", "ps", "t2"}));
  EXPECT_TRUE(Contains(ps, tasks["t2"].first));

  // pause and resume: the task's state follows.
  Ctr(In({"task", "pause", "t2"}));
  EXPECT_EQ(TaskStatus("t2"), "PAUSED");
  Ctr(In({"task", "resume", "t2"}));
  EXPECT_EQ(TaskStatus("t2"), "RUNNING");

  // Errors as containerd's.
  CommandResult again = berthd_.Ctr(In({"run", "-d", kImage, "t2", "true"}));
  EXPECT_NE(again.exit_code, 0);
  EXPECT_TRUE(Contains(again.err, "already exists"));
  CommandResult unknown = berthd_.Ctr(In({"task", "kill", "nope"}));
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_TRUE(Contains(unknown.err, "not found"));
  CommandResult running_rm = berthd_.Ctr(In({"task", "rm", "t2"}));
  EXPECT_NE(running_rm.exit_code, 0);

  Ctr(In({"task", "kill", "t2"}));  // SIGTERM; sleep as pid 1 ignores it
  Ctr(In({"task", "kill", "-s", "SIGKILL", "t2"}));
  ASSERT_TRUE(WaitStatus("t2", "STOPPED"));
  Ctr(In({"task", "rm", "t2"}));
  EXPECT_EQ(TaskStatus("t2"), "");
  EXPECT_FALSE(Exists(Bundle("t2")));
  Ctr(In({"containers", "rm", "t2"}));
}

TEST_F(TasksTest, DetachedTaskSurvivesBerthdSigkill) {
  RunDetached("t3", {"sleep", "1000"});
  auto before = Tasks();
  ASSERT_EQ(before["t3"].second, "RUNNING") << berthd_.Log();

  berthd_.Kill();
  ASSERT_TRUE(berthd_.Start());
  ASSERT_TRUE(berthd_.WaitServing());

  auto after = Tasks();
  ASSERT_EQ(after.count("t3"), 1u) << berthd_.Log();
  EXPECT_EQ(after["t3"], before["t3"]);  // same pid, still RUNNING
  EXPECT_TRUE(Contains(berthd_.Log(), "reconnected to the shim of task " + ns_ + "/t3"));

  Ctr(In({"task", "kill", "-s", "SIGKILL", "t3"}));
  ASSERT_TRUE(WaitStatus("t3", "STOPPED"));
  Ctr(In({"task", "rm", "t3"}));
  Ctr(In({"containers", "rm", "t3"}));
  EXPECT_FALSE(Exists(Bundle("t3")));
}

TEST_F(TasksTest, DeadShimIsCleanedUpOnRestart) {
  RunDetached("t4", {"sleep", "1000"});
  pid_t shim = ParentOf(Tasks()["t4"].first);
  ASSERT_GT(shim, 1);
  berthd_.Kill();
  // The shim dies while berthd is down: the next berthd cleans up after it.
  ASSERT_EQ(kill(shim, SIGKILL), 0);
  RunCommand({"runc", "--root", "/run/containerd/runc/" + ns_, "delete", "-f", "t4"}, "", 30s);
  ASSERT_TRUE(berthd_.Start());
  ASSERT_TRUE(berthd_.WaitServing());
  EXPECT_EQ(TaskStatus("t4"), "");
  EXPECT_FALSE(Exists(Bundle("t4"))) << berthd_.Log();
  EXPECT_TRUE(Contains(berthd_.Log(), "cleaned up the dead shim of task " + ns_ + "/t4"));
  Ctr(In({"containers", "rm", "t4"}));
}

TEST_F(TasksTest, ShimExitWhileServingDropsTheTask) {
  RunDetached("t5", {"sleep", "1000"});
  pid_t shim = ParentOf(Tasks()["t5"].first);
  ASSERT_GT(shim, 1);
  ASSERT_EQ(kill(shim, SIGKILL), 0);
  ASSERT_TRUE(WaitStatus("t5", ""));
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (Exists(Bundle("t5")) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_FALSE(Exists(Bundle("t5"))) << berthd_.Log();
  Ctr(In({"containers", "rm", "t5"}));
}

}  // namespace
}  // namespace berth::test
