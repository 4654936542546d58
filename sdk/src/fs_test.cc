#include "berth/fs.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace berth {
namespace {

TEST(ErrnoTest, MessageNamesTheCallThePathAndTheReason) {
  EXPECT_EQ(ErrnoMessage("open", "/no/such", ENOENT),
            std::string("open /no/such: ") + std::strerror(ENOENT));
  EXPECT_EQ(ErrnoMessage("btrfs tree search", "", EPERM),
            std::string("btrfs tree search: ") + std::strerror(EPERM));
}

TEST(ErrnoTest, StatusIsNotFoundForEnoentOnly) {
  Status missing = ErrnoStatus("stat", "/x", ENOENT);
  EXPECT_TRUE(missing.Is(Code::kNotFound));
  EXPECT_EQ(missing.message(), ErrnoMessage("stat", "/x", ENOENT));
  for (int err : {EACCES, EEXIST, EIO, ENOSPC, EBUSY}) {
    Status s = ErrnoStatus("write", "/x", err);
    EXPECT_TRUE(s.Is(Code::kUnknown)) << std::strerror(err);
    EXPECT_EQ(s.message(), ErrnoMessage("write", "/x", err));
  }
}

class SyncDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-fs-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
};

TEST_F(SyncDirTest, SyncsAnExistingDirectory) {
  std::ofstream(dir_ + "/entry") << "x";
  EXPECT_TRUE(SyncDir(dir_).ok());
}

TEST_F(SyncDirTest, MissingDirectoryIsNotFound) {
  Status s = SyncDir(dir_ + "/missing");
  EXPECT_TRUE(s.Is(Code::kNotFound)) << s.ToString();
  EXPECT_EQ(s.message(), ErrnoMessage("open", dir_ + "/missing", ENOENT));
}

TEST_F(SyncDirTest, AFileIsNotADirectory) {
  std::ofstream(dir_ + "/file") << "x";
  Status s = SyncDir(dir_ + "/file");
  EXPECT_TRUE(s.Is(Code::kUnknown)) << s.ToString();
  EXPECT_EQ(s.message(), ErrnoMessage("open", dir_ + "/file", ENOTDIR));
}

}  // namespace
}  // namespace berth
