#include "server/notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace berth::host {
namespace {

// A datagram socket bound at `name` ("@x" = abstract), closed on exit.
class DatagramListener {
 public:
  explicit DatagramListener(const std::string& name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    socklen_t len =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0;
    timeval tv{5, 0};  // bound the wait for a datagram
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~DatagramListener() { ::close(fd_); }
  bool bound() const { return bound_; }
  std::string Receive() {
    char buf[256];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    return n < 0 ? "" : std::string(buf, static_cast<std::size_t>(n));
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

class NotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-notify-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::unsetenv("NOTIFY_SOCKET");
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(NotifyTest, SendsStateToPathSocket) {
  std::string path = dir_ + "/notify.sock";
  DatagramListener listener(path);
  ASSERT_TRUE(listener.bound());
  ASSERT_TRUE(SendNotify(path, "READY=1").ok());
  EXPECT_EQ(listener.Receive(), "READY=1");
}

TEST_F(NotifyTest, SendsStateToAbstractSocket) {
  std::string name = "@berth-notify-test-" + std::to_string(::getpid());
  DatagramListener listener(name);
  ASSERT_TRUE(listener.bound());
  ASSERT_TRUE(SendNotify(name, "STOPPING=1").ok());
  EXPECT_EQ(listener.Receive(), "STOPPING=1");
}

TEST_F(NotifyTest, NotifySystemdReadsEnvironment) {
  std::string path = dir_ + "/systemd.sock";
  DatagramListener listener(path);
  ASSERT_TRUE(listener.bound());
  ASSERT_EQ(::setenv("NOTIFY_SOCKET", path.c_str(), 1), 0);
  ASSERT_TRUE(NotifySystemd("READY=1").ok());
  EXPECT_EQ(listener.Receive(), "READY=1");
}

TEST_F(NotifyTest, NoSocketConfiguredIsANoOp) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(NotifySystemd("READY=1").ok());
}

TEST_F(NotifyTest, UnreachableSocketIsUnavailable) {
  Status s = SendNotify(dir_ + "/nobody.sock", "READY=1");
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(SendNotify("", "READY=1").code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace berth::host
