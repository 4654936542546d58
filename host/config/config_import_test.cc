// config.toml `imports`: resolution, recursion, merge rules, load-once.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/config.h"
#include "config/config_test_util.h"

namespace berth::host {
namespace {

using testing_util::FindWarning;
using testing_util::TempDir;
using Strings = std::vector<std::string>;

TEST(ConfigImportTest, RelativePathResolvesAgainstTheImportingFile) {
  TempDir dir;
  std::string a = dir.Write("etc/conf.d/a.toml", "root = \"/from/a\"\n");
  std::string main = dir.Write(
      "etc/config.toml", "version = 2\nimports = [\"conf.d/a.toml\"]\n");
  Result<Config> c = LoadConfig(main, nullptr);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->root, "/from/a");
  EXPECT_EQ(c->imports, Strings{a});
}

TEST(ConfigImportTest, GlobMatchesInOrderAndLaterFileWins) {
  TempDir dir;
  std::string a = dir.Write("conf.d/10-a.toml", "root = \"/a\"\nstate = \"/sa\"\n");
  std::string b = dir.Write("conf.d/20-b.toml", "root = \"/b\"\n");
  dir.Write("conf.d/30-c.txt", "root = \"/c\"\n");
  std::string main = dir.Write(
      "config.toml", "version = 2\nroot = \"/main\"\nimports = [\"conf.d/*.toml\"]\n");
  Result<Config> c = LoadConfig(main, nullptr);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->root, "/b");
  EXPECT_EQ(c->state, "/sa");
  EXPECT_EQ(c->imports, (Strings{a, b}));
}

TEST(ConfigImportTest, GlobMatchingNothingIsNotAnError) {
  TempDir dir;
  std::string main =
      dir.Write("config.toml", "version = 2\nimports = [\"none/*.toml\"]\n");
  Result<Config> c = LoadConfig(main, nullptr);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->imports.empty());
}

TEST(ConfigImportTest, ImportsAreRecursiveAndAbsolutePathsWork) {
  TempDir dir;
  std::string c_file = dir.Write("other/c.toml", "temp = \"/tmp/c\"\n");
  std::string b = dir.Write("more/b.toml", "state = \"/state/b\"\nimports = [\"" +
                                               c_file + "\"]\n");
  std::string a = dir.Write("conf.d/a.toml", "imports = [\"../more/b.toml\"]\n");
  std::string main =
      dir.Write("config.toml", "version = 2\nimports = [\"conf.d/a.toml\"]\n");
  Result<Config> c = LoadConfig(main, nullptr);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->state, "/state/b");
  EXPECT_EQ(c->temp, "/tmp/c");
  EXPECT_EQ(c->imports, (Strings{a, b, c_file}));
}

TEST(ConfigImportTest, TablesReplaceArraysAppendScalarsOverride) {
  TempDir dir;
  dir.Write("extra.toml", R"(
disabled_plugins = ["io.containerd.y.v1.y"]
[grpc]
  uid = 7
[plugins."io.containerd.p.v1.p"]
  c = 3
[proxy_plugins.snap]
  type = "snapshot"
  address = "/run/new.sock"
)");
  std::string main = dir.Write("config.toml", R"(version = 2
imports = ["extra.toml"]
disabled_plugins = ["io.containerd.x.v1.x"]
[grpc]
  address = "/run/main.sock"
  uid = 1
[plugins."io.containerd.p.v1.p"]
  a = 1
  b = 2
[plugins."io.containerd.q.v1.q"]
  kept = true
[proxy_plugins.snap]
  type = "snapshot"
  address = "/run/old.sock"
  capabilities = ["x"]
)");
  Result<Config> c = LoadConfig(main, nullptr);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->disabled_plugins,
            (Strings{"io.containerd.x.v1.x", "io.containerd.y.v1.y"}));
  EXPECT_EQ(c->grpc.address, "/run/main.sock");
  EXPECT_EQ(c->grpc.uid, 7);
  const toml::value& p = c->plugins.at("io.containerd.p.v1.p");
  EXPECT_FALSE(p.contains("a"));
  EXPECT_FALSE(p.contains("b"));
  EXPECT_EQ(p.at("c").as_integer(), 3);
  EXPECT_TRUE(c->plugins.at("io.containerd.q.v1.q").at("kept").as_boolean());
  const ProxyPluginConfig& snap = c->proxy_plugins.at("snap");
  EXPECT_EQ(snap.address, "/run/new.sock");
  EXPECT_TRUE(snap.capabilities.empty());
  EXPECT_EQ(snap.where.file, (dir.path() / "extra.toml").string());
}

TEST(ConfigImportTest, EachFileIsLoadedOnce) {
  TempDir dir;
  std::string a = dir.Write(
      "a.toml", "disabled_plugins = [\"from-a\"]\nimports = [\"config.toml\"]\n");
  std::string b = dir.Write(
      "b.toml", "disabled_plugins = [\"from-b\"]\nimports = [\"a.toml\", \"./a.toml\"]\n");
  std::string main = dir.Write(
      "config.toml", "version = 2\ndisabled_plugins = [\"main\"]\n"
                     "imports = [\"a.toml\", \"b.toml\", \"a.toml\"]\n");
  Result<Config> c = LoadConfig(main, nullptr);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->disabled_plugins, (Strings{"main", "from-a", "from-b"}));
  EXPECT_EQ(c->imports, (Strings{a, b}));
}

TEST(ConfigImportTest, MissingImportNamesWhereItWasWritten) {
  TempDir dir;
  std::string main = dir.Write(
      "config.toml", "version = 2\nimports = [\"missing.toml\"]\n");
  Result<Config> c = LoadConfig(main, nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kNotFound);
  EXPECT_NE(c.status().message().find(main + ":2:"), std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("import \"missing.toml\""),
            std::string::npos);
}

TEST(ConfigImportTest, ErrorsAndWarningsNameTheImportedFile) {
  TempDir dir;
  std::string bad = dir.Write("bad.toml", "\n\nroot = [\n");
  std::string main =
      dir.Write("config.toml", "version = 2\nimports = [\"bad.toml\"]\n");
  Result<Config> c = LoadConfig(main, nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind(bad + ":", 0), 0u)
      << c.status().message();

  std::string typo = dir.Write("typo.toml", "\nrooot = \"/x\"\n");
  std::string main2 =
      dir.Write("config2.toml", "version = 2\nimports = [\"typo.toml\"]\n");
  std::vector<ConfigWarning> warnings;
  Result<Config> c2 = LoadConfig(main2, &warnings);
  ASSERT_TRUE(c2.ok()) << c2.status().ToString();
  const ConfigWarning* w = FindWarning(warnings, "unknown key \"rooot\"");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->ToString(), typo + ":2: unknown key \"rooot\"");
}

TEST(ConfigImportTest, ImportedFileMayOmitVersionButNotSayOne) {
  TempDir dir;
  dir.Write("v1.toml", "version = 1\n");
  std::string main =
      dir.Write("config.toml", "version = 2\nimports = [\"v1.toml\"]\n");
  Result<Config> c = LoadConfig(main, nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("config version 1 is not supported"),
            std::string::npos);
}

}  // namespace
}  // namespace berth::host
