// berthd's process life: SIGTERM, a second daemon on one root, a stale
// socket, systemd readiness, and the SIGUSR1 thread dump.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "berthd_process.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

using Clock = std::chrono::steady_clock;

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// A bound datagram socket standing in for systemd's notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    bound_ = fd_ >= 0 &&
             bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) close(fd_);
    unlink(path_.c_str());
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  bool bound() const { return bound_; }
  // Every datagram received until one contains `wanted` or `bound` passes.
  std::string ReceiveUntil(const std::string& wanted,
                           std::chrono::milliseconds bound) {
    std::string received;
    const auto deadline = Clock::now() + bound;
    while (received.find(wanted) == std::string::npos &&
           Clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - Clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[4096];
      ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n > 0)
        received.append(buffer, static_cast<std::size_t>(n)).append("\n");
    }
    return received;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

// Polls the daemon's log (bounded) until it contains `marker`.
bool LogGains(const BerthdProcess& berthd, const std::string& marker,
              std::chrono::milliseconds bound) {
  const auto deadline = Clock::now() + bound;
  while (Clock::now() < deadline) {
    if (berthd.Log().find(marker) != std::string::npos) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(LifecycleTest, SigtermExitsZeroAndRemovesSocket) {
  BerthdProcess berthd;
  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  ASSERT_TRUE(PathExists(berthd.socket()));
  EXPECT_EQ(berthd.Stop(), 0) << berthd.Log();
  EXPECT_FALSE(PathExists(berthd.socket()));
}

TEST(LifecycleTest, SecondDaemonOnSameRootIsRefused) {
  BerthdProcess first;
  ASSERT_TRUE(first.Start());
  ASSERT_TRUE(first.WaitServing());

  BerthdProcess second = BerthdProcess::SharingConfigOf(first);
  ASSERT_TRUE(second.Start());
  std::optional<int> code = second.WaitExit(60s);
  ASSERT_TRUE(code.has_value()) << "second berthd kept running; log:\n"
                                << second.Log();
  EXPECT_NE(*code, 0);
  EXPECT_FALSE(second.Log().empty());

  EXPECT_TRUE(PathExists(first.socket()));
  CommandResult version = first.Ctr({"version"});
  EXPECT_EQ(version.exit_code, 0) << version.Describe();
}

TEST(LifecycleTest, StaleSocketIsReplaced) {
  BerthdProcess berthd;
  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  berthd.Kill();
  ASSERT_TRUE(PathExists(berthd.socket())) << "SIGKILL left no socket file";

  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  CommandResult version = berthd.Ctr({"version"});
  EXPECT_EQ(version.exit_code, 0) << version.Describe();
}

TEST(LifecycleTest, NotifiesSystemdWhenReady) {
  TempDir dir("berth-notify-");
  NotifySocket notify(dir.Join("notify.sock"));
  ASSERT_TRUE(notify.bound()) << std::strerror(errno);
  BerthdOptions options;
  options.env = {"NOTIFY_SOCKET=" + dir.Join("notify.sock")};
  BerthdProcess berthd(options);
  ASSERT_TRUE(berthd.Start());
  std::string received = notify.ReceiveUntil("READY=1", 60s);
  EXPECT_TRUE(Contains(received, "READY=1")) << berthd.Log();
  EXPECT_TRUE(berthd.WaitServing());
}

TEST(LifecycleTest, Sigusr1DumpsThreads) {
  BerthdProcess berthd;
  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  berthd.Signal(SIGUSR1);
  EXPECT_TRUE(LogGains(berthd, "=== BEGIN thread dump ===", 30s))
      << berthd.Log();
  EXPECT_TRUE(LogGains(berthd, "=== END thread dump ===", 30s)) << berthd.Log();
  CommandResult version = berthd.Ctr({"version"});
  EXPECT_EQ(version.exit_code, 0) << version.Describe();
  EXPECT_EQ(berthd.Stop(), 0);
}

}  // namespace
}  // namespace berth::test
