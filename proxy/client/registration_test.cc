#include "registration.h"

#include <gtest/gtest.h>

#include "berth/platform.h"
#include "berth/plugin_types.h"

namespace berth::proxy {
namespace {

TEST(ProxyRegistrationTest, ShortAndFullTypes) {
  EXPECT_EQ(ProxyPluginType("snapshot"), types::kSnapshotter);
  EXPECT_EQ(ProxyPluginType("content"), types::kContent);
  EXPECT_EQ(ProxyPluginType("io.containerd.snapshotter.v1"), types::kSnapshotter);
  EXPECT_EQ(ProxyPluginType("io.containerd.content.v1"), types::kContent);
  EXPECT_EQ(ProxyPluginType("diff"), types::kDiffer);
  EXPECT_EQ(ProxyPluginType("io.containerd.differ.v1"), types::kDiffer);
  EXPECT_EQ(ProxyPluginType("stream"), "stream");
}

TEST(ProxyRegistrationTest, RegistersUnderTheFullTypeAndName) {
  ProxySpec spec;
  spec.name = "stargz";
  spec.type = "snapshot";
  spec.address = "/run/stargz.sock";
  Registration r = ProxyRegistration(spec);
  EXPECT_EQ(r.uri(), "io.containerd.snapshotter.v1.stargz");
  EXPECT_TRUE(r.required_types.empty());
  EXPECT_FALSE(r.config);
  EXPECT_TRUE(r.init);
}

TEST(ProxyRegistrationTest, DiffRegistersADiffer) {
  ProxySpec spec;
  spec.name = "rdiff";
  spec.type = "diff";
  spec.address = "/run/rdiff.sock";
  EXPECT_EQ(ProxyRegistration(spec).uri(), "io.containerd.differ.v1.rdiff");
}

TEST(ProxyRegistrationTest, ParsesPlatforms) {
  auto full = ParsePlatform("Linux/ARM64/v8");
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_EQ(full->os, "linux");
  EXPECT_EQ(full->architecture, "arm64");
  EXPECT_EQ(full->variant, "v8");
  auto os_only = ParsePlatform("linux");
  ASSERT_TRUE(os_only.ok());
  EXPECT_EQ(os_only->architecture, HostPlatform().architecture);
  for (const char* bad : {"", "linux/", "/amd64", "a/b/c/d"}) {
    auto p = ParsePlatform(bad);
    EXPECT_FALSE(p.ok()) << bad;
    if (!p.ok()) {
      EXPECT_EQ(p.status().code(), Code::kInvalidArgument) << bad;
    }
  }
}

}  // namespace
}  // namespace berth::proxy
