// More of the tasks service and the v2 runtime, through the stock ctr, each
// case on both shims (TasksShimTest: Debian's containerd-shim-runc-v2 and
// berth's containerd-shim-berth-v2): `ctr run --rm --rootfs` of a busybox
// folder, with runc and with crun as the shim's runtime binary; terminals
// for `run -t` and `exec -t` driven under a pty (the tty, a resize); stdin
// reaching the task and its end closing the task's stdin; exit codes, kill
// of an exited task and a second task of the same id.
//
// TasksBadInputTest: bad input answered with containerd's error (as the
// stock containerd 1.6.20 prints it for the same ctr command) and nothing
// left behind — no bundle, work folder, mount, shim or descriptor of
// berthd's: an unknown runtime, a missing or failing shim binary, a spec
// that is not JSON, ids with '/' and "..", and a shim whose `start` hangs
// (cut off by the runtime's shim_start_timeout, its process group killed).
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "containerd/services/containers/v1/containers.grpc.pb.h"
#include "containerd/services/tasks/v1/tasks.grpc.pb.h"
#include "tasks_fixture.h"

namespace berth::test {
namespace {

namespace fs = std::filesystem;

std::string BerthShimPath() {
  return (fs::path(BerthdPath()).parent_path() / "containerd-shim-berth-v2").string();
}

// The absolute path of `name` on PATH, or "".
std::string OnPath(const std::string& name) {
  const char* path = getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && access((dir + "/" + name).c_str(), X_OK) == 0) return dir + "/" + name;
  }
  return "";
}

bool WriteExecutable(const std::string& path, const std::string& script) {
  return WriteFile(path, script) && chmod(path.c_str(), 0755) == 0;
}

// A process under a pseudo terminal of its own (forkpty: a new session with
// the pty as its controlling terminal, so that TIOCSWINSZ on the master
// sends it SIGWINCH). The destructor kills and reaps it.
class PtyProcess {
 public:
  PtyProcess(const std::vector<std::string>& argv, unsigned short rows, unsigned short cols) {
    // Everything the child needs, built before fork.
    std::string program = argv[0].find('/') == std::string::npos ? OnPath(argv[0]) : argv[0];
    std::vector<std::string> args = argv;
    std::vector<char*> cargv;
    for (std::string& a : args) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    winsize ws{};
    ws.ws_row = rows;
    ws.ws_col = cols;
    pid_ = forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      execv(program.c_str(), cargv.data());
      _exit(127);
    }
    if (master_ >= 0) fcntl(master_, F_SETFL, O_NONBLOCK);
  }
  ~PtyProcess() {
    if (pid_ > 0 && !exit_code_) {
      kill(pid_, SIGKILL);
      WaitForExit(pid_, std::chrono::seconds(10));
    }
    if (master_ >= 0) close(master_);
  }
  PtyProcess(const PtyProcess&) = delete;
  PtyProcess& operator=(const PtyProcess&) = delete;

  bool started() const { return pid_ > 0 && master_ >= 0; }
  const std::string& output() const { return output_; }

  void Write(const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
      ssize_t w = write(master_, text.data() + done, text.size() - done);
      if (w > 0) {
        done += static_cast<std::size_t>(w);
      } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        return;
      } else {
        Drain(10);
      }
    }
  }
  void Resize(unsigned short rows, unsigned short cols) {
    winsize ws{};
    ws.ws_row = rows;
    ws.ws_col = cols;
    ioctl(master_, TIOCSWINSZ, &ws);
  }

  // Reads until the output from `from` on matches `pattern` (bounded).
  std::optional<std::string> ReadUntil(const std::regex& pattern, std::size_t from,
                                       std::chrono::milliseconds bound) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (true) {
      std::smatch m;
      std::string tail = output_.substr(std::min(from, output_.size()));
      if (std::regex_search(tail, m, pattern)) return m.str(0);
      if (std::chrono::steady_clock::now() >= deadline || !Drain(100)) return std::nullopt;
    }
  }

  // Drains the output until the process exits (bounded); its exit code.
  std::optional<int> Wait(std::chrono::milliseconds bound) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (!exit_code_ && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = ExitCodeOf(status);
        break;
      }
      Drain(50);
    }
    return exit_code_;
  }

 private:
  // Waits up to `ms` for output and appends it; false once the pty is shut
  // (the session ended).
  bool Drain(int ms) {
    pollfd p{master_, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0) return true;
    char buf[4096];
    ssize_t r = read(master_, buf, sizeof buf);
    if (r > 0) {
      output_.append(buf, static_cast<std::size_t>(r));
      return true;
    }
    return r < 0 && (errno == EAGAIN || errno == EINTR);
  }

  pid_t pid_ = -1;
  int master_ = -1;
  std::string output_;
  std::optional<int> exit_code_;
};

// ---------------------------------------------------------------------------
// Both shims. With our shim berthd runs with a PATH whose first folder maps
// containerd-shim-runc-v2 to containerd-shim-berth-v2: ctr accepts
// --runc-binary only for runtime io.containerd.runc.v2, so that is how our
// shim gets crun. Other cases name our shim as io.containerd.berth.v2.

enum class Shim { kStock, kBerth };

std::string ShimName(const ::testing::TestParamInfo<Shim>& info) {
  return info.param == Shim::kStock ? "StockShim" : "BerthShim";
}

class TasksShimTest : public TasksFixture, public ::testing::WithParamInterface<Shim> {
 protected:
  TasksShimTest() : TasksFixture(OptionsFor(GetParam())) {}

  static void SetUpTestSuite() {
    TasksFixture::SetUpTestSuite();
    shim_dir_ = new TempDir("berth-tasks-shims-");
    if (symlink(BerthShimPath().c_str(), shim_dir_->Join("containerd-shim-runc-v2").c_str()) != 0) {
      image_error_ += "cannot link " + BerthShimPath();
    }
  }
  static void TearDownTestSuite() {
    delete shim_dir_;
    shim_dir_ = nullptr;
    TasksFixture::TearDownTestSuite();
  }

  static BerthdOptions OptionsFor(Shim shim) {
    BerthdOptions o{"", kNoCollectionToml, {}, {}};
    if (shim == Shim::kBerth && shim_dir_ != nullptr) {
      const char* path = getenv("PATH");
      o.env.push_back("PATH=" + shim_dir_->path() + ":" + (path != nullptr ? path : "/usr/bin:/bin"));
    }
    return o;
  }

  void SetUp() override {
    if (GetParam() == Shim::kBerth && !Exists(BerthShimPath())) {
      GTEST_SKIP() << BerthShimPath() << " is not built";
    }
    TasksFixture::SetUp();
  }

  // The shim binary the case expects to run.
  std::string ShimBinary() const {
    return GetParam() == Shim::kStock ? std::string(kStockShim) : BerthShimPath();
  }
  // `--runtime` naming the case's shim.
  std::vector<std::string> RuntimeFlags() const {
    if (GetParam() == Shim::kStock) return {"--runtime", kStockRuntime};
    return {"--runtime", kBerthRuntime};
  }
  // `ctr run FLAGS... --runtime R --fifo-dir F --rootfs ROOTFS ID ARGS...`.
  std::vector<std::string> RunRootfs(const std::vector<std::string>& flags, const std::string& id,
                                     const std::vector<std::string>& args,
                                     bool name_runtime = true) {
    std::vector<std::string> run = {"-n", ns_, "run"};
    run.insert(run.end(), flags.begin(), flags.end());
    if (name_runtime) {
      auto r = RuntimeFlags();
      run.insert(run.end(), r.begin(), r.end());
    }
    run.insert(run.end(), {"--fifo-dir", FifoDir(), "--rootfs", Rootfs(), id});
    run.insert(run.end(), args.begin(), args.end());
    return run;
  }

  static inline TempDir* shim_dir_ = nullptr;
};

TEST_P(TasksShimTest, RunRmRootfsEchoes) {
  Track("echo");
  CommandResult r = berthd_.Ctr(RunRootfs({"--rm"}, "echo", {"/bin/echo", "hi"}));
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << "\n" << berthd_.Log();
  EXPECT_EQ(r.out, "hi\n");
  EXPECT_EQ(TaskStatus("echo"), "");
  EXPECT_EQ(Ctr(In({"containers", "ls", "-q"})), "");
  EXPECT_TRUE(NothingLeftOf("echo"));
}

// A --rootfs container has no image config, so its spec sets no PATH: as
// under containerd, the runtime cannot find a bare `echo`, and says so.
TEST_P(TasksShimTest, RunRootfsWithoutPathFailsAsContainerds) {
  Track("nopath");
  CommandResult r = berthd_.Ctr(RunRootfs({"--rm"}, "nopath", {"echo", "hi"}));
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "failed to create shim task: OCI runtime create failed"));
  EXPECT_TRUE(Contains(r.err, "exec: \"echo\": executable file not found in $PATH"));
  berthd_.Ctr(In({"containers", "rm", "nopath"}));
  EXPECT_TRUE(NothingLeftOf("nopath"));
}

// `--runc-binary` names a crun wrapper that logs which shim ran it and how.
// On a hybrid cgroup host (cgroup2 mounted at /sys/fs/cgroup/unified with
// controllers) crun refuses to run at all, under containerd as here; the
// wrapper hides that mount in a mount namespace of its own.
TEST_P(TasksShimTest, RunRmRootfsWithCrun) {
  if (!Exists("/usr/bin/crun")) GTEST_SKIP() << "/usr/bin/crun is not installed";
  std::string wrapper = berthd_.dir().Join("crun");
  std::string log = berthd_.dir().Join("crun.log");
  ASSERT_TRUE(WriteExecutable(
      wrapper, "#!/bin/sh\n"
               "echo \"$(readlink /proc/$PPID/exe) $*\" >>" + log + "\n"
               "exec unshare -m sh -c 'umount -l /sys/fs/cgroup/unified 2>/dev/null; "
               "exec /usr/bin/crun \"$@\"' crun \"$@\"\n"));
  Track("crun");
  CommandResult r = berthd_.Ctr(
      RunRootfs({"--rm", "--runtime", kStockRuntime, "--runc-binary", wrapper}, "crun",
                {"/bin/echo", "hi"}, /*name_runtime=*/false));
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << "\n" << berthd_.Log() << "\n" << ReadFile(log);
  EXPECT_EQ(r.out, "hi\n");
  std::string calls = ReadFile(log);
  EXPECT_TRUE(Contains(calls, ShimBinary() + " "));
  EXPECT_TRUE(Contains(calls, " create --bundle " + Bundle("crun")));
  EXPECT_TRUE(Contains(calls, " start crun"));
  EXPECT_TRUE(Contains(calls, " delete"));
  EXPECT_TRUE(NothingLeftOf("crun"));
}

// stdin reaches the task; at its end ctr closes the task's stdin (CloseIO)
// and cat exits. stdin stays open until the task runs: ctr 1.6.20 installs
// its CloseIO hook only once the task is created, so an end of input read
// before that is never passed on (`echo data | ctr run ... cat` hangs under
// containerd too).
TEST_P(TasksShimTest, StdinReachesTheTaskAndItsEndClosesIt) {
  Track("cat");
  int in[2];
  ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
  std::string out_path = berthd_.dir().Join("cat.out");
  int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(out, 0);
  std::vector<std::string> argv = {kCtr, "--address", berthd_.socket()};
  auto run = RunRootfs({"--rm"}, "cat", {"/bin/cat"});
  argv.insert(argv.end(), run.begin(), run.end());
  pid_t ctr = SpawnProcess(argv, in[0], out, out);
  close(in[0]);
  close(out);
  ASSERT_GT(ctr, 0);
  struct Reap {
    pid_t pid;
    int fd;
    ~Reap() {
      if (fd >= 0) close(fd);
      if (pid > 0 && !WaitForExit(pid, std::chrono::milliseconds(0))) {
        kill(pid, SIGKILL);
        WaitForExit(pid, std::chrono::seconds(10));
      }
    }
  } reap{ctr, in[1]};

  ASSERT_TRUE(WaitStatus("cat", "RUNNING"));
  ASSERT_EQ(write(in[1], "data\n", 5), 5);
  EXPECT_TRUE(Eventually([&] { return ReadFile(out_path) == "data\n"; }, 30s))
      << ReadFile(out_path) << "\n" << berthd_.Log();
  close(in[1]);
  reap.fd = -1;
  std::optional<int> exit = WaitForExit(ctr, 30s);
  ASSERT_TRUE(exit) << "cat never saw the end of its stdin\n" << berthd_.Log();
  reap.pid = -1;
  EXPECT_EQ(*exit, 0) << ReadFile(out_path);
  EXPECT_TRUE(NothingLeftOf("cat"));
}

// `ctr run -t`: the shell inside has a terminal, sized as ctr's, and a
// resize of ctr's terminal reaches it.
TEST_P(TasksShimTest, RunWithTerminal) {
  Track("tty");
  std::vector<std::string> argv = {kCtr, "--address", berthd_.socket(), "-n", ns_, "run", "-t",
                                   "--rm", "--fifo-dir", FifoDir()};
  auto runtime = RuntimeFlags();
  argv.insert(argv.end(), runtime.begin(), runtime.end());
  argv.insert(argv.end(), {kImage, "tty", "sh"});
  PtyProcess ctr(argv, 24, 80);
  ASSERT_TRUE(ctr.started());
  std::size_t mark = ctr.output().size();
  ctr.Write("tty; stty size\n");
  auto tty = ctr.ReadUntil(std::regex("/dev/pts/[0-9]+"), mark, 30s);
  ASSERT_TRUE(tty) << "no tty in: " << ctr.output() << "\n" << berthd_.Log();
  EXPECT_TRUE(ctr.ReadUntil(std::regex("[\r\n]24 80[\r\n]"), mark, 10s)) << ctr.output();

  ctr.Resize(33, 97);
  // ctr forwards the resize when SIGWINCH reaches it: ask until it shows.
  bool resized = Eventually(
      [&] {
        std::size_t from = ctr.output().size();
        ctr.Write("stty size\n");
        return ctr.ReadUntil(std::regex("[\r\n]33 97[\r\n]"), from, 1s).has_value();
      },
      20s);
  EXPECT_TRUE(resized) << ctr.output() << "\n" << berthd_.Log();

  ctr.Write("exit 3\n");
  EXPECT_EQ(ctr.Wait(30s), 3) << ctr.output();
  EXPECT_TRUE(NothingLeftOf("tty"));
}

// `ctr task exec -t` into a detached task: a terminal of its own.
TEST_P(TasksShimTest, ExecWithTerminal) {
  RunDetached("exec-tty", {"sleep", "1000"}, RuntimeFlags());
  PtyProcess ctr({kCtr, "--address", berthd_.socket(), "-n", ns_, "task", "exec", "-t",
                  "--fifo-dir", FifoDir(), "--exec-id", "sh1", "exec-tty", "sh"},
                 30, 100);
  ASSERT_TRUE(ctr.started());
  std::size_t mark = ctr.output().size();
  ctr.Write("tty; stty size\n");
  EXPECT_TRUE(ctr.ReadUntil(std::regex("/dev/pts/[0-9]+"), mark, 30s))
      << ctr.output() << "\n" << berthd_.Log();
  EXPECT_TRUE(ctr.ReadUntil(std::regex("[\r\n]30 100[\r\n]"), mark, 10s)) << ctr.output();
  ctr.Resize(41, 120);
  bool resized = Eventually(
      [&] {
        std::size_t from = ctr.output().size();
        ctr.Write("stty size\n");
        return ctr.ReadUntil(std::regex("[\r\n]41 120[\r\n]"), from, 1s).has_value();
      },
      20s);
  EXPECT_TRUE(resized) << ctr.output() << "\n" << berthd_.Log();
  ctr.Write("exit 5\n");
  EXPECT_EQ(ctr.Wait(30s), 5) << ctr.output();
  // The task goes on.
  EXPECT_EQ(TaskStatus("exec-tty"), "RUNNING");
}

TEST_P(TasksShimTest, ExitCodesKillOfAnExitedTaskAndASecondTask) {
  // The init process's exit status: ctr run's, and ctr task rm's warning.
  Track("exit7");
  CommandResult run = berthd_.Ctr(RunRootfs({"--rm"}, "exit7", {"/bin/sh", "-c", "exit 7"}));
  EXPECT_EQ(run.exit_code, 7) << run.Describe() << "\n" << berthd_.Log();

  Track("exited");
  Ctr(RunRootfs({"-d"}, "exited", {"/bin/sh", "-c", "exit 9"}));
  ASSERT_TRUE(WaitStatus("exited", "STOPPED"));
  CommandResult kill = berthd_.Ctr(In({"task", "kill", "exited"}));
  EXPECT_NE(kill.exit_code, 0);
  EXPECT_TRUE(Contains(kill.err, "ctr: process already finished: not found"));
  CommandResult rm = berthd_.Ctr(In({"task", "rm", "exited"}));
  EXPECT_EQ(rm.exit_code, 0) << rm.Describe();
  EXPECT_TRUE(Contains(rm.err, "task exited exit with non-zero exit code 9"));
  Ctr(In({"containers", "rm", "exited"}));
  EXPECT_TRUE(NothingLeftOf("exited"));

  // A second task for a container that has one, then two at once.
  Track("twice");
  Ctr(RunRootfs({"-d"}, "twice", {"/bin/sleep", "1000"}));
  CommandResult again = berthd_.Ctr(In({"task", "start", "-d", "twice"}));
  EXPECT_NE(again.exit_code, 0);
  EXPECT_TRUE(Contains(again.err, "ctr: task twice: already exists"));
  EXPECT_EQ(TaskStatus("twice"), "RUNNING");

  Track("race");
  std::vector<std::string> create = {"-n", ns_, "containers", "create"};
  auto runtime = RuntimeFlags();
  create.insert(create.end(), runtime.begin(), runtime.end());
  create.insert(create.end(), {"--rootfs", Rootfs(), "race", "/bin/sleep", "1000"});
  Ctr(create);
  CommandResult first, second;
  std::thread other([&] {
    second = berthd_.Ctr(In({"task", "start", "-d", "--fifo-dir", FifoDir(), "race"}));
  });
  first = berthd_.Ctr(In({"task", "start", "-d", "--fifo-dir", FifoDir(), "race"}));
  other.join();
  EXPECT_EQ((first.exit_code == 0) + (second.exit_code == 0), 1)
      << first.Describe() << "\n" << second.Describe();
  const CommandResult& loser = first.exit_code == 0 ? second : first;
  EXPECT_TRUE(Contains(loser.err, "already exists"));
  EXPECT_EQ(TaskStatus("race"), "RUNNING");
  EXPECT_EQ(ShimsOf(ns_, "race").size(), 1u);

  // Exec exit codes.
  CommandResult exec =
      berthd_.Ctr(In({"task", "exec", "--exec-id", "x7", "race", "/bin/sh", "-c", "exit 7"}));
  EXPECT_EQ(exec.exit_code, 7) << exec.Describe();
}

INSTANTIATE_TEST_SUITE_P(Shims, TasksShimTest, ::testing::Values(Shim::kStock, Shim::kBerth),
                         ShimName);

// ---------------------------------------------------------------------------
// Bad input. berthd runs with fake shims first on its PATH and a short
// shim_start_timeout.

namespace cpb = containerd::services::containers::v1;
namespace tpb = containerd::services::tasks::v1;

constexpr char kStartTimeoutToml[] =
    "[plugins.\"io.containerd.runtime.v2.task\"]\n  shim_start_timeout = \"3s\"\n";

class TasksBadInputTest : public TasksFixture {
 protected:
  TasksBadInputTest() : TasksFixture(Options()) {}

  static void SetUpTestSuite() {
    TasksFixture::SetUpTestSuite();
    fake_dir_ = new TempDir("berth-tasks-fake-shims-");
    // `start` sleeps in a child of the script (so that killing the script
    // alone would leave the sleep holding the runtime's pipe).
    bool made =
        WriteExecutable(fake_dir_->Join("containerd-shim-hang-v1"),
                        "#!/bin/sh\n"
                        "for a in \"$@\"; do last=\"$a\"; done\n"
                        "if [ \"$last\" = start ]; then sleep " + HangMarker() + "; fi\n"
                        "exit 1\n") &&
        WriteExecutable(fake_dir_->Join("containerd-shim-fail-v1"),
                        "#!/bin/sh\necho boom >&2\nexit 1\n");
    if (!made) image_error_ += "cannot write the fake shims";
  }
  static void TearDownTestSuite() {
    delete fake_dir_;
    fake_dir_ = nullptr;
    TasksFixture::TearDownTestSuite();
  }
  static std::string HangMarker() { return std::to_string(100000000 + getpid()); }

  static BerthdOptions Options() {
    BerthdOptions o{"", std::string(kNoCollectionToml) + kStartTimeoutToml, {}, {}};
    if (fake_dir_ != nullptr) {
      const char* path = getenv("PATH");
      o.env.push_back("PATH=" + fake_dir_->path() + ":" + (path != nullptr ? path : "/usr/bin:/bin"));
    }
    return o;
  }

  // `ctr run --rm --fifo-dir F FLAGS... --rootfs R ID /bin/echo hi`, which
  // must fail; its stderr. The container ctr made is removed.
  std::string RunFails(const std::string& id, const std::vector<std::string>& flags) {
    Track(id);
    std::vector<std::string> run = {"-n", ns_, "run", "--rm", "--fifo-dir", FifoDir()};
    run.insert(run.end(), flags.begin(), flags.end());
    run.insert(run.end(), {"--rootfs", Rootfs(), id, "/bin/echo", "hi"});
    CommandResult r = berthd_.Ctr(run);
    EXPECT_NE(r.exit_code, 0) << r.Describe();
    EXPECT_FALSE(r.timed_out) << r.Describe();
    berthd_.Ctr(In({"containers", "rm", id}));
    return r.err;
  }

  // berthd's descriptors are back to `before` (bounded: a closing
  // connection takes a moment), and no mount is left under the bundles.
  ::testing::AssertionResult FdsBackTo(int before) {
    auto mounts = MountsUnder(berthd_.state() + "/io.containerd.runtime.v2.task");
    if (!mounts.empty()) return ::testing::AssertionFailure() << "mount left: " << mounts[0];
    if (Eventually([&] { return CountFds(berthd_.pid()) <= before; }, 10s)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "berthd holds " << CountFds(berthd_.pid()) << " descriptors, " << before
           << " before";
  }
  // The descriptors berthd holds once it has served a task (its lazily made
  // connections and threads in place).
  int WarmFds() {
    Track("warm");
    CommandResult r = berthd_.Ctr(In({"run", "--rm", "--fifo-dir", FifoDir(), "--rootfs",
                                      Rootfs(), "warm", "/bin/true"}));
    EXPECT_EQ(r.exit_code, 0) << r.Describe() << "\n" << berthd_.Log();
    EXPECT_TRUE(NothingLeftOf("warm"));
    std::this_thread::sleep_for(500ms);  // not a wait for a condition: lets fds settle
    return CountFds(berthd_.pid());
  }

  static inline TempDir* fake_dir_ = nullptr;
};

TEST_F(TasksBadInputTest, UnknownRuntimeAndMissingOrFailingShims) {
  int fds = WarmFds();

  std::string err = RunFails("nope", {"--runtime", "io.containerd.nope.v1"});
  EXPECT_TRUE(Contains(err,
                       "ctr: failed to start shim: failed to resolve runtime path: runtime "
                       "\"io.containerd.nope.v1\" binary not installed \"containerd-shim-nope-v1\""));
  EXPECT_TRUE(NothingLeftOf("nope"));

  err = RunFails("missing", {"--runtime", "/nonexistent/containerd-shim-x-v2"});
  EXPECT_TRUE(Contains(err,
                       "ctr: failed to start shim: failed to resolve runtime path: invalid custom "
                       "binary path: stat /nonexistent/containerd-shim-x-v2: no such file or "
                       "directory"));
  EXPECT_TRUE(NothingLeftOf("missing"));

  err = RunFails("fail", {"--runtime", "io.containerd.fail.v1"});
  EXPECT_TRUE(Contains(err, "ctr: failed to start shim: start failed: boom"));
  EXPECT_TRUE(Contains(err, "exit status 1"));
  EXPECT_TRUE(NothingLeftOf("fail"));

  EXPECT_EQ(Ctr(In({"containers", "ls", "-q"})), "");
  EXPECT_TRUE(FdsBackTo(fds));
}

TEST_F(TasksBadInputTest, HangingShimStartIsCutOffAndCleanedUp) {
  int fds = WarmFds();
  auto began = std::chrono::steady_clock::now();
  std::string err = RunFails("hang", {"--runtime", "io.containerd.hang.v1"});
  auto took = std::chrono::steady_clock::now() - began;
  EXPECT_TRUE(Contains(err, "ctr: failed to start shim: start failed: "));
  EXPECT_TRUE(Contains(err, "containerd-shim-hang-v1 did not finish within 3000ms"));
  EXPECT_TRUE(Contains(err, "deadline exceeded"));
  EXPECT_GE(took, 3s);
  EXPECT_LT(took, 30s);
  // The script and its sleep are gone with its process group.
  EXPECT_TRUE(Eventually([] { return !ProcessWithArgs({"sleep", HangMarker()}); }, 10s))
      << "the hanging shim's sleep is still running";
  EXPECT_TRUE(NothingLeftOf("hang"));
  EXPECT_TRUE(FdsBackTo(fds));
}

// A spec that is not JSON (only a gRPC client can store one and start its
// task: ctr parses the spec itself): the shim fails, and nothing is left.
TEST_F(TasksBadInputTest, SpecThatIsNotJson) {
  int fds = WarmFds();
  Track("garbage");
  grpc::Status created, started;
  {
    auto channel = ChannelTo(berthd_);
    auto containers = cpb::Containers::NewStub(channel);
    cpb::CreateContainerRequest req;
    req.mutable_container()->set_id("garbage");
    req.mutable_container()->mutable_runtime()->set_name(kStockRuntime);
    req.mutable_container()->mutable_spec()->set_type_url(
        "types.containerd.io/opencontainers/runtime-spec/1/Spec");
    req.mutable_container()->mutable_spec()->set_value("this is not json");
    cpb::CreateContainerResponse resp;
    created = containers->Create(NamespaceContext(ns_).get(), req, &resp);
    ASSERT_TRUE(created.ok()) << created.error_message();

    auto tasks = tpb::Tasks::NewStub(channel);
    tpb::CreateTaskRequest create;
    create.set_container_id("garbage");
    tpb::CreateTaskResponse created_task;
    started = tasks->Create(NamespaceContext(ns_).get(), create, &created_task);
  }
  // The stock shim reads the spec in `start` already (as containerd 1.6.20
  // reports it: "failed to start shim: start failed: io.containerd.runc.v2:
  // invalid character 'h' in literal true (expecting 'r'): exit status 1").
  EXPECT_FALSE(started.ok());
  EXPECT_TRUE(Contains(started.error_message(),
                       "failed to start shim: start failed: io.containerd.runc.v2: invalid "
                       "character 'h' in literal true (expecting 'r'): exit status 1"))
      << berthd_.Log();
  EXPECT_EQ(TaskStatus("garbage"), "");
  EXPECT_TRUE(NothingLeftOf("garbage"));
  Ctr(In({"containers", "rm", "garbage"}));
  EXPECT_TRUE(FdsBackTo(fds));
}

TEST_F(TasksBadInputTest, IdsWithSlashOrDotDot) {
  int fds = WarmFds();
  for (const std::string id : {"a/b", "..", "../escape"}) {
    CommandResult r = berthd_.Ctr(
        In({"run", "--rm", "--fifo-dir", FifoDir(), "--rootfs", Rootfs(), id, "/bin/true"}));
    EXPECT_NE(r.exit_code, 0) << r.Describe();
    EXPECT_TRUE(Contains(r.err, "ctr: create container failed validation: container.ID: "
                                "identifier \"" + id +
                                    "\" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: "
                                    "invalid argument"));
  }
  // Straight to the tasks service: no container, nothing made.
  for (const std::string id : {"../escape", "a/b"}) {
    auto tasks = tpb::Tasks::NewStub(ChannelTo(berthd_));
    tpb::CreateTaskRequest req;
    req.set_container_id(id);
    tpb::CreateTaskResponse resp;
    grpc::Status s = tasks->Create(NamespaceContext(ns_).get(), req, &resp);
    EXPECT_FALSE(s.ok()) << id;
    EXPECT_TRUE(s.error_code() == grpc::StatusCode::NOT_FOUND ||
                s.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
        << id << ": " << s.error_message();
  }
  const std::string bundles = berthd_.state() + "/io.containerd.runtime.v2.task";
  EXPECT_FALSE(Exists(bundles + "/escape"));
  EXPECT_FALSE(Exists(bundles + "/" + ns_ + "/a"));
  EXPECT_EQ(Ctr(In({"containers", "ls", "-q"})), "");
  EXPECT_TRUE(FdsBackTo(fds));
}

}  // namespace
}  // namespace berth::test
