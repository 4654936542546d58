#include "oci_spec.h"

#include <gtest/gtest.h>

#include "berth/digest.h"

namespace berth::cli {
namespace {

using nlohmann::json;

TEST(DefaultSpecTest, IsContainerdsDefaultForTheContainer) {
  json spec = DefaultSpec("ns1", "c1");
  EXPECT_EQ(spec["ociVersion"], "1.0.2-dev");
  EXPECT_EQ(spec["root"]["path"], "rootfs");
  EXPECT_EQ(spec["linux"]["cgroupsPath"], "/ns1/c1");
  EXPECT_EQ(spec["process"]["cwd"], "/");
  EXPECT_EQ(spec["process"]["env"], json::array({kDefaultPathEnv}));
  EXPECT_EQ(spec["process"]["capabilities"]["bounding"].size(), 14u);
  EXPECT_EQ(spec["mounts"].size(), 7u);
  EXPECT_EQ(spec["linux"]["namespaces"].size(), 5u);
  EXPECT_TRUE(spec["process"]["noNewPrivileges"].get<bool>());
  EXPECT_EQ(DefaultSpec("default", "")["linux"]["cgroupsPath"], "/default");
}

TEST(ChainIdTest, IsContainerdsIdentityChainId) {
  EXPECT_EQ(ChainId({}), "");
  const std::string a = "sha256:" + std::string(64, 'a');
  const std::string b = "sha256:" + std::string(64, 'b');
  const std::string c = "sha256:" + std::string(64, 'c');
  EXPECT_EQ(ChainId({a}), a);
  const std::string ab = Sha256Of(a + " " + b);
  EXPECT_EQ(ChainId({a, b}), ab);
  EXPECT_EQ(ChainId({a, b, c}), Sha256Of(ab + " " + c));
}

TEST(ImageConfigTest, ParsesAndApplies) {
  auto config = ParseImageConfig(R"({"architecture": "amd64", "os": "linux",
      "config": {"Env": ["PATH=/bin", "A=1"], "Entrypoint": ["/bin/sh", "-c"],
                 "Cmd": ["echo hi"], "WorkingDir": "/root", "User": "5:6"},
      "rootfs": {"type": "layers", "diff_ids": ["sha256:x"]}})");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->diff_ids, std::vector<std::string>{"sha256:x"});
  json spec = DefaultSpec("n", "i");
  ASSERT_TRUE(ApplyImageConfig(*config, {}, spec).ok());
  EXPECT_EQ(spec["process"]["env"], json::array({"PATH=/bin", "A=1"}));
  EXPECT_EQ(spec["process"]["args"], json::array({"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(spec["process"]["cwd"], "/root");
  EXPECT_EQ(spec["process"]["user"]["uid"], 5);
  EXPECT_EQ(spec["process"]["user"]["gid"], 6);

  // Given args replace Entrypoint and Cmd, as ctr's.
  json given = DefaultSpec("n", "i");
  ASSERT_TRUE(ApplyImageConfig(*config, {"true"}, given).ok());
  EXPECT_EQ(given["process"]["args"], json::array({"true"}));
}

TEST(ImageConfigTest, RejectsWhatCannotRun) {
  EXPECT_FALSE(ParseImageConfig("not json").ok());
  EXPECT_FALSE(ParseImageConfig(R"({"config": {}})").ok());
  auto bare = ParseImageConfig(R"({"rootfs": {"diff_ids": []}})");
  ASSERT_TRUE(bare.ok());
  json spec = DefaultSpec("n", "i");
  EXPECT_FALSE(ApplyImageConfig(*bare, {}, spec).ok());
  ImageConfig named = *bare;
  named.user = "nobody";
  EXPECT_FALSE(ApplyImageConfig(named, {"true"}, spec).ok());
}

TEST(MergeEnvTest, ReplacesByNameAndAppends) {
  EXPECT_EQ(MergeEnv({"PATH=/a", "X=1"}, {"X=2", "Y=3"}),
            (std::vector<std::string>{"PATH=/a", "X=2", "Y=3"}));
}

TEST(PickManifestTest, TakesThePlatformsManifest) {
  const std::string index = R"({"schemaVersion": 2, "manifests": [
      {"digest": "sha256:arm", "platform": {"os": "linux", "architecture": "arm64"}},
      {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}}]})";
  auto picked = PickManifest(index, "linux", "amd64");
  ASSERT_TRUE(picked.ok());
  EXPECT_EQ(*picked, "sha256:amd");
  EXPECT_EQ(PickManifest(index, "linux", "s390x").status().code(), Code::kNotFound);
  EXPECT_TRUE(IsIndexMediaType("application/vnd.oci.image.index.v1+json"));
  EXPECT_FALSE(IsIndexMediaType("application/vnd.oci.image.manifest.v1+json"));
  auto config = ManifestConfigDigest(R"({"config": {"digest": "sha256:c"}})");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(*config, "sha256:c");
  EXPECT_FALSE(ManifestConfigDigest("{}").ok());
}

}  // namespace
}  // namespace berth::cli
