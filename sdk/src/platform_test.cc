#include "berth/platform.h"

#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <map>
#include <string>

namespace berth {
namespace {

TEST(PlatformTest, ArchitectureIsGoNameOfTheMachine) {
  // uname's machine names for the architectures berth builds on.
  const std::map<std::string, std::string> go_names = {
      {"x86_64", "amd64"}, {"aarch64", "arm64"}, {"s390x", "s390x"},
      {"ppc64le", "ppc64le"}, {"riscv64", "riscv64"}};
  utsname u{};
  ASSERT_EQ(uname(&u), 0);
  auto it = go_names.find(u.machine);
  if (it == go_names.end()) GTEST_SKIP() << "no Go name known for " << u.machine;
  EXPECT_EQ(HostArchitecture(), it->second);
}

TEST(PlatformTest, HostPlatformIsLinuxOnTheHostArchitecture) {
  Platform p = HostPlatform();
  EXPECT_EQ(p.os, "linux");
  EXPECT_EQ(p.architecture, HostArchitecture());
  EXPECT_EQ(p.variant, "");
}

}  // namespace
}  // namespace berth
