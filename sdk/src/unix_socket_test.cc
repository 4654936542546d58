#include "berth/unix_socket.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
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

// A socket PublishSocket puts in place has its mode and owner already; while
// `listen_at` runs nothing is at the path, and the private folder is 0700
// even under umask 0.
TEST_F(SocketAnswersTest, PublishSocketShowsOnlyTheFinalMode) {
  const std::string path = dir_ + "/pub.sock";
  mode_t old_umask = ::umask(0);
  std::string seen;
  Status s = PublishSocket(path, 0640, ::geteuid(), ::getegid(), [&](const std::string& at) {
    seen = at;
    EXPECT_NE(::access(path.c_str(), F_OK), 0);
    struct stat dir {};
    EXPECT_EQ(::stat(std::filesystem::path(at).parent_path().c_str(), &dir), 0);
    EXPECT_EQ(dir.st_mode & 07777, 0700u);
    Bind(at, /*listen=*/true);
    return Status::Ok();
  });
  ::umask(old_umask);
  ASSERT_TRUE(s.ok()) << s.ToString();
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_TRUE(SocketAnswers(path));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(seen).parent_path()));
}

TEST_F(SocketAnswersTest, PublishSocketLeavesNothingWhenListenFails) {
  const std::string path = dir_ + "/pub.sock";
  Status s = PublishSocket(path, 0660, ::geteuid(), ::getegid(), [&](const std::string& at) {
    Bind(at, /*listen=*/false);
    return Status::Unavailable("no");
  });
  EXPECT_TRUE(s.Is(Code::kUnavailable)) << s.ToString();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_),
                          std::filesystem::directory_iterator()),
            0);
  // A folder so deep that the private name would not fit in sun_path.
  std::string long_path = dir_ + "/" + std::string(75, 'a') + "/s";
  EXPECT_TRUE(PublishSocket(long_path, 0660, 0, 0, [](const std::string&) {
                return Status::Ok();
              }).Is(Code::kInvalidArgument));
}

}  // namespace
}  // namespace berth
