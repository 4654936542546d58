// Tests of the platform file-system operations.
#include "fs_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "testing.h"

namespace berth::diff_walking {
namespace {

using Parts = std::vector<std::string>;

TEST(CleanComponents, ClampsAtTheRoot) {
  EXPECT_EQ(CleanComponents("../x"), (Parts{"x"}));
  EXPECT_EQ(CleanComponents("/abs/path"), (Parts{"abs", "path"}));
  EXPECT_EQ(CleanComponents("a/../../b"), (Parts{"b"}));
  EXPECT_EQ(CleanComponents("./a//b/./c/"), (Parts{"a", "b", "c"}));
  EXPECT_EQ(CleanComponents(".."), Parts{});
  EXPECT_EQ(CleanComponents(""), Parts{});
  EXPECT_EQ(JoinComponents({"a", "b", "c"}, 2), "a/b");
}

TEST(OpenInRoot, SymlinksStayInsideTheRoot) {
  testing::TempDir tmp;
  const std::string root = tmp.Sub("root");
  const std::string outside = tmp.Sub("outside");
  ASSERT_EQ(::symlink("/", (root + "/abs").c_str()), 0);
  ASSERT_EQ(::symlink("../../..", (root + "/up").c_str()), 0);
  ASSERT_EQ(::symlink(outside.c_str(), (root + "/out").c_str()), 0);
  ASSERT_EQ(::mkdir((root + "/etc").c_str(), 0755), 0);
  auto fd = OpenRoot(root);
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();

  auto etc = OpenDirInRoot(fd->get(), "abs/etc");
  ASSERT_TRUE(etc.ok()) << etc.status().ToString();
  auto path = FdPath(etc->get());
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, root + "/etc");

  auto up = OpenDirInRoot(fd->get(), "up");
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(*FdPath(up->get()), root);

  // An absolute symlink to a real outside directory resolves inside.
  auto out = OpenDirInRoot(fd->get(), "out");
  EXPECT_TRUE(out.status().Is(Code::kNotFound)) << out.status().ToString();
}

TEST(RemoveAllAt, RemovesTreesWithoutFollowingSymlinks) {
  testing::TempDir tmp;
  const std::string root = tmp.Sub("root");
  const std::string outside = tmp.Sub("outside");
  ASSERT_TRUE(testing::WriteFileAt(outside + "/keep", "x"));
  tmp.Sub("root/d/e");
  ASSERT_TRUE(testing::WriteFileAt(root + "/d/e/f", "x"));
  ASSERT_EQ(::symlink(outside.c_str(), (root + "/d/link").c_str()), 0);
  auto fd = OpenRoot(root);
  ASSERT_TRUE(fd.ok());
  ASSERT_TRUE(RemoveAllAt(fd->get(), "d").ok());
  EXPECT_NE(::access((root + "/d").c_str(), F_OK), 0);
  EXPECT_EQ(testing::ReadFileAt(outside + "/keep"), "x");
  EXPECT_TRUE(RemoveAllAt(fd->get(), "absent").ok());
}

}  // namespace
}  // namespace berth::diff_walking
