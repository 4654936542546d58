#include "berth/digest.h"

#include <string>

#include <gtest/gtest.h>

namespace berth {
namespace {

constexpr char kEmpty[] =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kAbc[] =
    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(DigestTest, KnownVectors) {
  EXPECT_EQ(Sha256Of(""), kEmpty);
  EXPECT_EQ(Sha256Of("abc"), kAbc);
}

TEST(DigestTest, IncrementalEqualsOneShotAndStateSurvivesDigest) {
  Sha256 h;
  h.Update("a", 1);
  EXPECT_EQ(h.Digest(), Sha256Of("a"));
  h.Update("bc", 2);
  EXPECT_EQ(h.Digest(), kAbc);
  h.Reset();
  EXPECT_EQ(h.Digest(), kEmpty);
  Sha256 moved(std::move(h));
  moved.Update("abc", 3);
  EXPECT_EQ(moved.Digest(), kAbc);
}

TEST(DigestTest, LargeInputInPieces) {
  std::string data(3 << 20, 'x');
  Sha256 h;
  for (std::size_t i = 0; i < data.size(); i += 4099) {
    h.Update(data.data() + i, std::min<std::size_t>(4099, data.size() - i));
  }
  EXPECT_EQ(h.Digest(), Sha256Of(data));
}

TEST(DigestTest, Validate) {
  EXPECT_TRUE(ValidateDigest(kAbc).ok());
  EXPECT_EQ(DigestHex(kAbc), std::string(kAbc).substr(7));
  for (std::string bad :
       {std::string(""), std::string("sha256:"), std::string("abc"),
        std::string(kAbc).substr(0, 70),  // short
        std::string(kAbc) + "0",          // long
        std::string("sha512:") + std::string(kAbc).substr(7),
        std::string("SHA256:") + std::string(kAbc).substr(7),
        "sha256:" + std::string(63, 'a') + "A",  // upper case
        "sha256:../../../../etc/passwd" + std::string(40, 'a')}) {
    Status s = ValidateDigest(bad);
    EXPECT_TRUE(s.Is(Code::kInvalidArgument)) << bad;
  }
}

// containerd takes sha384 and sha512 digests; a lookup of one finds nothing.
TEST(DigestTest, ValidateLookup) {
  EXPECT_TRUE(ValidateLookupDigest(kAbc).ok());
  EXPECT_TRUE(ValidateLookupDigest("sha512:" + std::string(128, 'a')).Is(Code::kNotFound));
  EXPECT_TRUE(ValidateLookupDigest("sha384:" + std::string(96, '0')).Is(Code::kNotFound));
  EXPECT_TRUE(
      ValidateLookupDigest("sha512:" + std::string(127, 'a')).Is(Code::kInvalidArgument));
  EXPECT_TRUE(
      ValidateLookupDigest("sha512:" + std::string(127, 'a') + "G").Is(Code::kInvalidArgument));
  EXPECT_TRUE(ValidateLookupDigest("md5:" + std::string(32, 'a')).Is(Code::kInvalidArgument));
}

}  // namespace
}  // namespace berth
