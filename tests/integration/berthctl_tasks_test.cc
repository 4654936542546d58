// berthctl run and berthctl tasks against a real berthd, with both runtimes
// (the stock io.containerd.runc.v2 and berth's io.containerd.berth.v2):
// `run --rm IMAGE ID echo hi`, exit statuses, stdin and stderr, `--rootfs
// DIR`, a detached task listed, exec'd, ps'd, killed and removed, `rm -f`,
// metrics, -t under a terminal, signals forwarded, and the errors.
//
// Each test uses its own namespace and ids (the pid in them: tests of this
// binary may run in parallel and share /run/berth/fifo). TearDown removes,
// through ctr (not the code under test), whatever a failed test left —
// tasks, containers, snapshots — then any container process and shim still
// up, the bundles' root mounts, the fifo folders and the cgroup parent.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
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
constexpr char kFifoBase[] = "/run/berth/fifo";

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

// Live shims of task `id` of namespace `ns` (by their command line).
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

// The fifo folders berthctl made for process `id` (its fifos "<id>-std*").
std::vector<std::string> FifoDirsOf(const std::string& id) {
  std::vector<std::string> dirs;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kFifoBase, ec)) {
    if (Exists(entry.path().string() + "/" + id + "-stdout")) dirs.push_back(entry.path());
  }
  return dirs;
}

class BerthctlTasksTest : public DaemonTest, public ::testing::WithParamInterface<std::string> {
 protected:
  BerthctlTasksTest() : DaemonTest(BerthdOptions{"", kNoCollectionToml, {}, {}}) {}

  static void SetUpTestSuite() {
    image_dir_ = new TempDir("berth-ctl-tasks-image-");
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
    if (GetParam() == "io.containerd.runc.v2" && !Exists(kStockShim)) {
      GTEST_SKIP() << kStockShim << " is not installed";
    }
    ASSERT_EQ(image_error_, "");
    DaemonTest::SetUp();
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& ch : name) {
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '-';
    }
    ns_ = "ctl-tasks-" + std::to_string(getpid()) + "-" + name;
    Ctr(In({"images", "import", image_dir_->Join("busybox.tar")}));
  }

  void TearDown() override {
    if (ns_.empty()) return;
    for (const std::string& id : ids_) CleanUp(id);
    rmdir(("/sys/fs/cgroup/" + ns_).c_str());
    rmdir(("/run/containerd/runc/" + ns_).c_str());
  }

  // Best effort, bounded; through ctr, then by hand.
  void CleanUp(const std::string& id) {
    if (berthd_.running()) {
      berthd_.Ctr(In({"task", "kill", "-a", "-s", "SIGKILL", id}));
      for (int i = 0; i < 50 && Status(id) == "RUNNING"; ++i) {
        std::this_thread::sleep_for(100ms);
      }
      berthd_.Ctr(In({"task", "rm", "-f", id}));
      berthd_.Ctr(In({"containers", "rm", id}));  // and its snapshot
      berthd_.Ctr(In({"snapshots", "rm", id}));   // when no container holds it
    }
    RunCommand({"runc", "--root", "/run/containerd/runc/" + ns_, "delete", "-f", id}, "", 30s);
    for (int i = 0; i < 50 && !ShimsOf(ns_, id).empty(); ++i) std::this_thread::sleep_for(100ms);
    for (pid_t shim : ShimsOf(ns_, id)) {
      ADD_FAILURE() << "shim " << shim << " of " << ns_ << "/" << id << " left running; killed";
      kill(shim, SIGKILL);
    }
    const std::string rootfs =
        berthd_.state() + "/io.containerd.runtime.v2.task/" + ns_ + "/" + id + "/rootfs";
    if (Exists(rootfs)) (void)UnmountAll(rootfs);
    for (const std::string& prefix : {id, std::string("e1-") + id, std::string("e2-") + id}) {
      for (const std::string& dir : FifoDirsOf(prefix)) {
        ADD_FAILURE() << "fifo folder " << dir << " left behind; removed";
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
      }
    }
  }

  // A fresh id for this test, remembered for the clean-up.
  std::string Id(const std::string& base) {
    std::string id = base + "-" + std::to_string(getpid());
    ids_.push_back(id);
    return id;
  }
  std::vector<std::string> In(std::vector<std::string> args) const {
    args.insert(args.begin(), {"-n", ns_});
    return args;
  }
  CommandResult Berthctl(const std::vector<std::string>& args, const std::string& in = "") {
    return berthd_.Berthctl(In(args), in);
  }
  // `berthctl run --runtime <param> ARGS...`.
  CommandResult Run(std::vector<std::string> args, const std::string& in = "") {
    args.insert(args.begin(), {"run", "--runtime", GetParam()});
    return Berthctl(args, in);
  }

  // `ctr task ls` as id -> status (ctr's view, for the checks and clean-up).
  std::string Status(const std::string& id) {
    CommandResult r = berthd_.Ctr(In({"task", "ls"}));
    for (const std::string& line : OutputLines(r.out)) {
      std::istringstream fields(line);
      std::string task, pid, status;
      fields >> task >> pid >> status;
      if (task == id) return status;
    }
    return "";
  }
  // `berthctl tasks ls` as id -> {pid, status}.
  std::map<std::string, std::pair<std::string, std::string>> BerthctlTasks() {
    CommandResult r = Berthctl({"tasks", "ls"});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    std::map<std::string, std::pair<std::string, std::string>> tasks;
    for (const std::string& line : OutputLines(r.out)) {
      std::istringstream fields(line);
      std::string task, pid, status;
      fields >> task >> pid >> status;
      if (task != "TASK") tasks[task] = {pid, status};
    }
    return tasks;
  }
  ::testing::AssertionResult WaitStatus(const std::string& id, const std::string& status) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
      last = BerthctlTasks()[id].second;
      if (last == status) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(100ms);
    }
    return ::testing::AssertionFailure() << id << " is \"" << last << "\", not " << status;
  }
  // Nothing of `id` is left: no task, container, snapshot or fifo folder.
  void ExpectGone(const std::string& id) {
    EXPECT_EQ(Status(id), "");
    EXPECT_FALSE(Contains(Ctr(In({"containers", "ls", "-q"})), id));
    EXPECT_FALSE(Contains(Ctr(In({"snapshots", "ls"})), id));
    EXPECT_TRUE(FifoDirsOf(id).empty());
  }

  static inline TempDir* image_dir_ = nullptr;
  static inline std::string image_error_;
  std::string ns_;
  std::vector<std::string> ids_;
};

TEST_P(BerthctlTasksTest, RunRmEchoes) {
  const std::string id = Id("t1");
  CommandResult r = Run({"--rm", kImage, id, "echo", "hi"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << "\n" << berthd_.Log();
  EXPECT_EQ(r.out, "hi\n");
  ExpectGone(id);
}

TEST_P(BerthctlTasksTest, ExitStatusStdinAndStderrAreTheTasks) {
  const std::string t2 = Id("t2");
  CommandResult r = Run({"--rm", kImage, t2, "sh", "-c", "echo oops >&2; exit 5"});
  EXPECT_EQ(r.exit_code, 5) << r.Describe() << "\n" << berthd_.Log();
  EXPECT_EQ(r.err, "oops\n");
  ExpectGone(t2);
  const std::string cat = Id("cat");
  r = Run({"--rm", kImage, cat, "cat"}, "through stdin\n");
  EXPECT_EQ(r.exit_code, 0) << r.Describe() << "\n" << berthd_.Log();
  EXPECT_EQ(r.out, "through stdin\n");
  ExpectGone(cat);
}

TEST_P(BerthctlTasksTest, RunsARootfsFolder) {
  TempDir rootfs("berth-ctl-rootfs-");
  for (const char* dir : {"bin", "proc", "dev", "sys", "tmp", "etc", "run"}) {
    ASSERT_EQ(mkdir(rootfs.Join(dir).c_str(), 0755), 0) << dir;
  }
  std::error_code ec;
  std::filesystem::copy_file("/bin/busybox", rootfs.Join("bin/busybox"), ec);
  ASSERT_FALSE(ec) << ec.message();
  for (const char* applet : {"sh", "echo", "cat"}) {
    ASSERT_EQ(symlink("busybox", rootfs.Join(std::string("bin/") + applet).c_str()), 0);
  }
  const std::string id = Id("t3");
  CommandResult r = Run({"--rm", "--rootfs", rootfs.path(), id, "sh", "-c", "echo from rootfs"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << "\n" << berthd_.Log();
  EXPECT_EQ(r.out, "from rootfs\n");
  ExpectGone(id);
}

TEST_P(BerthctlTasksTest, DetachedTaskListsExecsPsKillsAndRemoves) {
  const std::string id = Id("t4");
  CommandResult r = Run({"-d", kImage, id, "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << "\n" << berthd_.Log();
  EXPECT_EQ(r.out, "");
  auto tasks = BerthctlTasks();
  ASSERT_EQ(tasks.count(id), 1u) << berthd_.Log();
  EXPECT_EQ(tasks[id].second, "RUNNING");
  EXPECT_NE(tasks[id].first, "0");
  EXPECT_EQ(Status(id), "RUNNING");  // ctr agrees

  const std::string exec_id = "e1-" + id;
  r = Berthctl({"tasks", "exec", "--exec-id", exec_id, id, "sh", "-c", "echo in; exit 7"});
  EXPECT_EQ(r.exit_code, 7) << r.Describe() << "\n" << berthd_.Log();
  EXPECT_EQ(r.out, "in\n");
  EXPECT_TRUE(FifoDirsOf(exec_id).empty());

  r = Berthctl({"tasks", "ps", id});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "PID"));
  EXPECT_TRUE(Contains(r.out, tasks[id].first));

  r = Berthctl({"tasks", "rm", id});  // running: refused
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "berthctl: task must be stopped before deletion: running"));

  r = Berthctl({"tasks", "kill", id});  // SIGTERM; sleep as pid 1 ignores it
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  r = Berthctl({"tasks", "kill", "-s", "SIGKILL", id});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(WaitStatus(id, "STOPPED"));
  r = Berthctl({"tasks", "rm", id});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(BerthctlTasks().count(id), 0u);
  r = Berthctl({"containers", "rm", id});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  ExpectGone(id);
}

TEST_P(BerthctlTasksTest, ForcedRmKillsARunningTask) {
  const std::string id = Id("t5");
  CommandResult r = Run({"-d", kImage, id, "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << "\n" << berthd_.Log();
  r = Berthctl({"tasks", "rm", "-f", id});
  EXPECT_EQ(r.exit_code, 0) << r.Describe() << "\n" << berthd_.Log();
  EXPECT_EQ(Status(id), "");
  EXPECT_EQ(Berthctl({"containers", "rm", id}).exit_code, 0);
  ExpectGone(id);
}

TEST_P(BerthctlTasksTest, MetricsAreShownOrClearlyUnimplemented) {
  const std::string id = Id("t6");
  CommandResult r = Run({"-d", kImage, id, "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << "\n" << berthd_.Log();
  r = Berthctl({"tasks", "metrics", id});
  if (r.exit_code == 0) {
    EXPECT_TRUE(Contains(r.out, "TYPE"));
    EXPECT_TRUE(Contains(r.out, id));
  } else {
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(Contains(r.err, "berthctl: metrics of task " + id)) << r.Describe();
    EXPECT_TRUE(Contains(r.err, "not implemented")) << r.Describe();
  }
  ASSERT_TRUE(berthd_.running()) << berthd_.Log();
  EXPECT_EQ(Berthctl({"tasks", "rm", "-f", id}).exit_code, 0);
}

TEST_P(BerthctlTasksTest, ErrorsAreReported) {
  CommandResult r = Berthctl({"tasks", "kill", "nope"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "not found"));
  r = Berthctl({"tasks", "kill", "-s", "SIGNOPE", "nope"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "unknown signal"));
  r = Run({kImage});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "berthctl: image ref and container id must be provided"));
  const std::string id = Id("t7");
  r = Run({"--rm", "example.com/absent:1", id, "true"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "not found"));
  ExpectGone(id);
  r = Run({"-d", "--rm", kImage, id, "true"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "--detach and --rm"));
}

// -t under a terminal (util-linux `script` gives berthctl one): the task's
// terminal has the local size from the start.
TEST_P(BerthctlTasksTest, TerminalHasTheLocalSize) {
  if (!Exists("/usr/bin/script")) GTEST_SKIP() << "/usr/bin/script is not installed";
  const std::string id = Id("tty");
  const std::string command = "stty cols 100 rows 30 && " + BerthctlPath() + " -a " +
                              berthd_.socket() + " -n " + ns_ + " run -t --rm --runtime " +
                              GetParam() + " " + kImage + " " + id +
                              " sh -c 'stty size; exit 4'";
  CommandResult r = RunCommand({"/usr/bin/script", "-eqc", command, "/dev/null"});
  EXPECT_EQ(r.exit_code, 4) << r.Describe() << "\n" << berthd_.Log();
  EXPECT_TRUE(Contains(r.out, "30 100")) << r.Describe();
  ExpectGone(id);
}

// A signal to a foreground `berthctl run` goes to the task (ctr's
// ForwardAllSignals); the exit is the task's.
TEST_P(BerthctlTasksTest, SignalsAreForwardedToTheTask) {
  const std::string id = Id("sig");
  TempDir out("berth-ctl-sig-");
  int out_fd = open(out.Join("out").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(out_fd, 0);
  pid_t pid = SpawnProcess(
      {BerthctlPath(), "-a", berthd_.socket(), "-n", ns_, "run", "--rm", "--runtime",
       GetParam(), kImage, id, "sh", "-c",
       "trap 'echo got-term; exit 9' TERM; echo ready; while true; do sleep 0.1; done"},
      null_fd, out_fd, out_fd);
  close(out_fd);
  close(null_fd);
  ASSERT_GT(pid, 0);
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!Contains(ReadFile(out.Join("out")), "ready") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(Contains(ReadFile(out.Join("out")), "ready")) << ReadFile(out.Join("out"));
  kill(pid, SIGTERM);
  std::optional<int> code = WaitForExit(pid, 30s);
  if (!code) {
    kill(pid, SIGKILL);
    code = WaitForExit(pid, 30s);
    ADD_FAILURE() << "berthctl outlived the task's exit";
  }
  EXPECT_EQ(code.value_or(-1), 9) << ReadFile(out.Join("out")) << "\n" << berthd_.Log();
  EXPECT_TRUE(Contains(ReadFile(out.Join("out")), "got-term"));
  ExpectGone(id);
}

INSTANTIATE_TEST_SUITE_P(Runtimes, BerthctlTasksTest,
                         ::testing::Values("io.containerd.runc.v2", "io.containerd.berth.v2"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "io.containerd.runc.v2" ? std::string("runc")
                                                                        : std::string("berth");
                         });

}  // namespace
}  // namespace berth::test
