#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "berth/mount.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }

bool IsMountPoint(const fs::path& p) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  const std::string needle = " " + p.string() + " ";
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) return true;
  }
  return false;
}

class MountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/var/tmp/berth-mount-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    target_ = dir_ / "target";
    fs::create_directory(target_);
  }
  void TearDown() override {
    EXPECT_TRUE(UnmountAll(target_).ok());
    EXPECT_FALSE(IsMountPoint(target_));
    fs::remove_all(dir_);
  }
  fs::path dir_;
  fs::path target_;
};

TEST_F(MountTest, BindReadWriteAndReadOnly) {
  fs::create_directory(dir_ / "src");
  WriteFile(dir_ / "src/f", "hello");
  ASSERT_TRUE(MountAll({{"bind", (dir_ / "src").string(), "", {"rw", "rbind"}}},
                       target_).ok());
  EXPECT_EQ(ReadFile(target_ / "f"), "hello");
  WriteFile(target_ / "g", "w");
  EXPECT_EQ(ReadFile(dir_ / "src/g"), "w");
  ASSERT_TRUE(Unmount(target_).ok());
  EXPECT_FALSE(IsMountPoint(target_));

  ASSERT_TRUE(MountAll({{"bind", (dir_ / "src").string(), "", {"ro", "rbind"}}},
                       target_).ok());
  struct statvfs st {};
  ASSERT_EQ(statvfs(target_.c_str(), &st), 0);
  EXPECT_TRUE(st.f_flag & ST_RDONLY);
  EXPECT_EQ(access((target_ / "f").c_str(), W_OK), -1);
  EXPECT_EQ(errno, EROFS);
}

TEST_F(MountTest, OverlayWithManyLowersUsesRelativePaths) {
  // Deep enough paths that 128 absolute lowerdirs exceed a page.
  fs::path base = dir_ / "a-rather-long-directory-name-for-layers" / "snapshots";
  std::string lowers;
  for (int i = 128; i >= 1; --i) {
    fs::path l = base / std::to_string(i) / "fs";
    fs::create_directories(l);
    WriteFile(l / ("f" + std::to_string(i)), std::to_string(i));
    if (!lowers.empty()) lowers += ':';
    lowers += l.string();
  }
  ASSERT_GT(lowers.size(), static_cast<size_t>(sysconf(_SC_PAGESIZE)));
  fs::create_directories(dir_ / "upper");
  fs::create_directories(dir_ / "work");
  const fs::path cwd = fs::current_path();
  Mount m{"overlay", "overlay", "",
          {"workdir=" + (dir_ / "work").string(),
           "upperdir=" + (dir_ / "upper").string(), "lowerdir=" + lowers}};
  Status s = MountAll({m}, target_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(fs::current_path(), cwd);
  EXPECT_EQ(ReadFile(target_ / "f1"), "1");
  EXPECT_EQ(ReadFile(target_ / "f128"), "128");
  WriteFile(target_ / "new", "n");
  EXPECT_EQ(ReadFile(dir_ / "upper/new"), "n");
}

TEST_F(MountTest, FailureNamesTargetAndLeavesNothingMounted) {
  Status s = MountAll({{"bind", (dir_ / "missing").string(), "", {"rbind"}}}, target_);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(target_.string()), std::string::npos);
  EXPECT_FALSE(IsMountPoint(target_));
}

TEST_F(MountTest, UnmountOfMissingOrUnmountedTargetSucceeds) {
  EXPECT_TRUE(UnmountAll((dir_ / "nope").string()).ok());
  EXPECT_TRUE(Unmount(target_).ok());
}

}  // namespace
}  // namespace berth
