// containerd-shim-berth-v2 under the stock containerd 1.6, driven by the
// stock ctr: containerd finds the shim on its PATH (runtime
// io.containerd.berth.v2), runs `start`, drives the task API over ttrpc,
// receives the shim's task events, and runs `delete` after a dead shim.
//
// Each test has its own containerd (root, state, socket under a scratch
// folder on the real disk, for overlayfs) and its own containerd namespace,
// which also names its runc root (/run/containerd/runc/<ns>); the fixture's
// teardown removes every container, kills leftover shims by their -id,
// force-deletes runc state, unmounts rootfs mounts and removes sockets, also
// when a test fails half-way.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "berth/digest.h"
#include "berth/ttrpc/client.h"
#include "berthd_process.h"
#include "served_util.h"

namespace berth::test {
namespace {

constexpr char kContainerd[] = "/usr/bin/containerd";
constexpr char kRuntime[] = "io.containerd.berth.v2";
// The name ctr gives --runc-binary to; linked to our shim in the fixture.
constexpr char kRuncNamedRuntime[] = "io.containerd.runc.v2";
constexpr char kImage[] = "docker.io/library/busybox:latest";
constexpr char kShimName[] = "containerd-shim-berth-v2";

std::string ShimPath() { return std::string(BERTH_BUILD_DIR) + "/bin/" + kShimName; }

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

// The argv of process `pid`, or empty when it is gone (zombies included).
std::vector<std::string> Cmdline(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> args;
  std::string arg;
  while (std::getline(in, arg, '\0')) args.push_back(arg);
  return args;
}

bool Alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

// Live shims of namespace `ns` (optionally of one container id).
std::vector<pid_t> Shims(const std::string& ns, const std::string& id = "") {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    std::vector<std::string> args = Cmdline(pid);
    if (args.empty() || args[0].find(kShimName) == std::string::npos || !Alive(pid)) continue;
    bool ns_match = false, id_match = id.empty();
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "-namespace" && args[i + 1] == ns) ns_match = true;
      if (args[i] == "-id" && args[i + 1] == id) id_match = true;
    }
    if (ns_match && id_match) out.push_back(pid);
  }
  return out;
}

std::string ShimMemory(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.rfind("Rss:", 0) == 0 || line.rfind("Pss:", 0) == 0) out += line + "; ";
  }
  return out;
}

// Protobuf wire helpers for the few task API messages called directly (the
// test does not link the shim's wire library).
std::string Varint(uint64_t v) {
  std::string out;
  do {
    unsigned char b = v & 0x7F;
    v >>= 7;
    out.push_back(static_cast<char>(v ? b | 0x80 : b));
  } while (v);
  return out;
}
std::string Field(int number, const std::string& bytes) {
  return Varint(static_cast<uint64_t>(number) << 3 | 2) + Varint(bytes.size()) + bytes;
}
// Field number → value (varints as decimal text, length-delimited as bytes).
std::map<int, std::string> Fields(const std::string& msg) {
  std::map<int, std::string> out;
  size_t i = 0;
  auto varint = [&] {
    uint64_t v = 0;
    for (int shift = 0; i < msg.size(); shift += 7) {
      unsigned char b = static_cast<unsigned char>(msg[i++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) break;
    }
    return v;
  };
  while (i < msg.size()) {
    uint64_t tag = varint();
    if ((tag & 7) == 0) {
      out[static_cast<int>(tag >> 3)] = std::to_string(varint());
    } else if ((tag & 7) == 2) {
      uint64_t n = varint();
      out[static_cast<int>(tag >> 3)] = msg.substr(i, n);
      i += n;
    } else {
      break;
    }
  }
  return out;
}

// The memory limit of `pid`'s cgroup (v1 memory.limit_in_bytes, v2 memory.max).
std::string MemoryLimit(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line, v2;
  while (std::getline(in, line)) {
    size_t a = line.find(':'), b = line.find(':', a + 1);
    std::string controllers = line.substr(a + 1, b - a - 1);
    if (controllers.find("memory") != std::string::npos) {
      std::string limit =
          ReadFile("/sys/fs/cgroup/memory" + line.substr(b + 1) + "/memory.limit_in_bytes");
      return limit.substr(0, limit.find('\n'));
    }
    if (line.rfind("0::", 0) == 0) v2 = line.substr(3);
  }
  std::string limit = ReadFile("/sys/fs/cgroup" + v2 + "/memory.max");
  return limit.substr(0, limit.find('\n'));
}

class ShimUnderContainerd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Exists(kContainerd)) << kContainerd << " is not installed";
    ASSERT_TRUE(Exists(ShimPath())) << ShimPath() << " is not built";
    std::string dir = scratch_.Join("containerd");
    ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
    std::ostringstream c;
    c << "version = 2\n"
      << "root = \"" << dir << "/root\"\n"
      << "state = \"" << dir << "/state\"\n"
      << "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
      << "[grpc]\n  address = \"" << socket_ << "\"\n"
      << "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"" << dir << "/opt\"\n";
    ASSERT_TRUE(WriteFile(dir + "/containerd.toml", c.str()));
    int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(log_fd, 0);
    ASSERT_GE(null_fd, 0);
    // ctr 1.6 takes --runc-binary for io.containerd.runc.v2 only: that name
    // runs our shim too in this containerd, through a link first on PATH.
    const std::string shims = scratch_.Join("shims");
    const std::string ours = std::string(BERTH_BUILD_DIR) + "/bin/containerd-shim-berth-v2";
    ASSERT_EQ(mkdir(shims.c_str(), 0700), 0);
    ASSERT_EQ(symlink(ours.c_str(), (shims + "/containerd-shim-runc-v2").c_str()), 0);
    const char* path = std::getenv("PATH");
    ProcessOptions options;
    options.env = {"PATH=" + shims + ":" + std::string(BERTH_BUILD_DIR) + "/bin:" +
                   (path ? path : "/usr/bin:/bin")};
    containerd_ =
        SpawnProcess({kContainerd, "--config", dir + "/containerd.toml", "--log-level", "debug"},
                     null_fd, log_fd, log_fd, options);
    close(log_fd);
    close(null_fd);
    ASSERT_GT(containerd_, 0);
    ASSERT_TRUE(PollUntil(
        [&] {
          if (WaitForExit(containerd_, std::chrono::milliseconds(0))) {
            containerd_ = -1;
            return true;
          }
          return RunCommand({kCtr, "--address", socket_, "version"}, "", 10s).exit_code == 0;
        },
        60s));
    ASSERT_GT(containerd_, 0) << "containerd exited:\n" << ReadFile(log_path_);

    std::string tar = scratch_.Join("busybox.tar");
    CommandResult built =
        RunCommand({std::string(BERTH_SOURCE_DIR) + "/scripts/busybox-image.sh", tar}, "", 120s);
    ASSERT_EQ(built.exit_code, 0) << built.Describe();
    CommandResult imported = Ctr({"images", "import", tar});
    ASSERT_EQ(imported.exit_code, 0) << imported.Describe();
  }

  void TearDown() override {
    if (containerd_ > 0) {
      for (const std::string& id : ids_) {
        Ctr({"task", "kill", "-s", "SIGKILL", id}, 10s);
        Ctr({"task", "rm", "-f", id}, 20s);
        Ctr({"containers", "rm", id}, 20s);
      }
      kill(containerd_, SIGTERM);
      if (!WaitForExit(containerd_, 30s)) {
        kill(containerd_, SIGKILL);
        WaitForExit(containerd_, 30s);
      }
      containerd_ = -1;
    }
    // Whatever survived: shims (by -namespace/-id), runc state, mounts,
    // sockets.
    for (pid_t pid : Shims(ns_)) {
      ADD_FAILURE() << "shim " << pid << " left running; killing it";
      kill(pid, SIGKILL);
    }
    std::string runc_root = "/run/containerd/runc/" + ns_;
    for (const std::string& id : ids_) {
      if (Exists(runc_root + "/" + id)) {
        RunCommand({"runc", "--root", runc_root, "delete", "--force", id}, "", 30s);
      }
      Status s = UnmountAll(BundleOf(id) + "/rootfs");
      if (!s.ok()) ADD_FAILURE() << "unmount rootfs of " << id << ": " << s.ToString();
      std::string digest = Sha256Of(socket_ + "/" + ns_ + "/" + id);
      unlink(("/run/containerd/s/" + digest.substr(digest.find(':') + 1)).c_str());
    }
    rmdir(runc_root.c_str());
    if (HasFailure()) std::cerr << "containerd log:\n" << ReadFile(log_path_);
  }

  CommandResult Ctr(std::vector<std::string> args, std::chrono::milliseconds bound = 60s,
                    const std::string& stdin_data = "") {
    std::vector<std::string> argv = {kCtr, "--address", socket_, "--namespace", ns_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, stdin_data, bound);
  }
  // `ctr run` of a container this test owns (removed at teardown).
  CommandResult Run(const std::string& id, std::vector<std::string> flags,
                    std::vector<std::string> command, const std::string& stdin_data = "",
                    const std::string& runtime = kRuntime) {
    ids_.push_back(id);
    std::vector<std::string> args = {"run", "--runtime", runtime};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {kImage, id});
    args.insert(args.end(), command.begin(), command.end());
    return Ctr(args, 60s, stdin_data);
  }
  // Column `n` (0 TASK, 1 PID, 2 STATUS) of `ctr task ls` for `id`, "" when
  // not listed.
  std::string TaskColumn(const std::string& id, int n) {
    std::istringstream lines(Ctr({"task", "ls"}, 20s).out);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string columns[3];
      if (fields >> columns[0] >> columns[1] >> columns[2] && columns[0] == id) return columns[n];
    }
    return "";
  }
  std::string TaskStatus(const std::string& id) { return TaskColumn(id, 2); }
  bool TaskReaches(const std::string& id, const std::string& status) {
    return PollUntil([&] { return TaskStatus(id) == status; }, 20s);
  }
  std::string BundleOf(const std::string& id) {
    return scratch_.Join("containerd/state/io.containerd.runtime.v2.task/" + ns_ + "/" + id);
  }
  std::string Log() { return ReadFile(log_path_); }

  ScratchDir scratch_{"berth-shim-it-"};
  std::string ns_ = [] {
    static std::atomic<int> counter{0};
    return "berth-shim-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  }();
  std::string socket_ = scratch_.Join("containerd/containerd.sock");
  std::string log_path_ = scratch_.Join("containerd.log");
  pid_t containerd_ = -1;
  std::vector<std::string> ids_;
};

TEST_F(ShimUnderContainerd, RunRmEchoPrintsHi) {
  CommandResult r = Run("t1", {"--rm"}, {"echo", "hi"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "hi\n") << r.Describe();
  // The shim saw its container deleted and was shut down.
  EXPECT_TRUE(PollUntil([&] { return Shims(ns_, "t1").empty(); }, 10s));
  EXPECT_TRUE(Contains(Log(), "topic=/tasks/exit type=containerd.events.TaskExit"));
  EXPECT_TRUE(Contains(Log(), "topic=/tasks/delete type=containerd.events.TaskDelete"));
  EXPECT_FALSE(Exists(BundleOf("t1") + "/rootfs")) << "bundle left behind";
}

TEST_F(ShimUnderContainerd, StdinAndExitCodeReachTheClient) {
  CommandResult r = Run("t1", {"--rm"}, {"sh"}, "echo from-stdin\nexit 3\n");
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_EQ(r.out, "from-stdin\n") << r.Describe();
}

TEST_F(ShimUnderContainerd, DetachedTaskExecPsPauseResumeKill) {
  CommandResult r = Run("t2", {"-d"}, {"sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(TaskReaches("t2", "RUNNING")) << Ctr({"task", "ls"}).Describe();

  CommandResult exec = Ctr({"task", "exec", "--exec-id", "e1", "t2", "echo", "x"});
  EXPECT_EQ(exec.exit_code, 0) << exec.Describe();
  EXPECT_EQ(exec.out, "x\n");
  CommandResult failing = Ctr({"task", "exec", "--exec-id", "e2", "t2", "sh", "-c", "exit 7"});
  EXPECT_EQ(failing.exit_code, 7) << failing.Describe();

  CommandResult ps = Ctr({"task", "ps", "t2"});
  EXPECT_EQ(ps.exit_code, 0) << ps.Describe();
  std::vector<pid_t> shims = Shims(ns_, "t2");
  ASSERT_EQ(shims.size(), 1u);
  std::string init = TaskColumn("t2", 1);
  ASSERT_FALSE(init.empty());
  EXPECT_TRUE(Contains(ps.out, init));
  std::cout << "shim " << shims[0] << " while the container sleeps: " << ShimMemory(shims[0])
            << "\n";
  RecordProperty("shim_memory", ShimMemory(shims[0]));

  EXPECT_EQ(Ctr({"task", "pause", "t2"}).exit_code, 0);
  EXPECT_TRUE(TaskReaches("t2", "PAUSED"));
  EXPECT_EQ(Ctr({"task", "resume", "t2"}).exit_code, 0);
  EXPECT_TRUE(TaskReaches("t2", "RUNNING"));

  // sleep as pid 1 ignores SIGTERM; SIGKILL ends it.
  EXPECT_EQ(Ctr({"task", "kill", "-s", "SIGKILL", "t2"}).exit_code, 0);
  EXPECT_TRUE(TaskReaches("t2", "STOPPED")) << Ctr({"task", "ls"}).Describe();
  EXPECT_EQ(Ctr({"task", "rm", "t2"}).exit_code, 0);
  EXPECT_EQ(Ctr({"containers", "rm", "t2"}).exit_code, 0);
  EXPECT_TRUE(PollUntil([&] { return Shims(ns_, "t2").empty(); }, 10s));
  for (const char* topic :
       {"/tasks/exec-added", "/tasks/exec-started", "/tasks/paused", "/tasks/resumed"}) {
    EXPECT_TRUE(Contains(Log(), std::string("topic=") + topic));
  }
}

TEST_F(ShimUnderContainerd, PsNamesExecProcesses) {
  ASSERT_EQ(Run("t3", {"-d"}, {"sleep", "1000"}).exit_code, 0);
  ASSERT_TRUE(TaskReaches("t3", "RUNNING"));
  CommandResult exec = Ctr({"task", "exec", "-d", "--exec-id", "sleeper", "t3", "sleep", "1000"});
  ASSERT_EQ(exec.exit_code, 0) << exec.Describe();
  EXPECT_TRUE(PollUntil(
      [&] {
        return Ctr({"task", "ps", "t3"}).out.find("sleeper") != std::string::npos;
      },
      10s))
      << Ctr({"task", "ps", "t3"}).Describe();
}

TEST_F(ShimUnderContainerd, OomKillIsPublished) {
  CommandResult r = Run("t4", {"--rm", "--memory-limit", "16000000"},
                        {"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"});
  EXPECT_EQ(r.exit_code, 137) << r.Describe();
  EXPECT_TRUE(PollUntil([&] { return Log().find("topic=/tasks/oom") != std::string::npos; }, 5s));
}

// containerd runs `<shim> delete` when a shim dies: runc delete --force takes
// the container's processes down and the task goes.
TEST_F(ShimUnderContainerd, DeadShimIsCleanedUpByDelete) {
  ASSERT_EQ(Run("t5", {"-d"}, {"sleep", "1000"}).exit_code, 0);
  ASSERT_TRUE(TaskReaches("t5", "RUNNING"));
  std::istringstream pid_text(ReadFile(BundleOf("t5") + "/init.pid"));
  pid_t init = 0;
  pid_text >> init;
  ASSERT_GT(init, 0);
  std::vector<pid_t> shims = Shims(ns_, "t5");
  ASSERT_EQ(shims.size(), 1u);
  kill(shims[0], SIGKILL);
  EXPECT_TRUE(PollUntil([&] { return !Alive(init); }, 20s)) << "container init survived";
  EXPECT_TRUE(PollUntil([&] { return TaskStatus("t5").empty(); }, 20s));
  EXPECT_TRUE(Contains(Log(), "cleaning up dead shim"));
  EXPECT_TRUE(PollUntil([&] { return Log().find("topic=/tasks/exit") != std::string::npos; }, 5s));
}

// What ctr 1.6 cannot reach (it has no `task update`): the task API on the
// shim's socket, called directly.
TEST_F(ShimUnderContainerd, TaskApiOnTheShimSocket) {
  ASSERT_EQ(Run("t8", {"-d"}, {"sleep", "1000"}).exit_code, 0);
  ASSERT_TRUE(TaskReaches("t8", "RUNNING"));
  std::string address = ReadFile(BundleOf("t8") + "/address");
  ASSERT_EQ(address.rfind("unix:///run/containerd/s/", 0), 0u) << address;
  std::string path = address.substr(7);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto client = ttrpc::Client::Connect(path);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ttrpc::CallOptions options;
  options.metadata.emplace(std::string(ttrpc::kNamespaceKey), ns_);
  options.timeout = std::chrono::seconds(20);
  constexpr char kTask[] = "containerd.task.v2.Task";

  Result<std::string> connect = (*client)->Call(kTask, "Connect", Field(1, "t8"), options);
  ASSERT_TRUE(connect.ok()) << connect.status().ToString();
  std::map<int, std::string> c = Fields(*connect);
  std::vector<pid_t> shims = Shims(ns_, "t8");
  ASSERT_EQ(shims.size(), 1u);
  EXPECT_EQ(c[1], std::to_string(shims[0]));
  EXPECT_EQ(c[2], TaskColumn("t8", 1));
  EXPECT_FALSE(c[3].empty()) << "no version";

  std::string resources =
      Field(1, "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources") +
      Field(2, R"({"memory":{"limit":52428800}})");
  Result<std::string> update =
      (*client)->Call(kTask, "Update", Field(1, "t8") + Field(2, resources), options);
  ASSERT_TRUE(update.ok()) << update.status().ToString();
  EXPECT_EQ(MemoryLimit(static_cast<pid_t>(std::stoi(c[2]))), "52428800");

  Result<std::string> stats = (*client)->Call(kTask, "Stats", Field(1, "t8"), options);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_TRUE(Contains(*stats, "io.containerd.cgroups.v")) << "no metrics type in the answer";
  Result<std::string> checkpoint = (*client)->Call(kTask, "Checkpoint", Field(1, "t8"), options);
  EXPECT_TRUE(checkpoint.status().Is(Code::kNotImplemented)) << checkpoint.status().ToString();
  Result<std::string> missing = (*client)->Call(kTask, "State", Field(1, "nope"), options);
  EXPECT_TRUE(missing.status().Is(Code::kNotFound)) << missing.status().ToString();
  // Shutdown while the container lives is a no-op.
  Result<std::string> shutdown = (*client)->Call(kTask, "Shutdown", Field(1, "t8"), options);
  EXPECT_TRUE(shutdown.ok()) << shutdown.status().ToString();
  EXPECT_EQ(TaskStatus("t8"), "RUNNING");
}

TEST_F(ShimUnderContainerd, RuncBinaryOptionSelectsCrun) {
  if (!Exists("/usr/bin/crun")) GTEST_SKIP() << "crun is not installed";
  CommandResult r =
      Run("t6", {"--rm", "--runc-binary", "crun"}, {"echo", "hi"}, "", kRuncNamedRuntime);
  if (Contains(r.err, "cgroups in hybrid mode not supported")) {
    // crun refuses a cgroup v1 tree with a populated unified hierarchy
    // beside it; the shim did run it (checked), the machine cannot.
    EXPECT_TRUE(Contains(Log(), "crun --root"));
    GTEST_SKIP() << "crun cannot create containers on this machine's hybrid cgroups: " << r.err;
  }
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "hi\n");
  EXPECT_TRUE(Contains(Log(), "crun --root"));
}

TEST_F(ShimUnderContainerd, UnknownRuncBinaryFailsTheCreate) {
  CommandResult r = Run("t7", {"--rm", "--runc-binary", "no-such-runtime-binary"}, {"true"}, "",
                        kRuncNamedRuntime);
  EXPECT_TRUE(Contains(r.err + r.out, "no-such-runtime-binary")) << r.Describe();
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(PollUntil([&] { return Shims(ns_, "t7").empty(); }, 20s));
}

}  // namespace
}  // namespace berth::test
