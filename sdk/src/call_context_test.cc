#include "berth/call_context.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace berth {
namespace {

TEST(CallContextTest, EmptyOutsideAnyScope) {
  EXPECT_EQ(CurrentCall().ns, "");
  EXPECT_EQ(CurrentCall().lease, "");
}

TEST(CallContextTest, ScopesNestAndRestore) {
  {
    CallScope outer({"ns1", "lease1"});
    EXPECT_EQ(CurrentCall().ns, "ns1");
    {
      CallScope inner({"ns2", ""});
      EXPECT_EQ(CurrentCall().ns, "ns2");
      EXPECT_EQ(CurrentCall().lease, "");
    }
    EXPECT_EQ(CurrentCall().ns, "ns1");
    EXPECT_EQ(CurrentCall().lease, "lease1");
  }
  EXPECT_EQ(CurrentCall().ns, "");
}

TEST(CallContextTest, PerThread) {
  CallScope scope({"main", ""});
  std::string seen = "unset";
  std::thread other([&] { seen = CurrentCall().ns; });
  other.join();
  EXPECT_EQ(seen, "");
  EXPECT_EQ(CurrentCall().ns, "main");
}

}  // namespace
}  // namespace berth
