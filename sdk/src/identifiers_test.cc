#include "berth/identifiers.h"

#include <gtest/gtest.h>

#include <string>

namespace berth {
namespace {

TEST(IdentifiersTest, AcceptsContainerdsIdentifiers) {
  for (const char* id : {"default", "a", "k8s.io", "my_ns-1", "A9.b_c-d", "x1"}) {
    EXPECT_TRUE(ValidateIdentifier(id).ok()) << id;
  }
  EXPECT_TRUE(ValidateIdentifier(std::string(kMaxIdentifierLength, 'a')).ok());
}

TEST(IdentifiersTest, RefusesWhatContainerdRefuses) {
  for (const char* id : {"", "-a", "a-", "a..b", "a/b", "..", "a b", "ns\n", "é"}) {
    Status s = ValidateIdentifier(id);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << id;
  }
  Status s = ValidateIdentifier(std::string(kMaxIdentifierLength + 1, 'a'));
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("greater than maximum length"), std::string::npos);
}

}  // namespace
}  // namespace berth
