#include "berth/status.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, ToStringReadsLikeContainerd) {
  EXPECT_EQ(Status::NotFound("content sha256:ab").ToString(),
            "content sha256:ab: not found");
  EXPECT_EQ(Status::SkipPlugin("no btrfs").ToString(), "no btrfs: skip plugin");
  EXPECT_EQ(Status(Code::kUnavailable, "").ToString(), "unavailable");
}

TEST(StatusTest, AnnotateKeepsCode) {
  Status s = Status::AlreadyExists("ref x").Annotate("commit");
  EXPECT_EQ(s.code(), Code::kAlreadyExists);
  EXPECT_EQ(s.message(), "commit: ref x");
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> good(7);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad(Status::InvalidArgument("nope"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace berth
