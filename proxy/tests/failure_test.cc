// Peers that are not there, die, hang or come back: berthd stays up, calls
// fail with unavailable (or deadline exceeded for a hung peer) instead of
// waiting, and work again once the peer is back, without restarting berthd.
// A peer killed in the middle of an ingest keeps no partial blob.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "berth/digest.h"
#include "berthd_process.h"
#include "fixtures.h"
#include "proxy_test_util.h"
#include "run_command.h"
#include "snapshotter_process.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

using std::chrono::steady_clock;

// Writing to a pipe whose reader died must fail with EPIPE, not kill the test.
class IgnoreSigpipe {
 public:
  IgnoreSigpipe() { old_ = signal(SIGPIPE, SIG_IGN); }
  ~IgnoreSigpipe() { signal(SIGPIPE, old_); }

 private:
  sighandler_t old_;
};

// A child process with a pipe to its stdin or from its stdout; killed and
// reaped when the object dies.
class Child {
 public:
  Child(const std::vector<std::string>& argv, bool feed_stdin, const std::string& err_path) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (feed_stdin) {
      pid_ = SpawnProcess(argv, fds[0], null_fd, err);
      close(fds[0]);
      fd_ = fds[1];
    } else {
      pid_ = SpawnProcess(argv, null_fd, fds[1], err);
      close(fds[1]);
      fd_ = fds[0];
    }
    close(err);
    close(null_fd);
  }
  ~Child() {
    CloseFd();
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      (void)WaitForExit(pid_, std::chrono::seconds(30));
    }
  }
  bool ok() const { return pid_ > 0 && fd_ >= 0; }
  // Writes all of `data`; false when the reader is gone.
  bool Write(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      ssize_t n = write(fd_, data.data() + done, data.size() - done);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Reads up to `max` bytes, waiting at most `bound` in all; stops at EOF.
  std::string Read(std::size_t max, std::chrono::milliseconds bound) {
    std::string out;
    const auto deadline = steady_clock::now() + bound;
    char buf[65536];
    while (out.size() < max && steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      ssize_t n = read(fd_, buf, std::min(sizeof(buf), max - out.size()));
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  void CloseFd() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  std::optional<int> Wait(std::chrono::milliseconds bound) {
    std::optional<int> code = WaitForExit(pid_, bound);
    if (code) pid_ = -1;
    return code;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
};

// berthd with a snapshot proxy to a berth-snapshotter that the test starts,
// kills, stops and restarts.
class SnapshotPeerFailureTest : public ::testing::Test {
 protected:
  void StartBerthd(const std::string& timeout) {
    BerthdOptions options;
    options.extra_toml = kNoScheduledGc + ProxyPluginToml("peer", "snapshot", peer_.socket(),
                                                          "  timeout = \"" + timeout + "\"\n");
    berthd_ = std::make_unique<BerthdProcess>(options);
    ASSERT_TRUE(berthd_->Start());
    ASSERT_TRUE(berthd_->WaitServing());
  }
  CommandResult Snap(std::vector<std::string> args) {
    std::vector<std::string> argv = {"snapshots", "--snapshotter", "peer"};
    argv.insert(argv.end(), args.begin(), args.end());
    return berthd_->Ctr(argv);
  }
  // berthd is the same process and still answers.
  ::testing::AssertionResult StillServing() {
    if (!berthd_->running() || berthd_->WaitExit(std::chrono::milliseconds(0))) {
      return ::testing::AssertionFailure() << "berthd exited; log:\n" << berthd_->Log();
    }
    CommandResult v = berthd_->Ctr({"version"});
    if (v.exit_code != 0) return ::testing::AssertionFailure() << v.Describe();
    return ::testing::AssertionSuccess();
  }

  SnapshotterProcess peer_;
  std::unique_ptr<BerthdProcess> berthd_;
};

TEST_F(SnapshotPeerFailureTest, PeerStartingLateIsUsedOnceItListens) {
  ASSERT_NO_FATAL_FAILURE(StartBerthd("60s"));
  EXPECT_EQ(
      ParsePluginTable(berthd_->Ctr({"plugins", "ls"}).out)["io.containerd.snapshotter.v1.peer"],
      "ok");
  CommandResult detailed = berthd_->Berthctl({"plugins", "ls", "--detailed", "id==peer"});
  EXPECT_TRUE(Contains(detailed.out, "unavailable at start"));
  EXPECT_TRUE(Contains(berthd_->Log(), "unavailable at start"));

  auto start = steady_clock::now();
  CommandResult early = Snap({"prepare", "k"});
  EXPECT_NE(early.exit_code, 0);
  EXPECT_TRUE(Contains(early.err, "unavailable"));
  // Far less than the 60 s timeout: the call did not wait for the peer.
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_EQ(Snap({"info", "k"}).exit_code, 1);  // nothing half-made

  ASSERT_TRUE(peer_.Run());
  CommandResult late = Snap({"prepare", "k"});
  EXPECT_EQ(late.exit_code, 0) << late.Describe();
  EXPECT_TRUE(StillServing());
}

TEST_F(SnapshotPeerFailureTest, PeerKilledBetweenCallsAndRestarted) {
  ASSERT_TRUE(peer_.Run());
  ASSERT_NO_FATAL_FAILURE(StartBerthd("30s"));
  ASSERT_EQ(Snap({"prepare", "k1"}).exit_code, 0);
  ASSERT_EQ(Snap({"commit", "c1", "k1"}).exit_code, 0);
  peer_.Kill();
  for (const std::vector<std::string>& call :
       {std::vector<std::string>{"prepare", "k2", "c1"}, {"mounts", "/t", "c1"}, {"usage", "c1"}}) {
    CommandResult down = Snap(call);
    EXPECT_NE(down.exit_code, 0) << call[0];
    EXPECT_TRUE(Contains(down.err, "unavailable")) << call[0];
  }
  EXPECT_TRUE(StillServing());
  ASSERT_TRUE(peer_.Run());  // same root: the peer comes back with its data
  CommandResult again = Snap({"prepare", "k2", "c1"});
  EXPECT_EQ(again.exit_code, 0) << again.Describe();
  CommandResult ls = Snap({"ls"});
  EXPECT_TRUE(Contains(ls.out, "c1"));
  EXPECT_TRUE(Contains(ls.out, "k2"));
}

TEST_F(SnapshotPeerFailureTest, HungPeerCostsACallOnlyItsTimeout) {
  ASSERT_TRUE(peer_.Run());
  ASSERT_NO_FATAL_FAILURE(StartBerthd("1s"));
  ASSERT_EQ(Snap({"prepare", "k1"}).exit_code, 0);
  peer_.Signal(SIGSTOP);
  CommandResult hung = Snap({"prepare", "k2"});
  EXPECT_NE(hung.exit_code, 0);
  EXPECT_TRUE(Contains(hung.err, "deadline exceeded"));
  // Other services do not wait for the peer.
  EXPECT_EQ(berthd_->Ctr({"content", "ls"}).exit_code, 0);
  EXPECT_TRUE(StillServing());
  peer_.Signal(SIGCONT);
  CommandResult back = Snap({"prepare", "k3"});
  EXPECT_EQ(back.exit_code, 0) << back.Describe();
}

TEST_F(SnapshotPeerFailureTest, ManyCallsToAHungPeerLeaveTheDaemonAnswering) {
  ASSERT_TRUE(peer_.Run());
  ASSERT_NO_FATAL_FAILURE(StartBerthd("60s"));
  peer_.Signal(SIGSTOP);
  // More stuck calls than gRPC has callback threads on any machine here.
  int devnull = ::open("/dev/null", O_RDWR);
  ASSERT_GE(devnull, 0);
  std::vector<pid_t> stuck;
  for (int i = 0; i < 12; ++i) {
    stuck.push_back(SpawnProcess({kCtr, "--address", berthd_->socket(), "snapshots",
                                  "--snapshotter", "peer", "prepare", "k" + std::to_string(i)},
                                 devnull, devnull, devnull));
  }
  ::close(devnull);
  // While all of them wait out their 60 s deadline, other services answer.
  for (int i = 0; i < 3; ++i) {
    CommandResult version = RunCommand({kCtr, "--address", berthd_->socket(), "version"}, "",
                                       std::chrono::seconds(20));
    EXPECT_EQ(version.exit_code, 0) << version.Describe();
  }
  CommandResult content = RunCommand({kCtr, "--address", berthd_->socket(), "content", "ls"}, "",
                                     std::chrono::seconds(20));
  EXPECT_EQ(content.exit_code, 0) << content.Describe();
  peer_.Signal(SIGCONT);
  for (pid_t pid : stuck) {
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(WaitForExit(pid, std::chrono::seconds(60)).has_value());
  }
  EXPECT_TRUE(StillServing());
}

// berthd A with a content proxy (the metadata layer's content store) to a
// second berthd B.
class ContentPeerFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(peer_.Start());
    ASSERT_TRUE(peer_.WaitServing());
    BerthdOptions options;
    options.extra_toml = kNoScheduledGc + ProxyPluginToml("blobs", "content", peer_.socket()) +
                         "[plugins.\"io.containerd.metadata.v1.leveldb\"]\n"
                         "  content_store = \"blobs\"\n";
    main_ = std::make_unique<BerthdProcess>(options);
    ASSERT_TRUE(main_->Start());
    ASSERT_TRUE(main_->WaitServing());
  }
  std::vector<std::string> CtrArgs(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kCtr, "--address", main_->socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  void RestartPeer() {
    ASSERT_TRUE(peer_.Start());
    ASSERT_TRUE(peer_.WaitServing());
  }

  IgnoreSigpipe sigpipe_;
  BerthdProcess peer_{BerthdOptions{"", kNoScheduledGc, {}, {}}};
  std::unique_ptr<BerthdProcess> main_;
  TempDir scratch_{"berth-proxy-io-"};
};

TEST_F(ContentPeerFailureTest, PeerKilledMidWriteKeepsNoPartialBlob) {
  const std::string data = DeterministicBytes(16 << 20, 21);
  const std::string digest = Sha256Of(data);
  const std::string err = scratch_.Join("ingest.err");
  {
    Child ingest(CtrArgs({"content", "ingest", "mid-write"}), /*feed_stdin=*/true, err);
    ASSERT_TRUE(ingest.ok());
    ASSERT_TRUE(ingest.Write(data.substr(0, 4 << 20)));
    ASSERT_TRUE(Eventually([&] {
      return peer_.Ctr({"content", "active"}).out.find("mid-write") != std::string::npos;
    })) << peer_.Ctr({"content", "active"}).Describe();
    peer_.Kill();
    (void)ingest.Write(data.substr(4 << 20));
    ingest.CloseFd();
    std::optional<int> code = ingest.Wait(std::chrono::seconds(60));
    ASSERT_TRUE(code.has_value()) << "ctr did not end after the peer died";
    EXPECT_NE(*code, 0);
    EXPECT_TRUE(Contains(ReadFile(err), "unavailable"));
  }
  EXPECT_TRUE(main_->running() && !main_->WaitExit(std::chrono::milliseconds(0)));
  EXPECT_EQ(main_->Ctr({"version"}).exit_code, 0);

  ASSERT_NO_FATAL_FAILURE(RestartPeer());
  EXPECT_EQ(peer_.Ctr({"content", "ls"}).out.find(digest), std::string::npos);
  // ctr resumes the peer's ingest: it seeks its input past what is there, so
  // the input is a file this time.
  const std::string input = scratch_.Join("blob");
  ASSERT_TRUE(WriteFile(input, data));
  const std::string again_err = scratch_.Join("again.err");
  int in_fd = open(input.c_str(), O_RDONLY | O_CLOEXEC);
  int err_fd = open(again_err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(in_fd, 0);
  ASSERT_GE(err_fd, 0);
  pid_t again = SpawnProcess(CtrArgs({"content", "ingest", "mid-write"}), in_fd, err_fd, err_fd);
  close(in_fd);
  close(err_fd);
  ASSERT_GT(again, 0);
  std::optional<int> again_code = WaitForExit(again, std::chrono::seconds(60));
  ASSERT_TRUE(again_code.has_value());
  ASSERT_EQ(*again_code, 0) << ReadFile(again_err);
  CommandResult on_peer = peer_.Ctr({"content", "get", digest});
  EXPECT_TRUE(on_peer.exit_code == 0 && on_peer.out == data) << on_peer.err;
  CommandResult through = main_->Ctr({"content", "get", digest});
  EXPECT_TRUE(through.exit_code == 0 && through.out == data) << through.err;
}

TEST_F(ContentPeerFailureTest, PeerKilledMidReadEndsTheReadAndComesBack) {
  const std::string data = DeterministicBytes(64 << 20, 22);
  const std::string digest = Sha256Of(data);
  CommandResult in = RunCommand(CtrArgs({"content", "ingest", "big"}), data);
  ASSERT_EQ(in.exit_code, 0) << in.Describe();
  const std::string err = scratch_.Join("get.err");
  {
    Child get(CtrArgs({"content", "get", digest}), /*feed_stdin=*/false, err);
    ASSERT_TRUE(get.ok());
    std::string head = get.Read(1 << 20, std::chrono::seconds(30));
    ASSERT_EQ(head.size(), std::size_t{1} << 20);
    peer_.Kill();
    std::string rest = get.Read(data.size(), std::chrono::seconds(60));
    EXPECT_LT(head.size() + rest.size(), data.size()) << "the read was not cut";
    EXPECT_TRUE(data.compare(0, head.size() + rest.size(), head + rest) == 0);
    std::optional<int> code = get.Wait(std::chrono::seconds(60));
    ASSERT_TRUE(code.has_value());
    EXPECT_NE(*code, 0);
    EXPECT_TRUE(Contains(ReadFile(err), "unavailable"));
  }
  CommandResult between = main_->Ctr({"content", "get", digest});
  EXPECT_NE(between.exit_code, 0);
  EXPECT_TRUE(Contains(between.err, "unavailable"));
  EXPECT_EQ(main_->Ctr({"version"}).exit_code, 0);

  ASSERT_NO_FATAL_FAILURE(RestartPeer());
  CommandResult after = main_->Ctr({"content", "get", digest});
  EXPECT_EQ(after.exit_code, 0) << after.err;
  EXPECT_TRUE(after.out == data);
}

// Content streams whose every step waits on a frozen peer (each Read's
// opening Info, each Write's STAT) run on the executor, so that the daemon's
// other services still answer.
TEST_F(ContentPeerFailureTest, ManyStreamsToAHungPeerLeaveTheDaemonAnswering) {
  const std::string data = DeterministicBytes(1 << 20, 23);
  const std::string digest = Sha256Of(data);
  CommandResult in = RunCommand(CtrArgs({"content", "ingest", "blob"}), data);
  ASSERT_EQ(in.exit_code, 0) << in.Describe();
  peer_.Signal(SIGSTOP);
  int devnull = ::open("/dev/null", O_RDWR);
  ASSERT_GE(devnull, 0);
  std::vector<pid_t> stuck;
  for (int i = 0; i < 8; ++i) {
    stuck.push_back(SpawnProcess(CtrArgs({"content", "get", digest}), devnull, devnull, devnull));
    stuck.push_back(SpawnProcess(CtrArgs({"content", "ingest", "stuck-" + std::to_string(i)}),
                                 devnull, devnull, devnull));
  }
  ::close(devnull);
  for (int i = 0; i < 3; ++i) {
    CommandResult version = RunCommand(CtrArgs({"version"}), "", std::chrono::seconds(20));
    EXPECT_EQ(version.exit_code, 0) << version.Describe();
  }
  CommandResult namespaces = RunCommand(CtrArgs({"namespaces", "ls"}), "", std::chrono::seconds(20));
  EXPECT_EQ(namespaces.exit_code, 0) << namespaces.Describe();
  peer_.Signal(SIGCONT);
  for (pid_t pid : stuck) {
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(WaitForExit(pid, std::chrono::seconds(90)).has_value());
  }
  EXPECT_EQ(main_->Ctr({"version"}).exit_code, 0);
}

}  // namespace
}  // namespace berth::test
