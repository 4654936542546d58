#include "berth/unix_socket.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace berth {
namespace {

class SocketAnswersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-sock-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // Binds a stream socket at `path`; listens when `listen`.
  void Bind(const std::string& path, bool listen) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    ASSERT_LT(path.size(), sizeof(addr.sun_path));
    std::memcpy(addr.sun_path, path.data(), path.size());
    ASSERT_EQ(::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0)
        << std::strerror(errno);
    if (listen) {
      ASSERT_EQ(::listen(fd_, 4), 0);
    }
  }
  std::string dir_;
  int fd_ = -1;
};

TEST_F(SocketAnswersTest, ListeningSocketAnswers) {
  Bind(dir_ + "/s.sock", /*listen=*/true);
  EXPECT_TRUE(SocketAnswers(dir_ + "/s.sock"));
}

TEST_F(SocketAnswersTest, BoundButNotListeningDoesNot) {
  Bind(dir_ + "/s.sock", /*listen=*/false);
  EXPECT_FALSE(SocketAnswers(dir_ + "/s.sock"));
}

TEST_F(SocketAnswersTest, StaleSocketFileDoesNot) {
  Bind(dir_ + "/s.sock", /*listen=*/true);
  ::close(fd_);
  fd_ = -1;
  ASSERT_TRUE(std::filesystem::exists(dir_ + "/s.sock"));
  EXPECT_FALSE(SocketAnswers(dir_ + "/s.sock"));
}

TEST_F(SocketAnswersTest, MissingPathRegularFileAndOverlongPathDoNot) {
  EXPECT_FALSE(SocketAnswers(dir_ + "/missing.sock"));
  std::ofstream(dir_ + "/file") << "x";
  EXPECT_FALSE(SocketAnswers(dir_ + "/file"));
  EXPECT_FALSE(SocketAnswers(dir_ + "/" + std::string(200, 'a')));
}

}  // namespace
}  // namespace berth
