#include "config/config.h"

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/config_test_util.h"

namespace berth::host {
namespace {

using testing_util::FindWarning;
using testing_util::TempDir;

constexpr char kFull[] = R"(version = 2
root = "/var/lib/berth"
state = "/run/berth"
temp = "/tmp/berth"
plugin_dir = "/opt/berth/plugins"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs"]
required_plugins = ["io.containerd.content.v1.content"]
oom_score = -999
imports = []

[grpc]
  address = "/run/berth/berth.sock"
  tcp_address = ""
  tcp_tls_ca = ""
  tcp_tls_cert = ""
  tcp_tls_key = ""
  uid = 1
  gid = 2
  max_recv_message_size = 1024
  max_send_message_size = 2048

[ttrpc]
  address = "/run/berth/berth.sock.ttrpc"
  uid = 3
  gid = 4

[debug]
  address = "/run/berth/debug.sock"
  uid = 5
  gid = 6
  level = "debug"
  format = "json"

[metrics]
  address = "127.0.0.1:1338"
  grpc_histogram = true

[cgroup]
  path = "/berth"

[timeouts]
  "io.containerd.timeout.shim.cleanup" = "5s"

[stream_processors]
  [stream_processors."io.containerd.ocicrypt.decoder.v1.tar"]
    accepts = ["application/vnd.oci.image.layer.v1.tar+encrypted"]
    returns = "application/vnd.oci.image.layer.v1.tar"
    path = "ctd-decoder"

[plugins]
  [plugins."io.containerd.gc.v1.scheduler"]
    pause_threshold = 0.02
    deletion_threshold = 0
    schedule_delay = "0s"
  [plugins.cri]
    sandbox_image = "pause"

[proxy_plugins]
  [proxy_plugins.stargz]
    type = "snapshot"
    address = "/run/stargz.sock"
    platform = "linux/amd64"
    exports = { root = "/var/lib/stargz" }
    capabilities = ["remote"]
)";

Result<Config> Parse(const std::string& text, std::vector<ConfigWarning>* w) {
  return ParseConfig(text, "config.toml", w);
}

TEST(ConfigTest, TcpAddressIsWarnedAboutWhereItIsAndKept) {
  std::vector<ConfigWarning> warnings;
  Result<Config> c = Parse("version = 2\n[grpc]\n  tcp_address = \"127.0.0.1:7777\"\n", &warnings);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->grpc.tcp_address, "127.0.0.1:7777");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].where.line, 3);
  EXPECT_NE(warnings[0].message.find("grpc.tcp_address"), std::string::npos)
      << warnings[0].message;
  EXPECT_NE(warnings[0].message.find("nothing listens"), std::string::npos) << warnings[0].message;
}

TEST(ConfigTest, ReadsEveryKey) {
  std::vector<ConfigWarning> warnings;
  Result<Config> c = Parse(kFull, &warnings);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  // Only the keys berthd does not act on are warned about, each where it is.
  std::vector<std::string> warned;
  for (const ConfigWarning& w : warnings) warned.push_back(w.ToString());
  EXPECT_EQ(warned, (std::vector<std::string>{
                        "config.toml:39: key \"cgroup.path\" is not supported: berthd stays in "
                        "the cgroup it was started in",
                        "config.toml:41: table \"timeouts\" is not supported: berthd keeps its "
                        "own timeouts",
                        "config.toml:44: table \"stream_processors\" is not supported: layers "
                        "of other media types are refused at unpack"}));
  EXPECT_EQ(c->metrics.address, "127.0.0.1:1338");
  EXPECT_TRUE(c->metrics.grpc_histogram);
  EXPECT_EQ(c->version, 2);
  EXPECT_EQ(c->root, "/var/lib/berth");
  EXPECT_EQ(c->state, "/run/berth");
  EXPECT_EQ(c->temp, "/tmp/berth");
  EXPECT_EQ(c->plugin_dir, "/opt/berth/plugins");
  EXPECT_EQ(c->disabled_plugins,
            std::vector<std::string>{"io.containerd.snapshotter.v1.btrfs"});
  EXPECT_EQ(c->required_plugins,
            std::vector<std::string>{"io.containerd.content.v1.content"});
  EXPECT_EQ(c->oom_score, -999);
  EXPECT_TRUE(c->imports.empty());
  EXPECT_EQ(c->grpc.address, "/run/berth/berth.sock");
  EXPECT_EQ(c->grpc.uid, 1);
  EXPECT_EQ(c->grpc.gid, 2);
  EXPECT_EQ(c->grpc.max_recv_message_size, 1024);
  EXPECT_EQ(c->grpc.max_send_message_size, 2048);
  EXPECT_EQ(c->ttrpc.address, "/run/berth/berth.sock.ttrpc");
  EXPECT_EQ(c->ttrpc.uid, 3);
  EXPECT_EQ(c->ttrpc.gid, 4);
  EXPECT_EQ(c->debug.address, "/run/berth/debug.sock");
  EXPECT_EQ(c->debug.uid, 5);
  EXPECT_EQ(c->debug.gid, 6);
  EXPECT_EQ(c->debug.level, "debug");
  EXPECT_EQ(c->debug.format, "json");
  EXPECT_EQ(c->source, "config.toml");

  ASSERT_EQ(c->plugins.size(), 2u);
  const toml::value& gc = c->plugins.at("io.containerd.gc.v1.scheduler");
  EXPECT_DOUBLE_EQ(gc.at("pause_threshold").as_floating(), 0.02);
  EXPECT_EQ(gc.location().line(), 51u);
  EXPECT_EQ(c->plugins.at("cri").at("sandbox_image").as_string().str, "pause");

  ASSERT_EQ(c->proxy_plugins.size(), 1u);
  const ProxyPluginConfig& p = c->proxy_plugins.at("stargz");
  EXPECT_EQ(p.type, "snapshot");
  EXPECT_EQ(p.address, "/run/stargz.sock");
  EXPECT_EQ(p.platform, "linux/amd64");
  EXPECT_EQ(p.exports, (std::map<std::string, std::string>{
                           {"root", "/var/lib/stargz"}}));
  EXPECT_EQ(p.capabilities, std::vector<std::string>{"remote"});
  EXPECT_EQ(p.where.ToString(), "config.toml:59:3");
}

TEST(ConfigTest, KeysLeftOutKeepTheirDefaults) {
  Result<Config> c = Parse("version = 2\n", nullptr);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->grpc.max_recv_message_size, 16 << 20);
  EXPECT_EQ(c->debug.level, "info");
  EXPECT_EQ(c->debug.format, "text");
  EXPECT_TRUE(c->root.empty());
}

TEST(ConfigTest, MalformedTomlNamesFileLineAndColumn) {
  Result<Config> c = Parse("version = 2\nroot = = 3\n", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c.status().message().rfind("config.toml:2:8: invalid TOML: ", 0), 0u)
      << c.status().message();
  // One line, not toml11's multi-line report.
  EXPECT_EQ(c.status().message().find('\n'), std::string::npos);

  Result<Config> twice = Parse("version = 2\n[grpc]\n[debug]\n[grpc]\n", nullptr);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.status().message().rfind("config.toml:4:1: invalid TOML: ", 0),
            0u)
      << twice.status().message();
  EXPECT_NE(twice.status().message().find("grpc"), std::string::npos);
}

TEST(ConfigTest, MalformedFileOnDiskNamesItsPath) {
  TempDir dir;
  std::string path = dir.Write("bad.toml", "version = 2\n[grpc\n");
  Result<Config> c = LoadConfig(path, nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind(path + ":2:1: invalid TOML", 0), 0u)
      << c.status().message();
}

TEST(ConfigTest, WrongTypeNamesLineAndKey) {
  Result<Config> c = Parse("version = 2\nroot = 5\n", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "config.toml:2:8: key \"root\": expected string, got integer");

  Result<Config> nested =
      Parse("version = 2\n[grpc]\n  uid = \"root\"\n", nullptr);
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.status().message().find("config.toml:3:"), std::string::npos);
  EXPECT_NE(nested.status().message().find("key \"grpc.uid\""), std::string::npos)
      << nested.status().message();

  Result<Config> list =
      Parse("version = 2\ndisabled_plugins = [\"a\", 1]\n", nullptr);
  ASSERT_FALSE(list.ok());
  EXPECT_NE(list.status().message().find("expected array of strings"),
            std::string::npos);

  Result<Config> section = Parse("version = 2\ngrpc = 1\n", nullptr);
  ASSERT_FALSE(section.ok());
  EXPECT_NE(section.status().message().find("key \"grpc\": expected table"),
            std::string::npos);

  Result<Config> plugin =
      Parse("version = 2\n[plugins]\n  \"io.containerd.x.v1.y\" = 3\n", nullptr);
  ASSERT_FALSE(plugin.ok());
  EXPECT_NE(plugin.status().message().find("config.toml:3:"), std::string::npos);
}

TEST(ConfigTest, BadLogLevelIsRefused) {
  Result<Config> c = Parse("version = 2\n[debug]\nlevel = \"loud\"\n", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("config.toml:3:"), std::string::npos);
  EXPECT_NE(c.status().message().find("\"loud\" is not one of"),
            std::string::npos);
}

TEST(ConfigTest, VersionOneOrMissingIsRefusedWithAHint) {
  Result<Config> missing = Parse("root = \"/x\"\n", nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find(
                "config.toml: config version 1 is not supported"),
            std::string::npos)
      << missing.status().message();
  EXPECT_NE(missing.status().message().find("set version = 2 at the top"),
            std::string::npos);

  Result<Config> one = Parse("root = \"/x\"\nversion = 1\n", nullptr);
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.status().message(),
            "config.toml:2:11: config version 1 is not supported; set version "
            "= 2 at the top of the file (the containerd v2 schema)");
}

TEST(ConfigTest, NewerVersionIsRefused) {
  Result<Config> three = Parse("version = 3\n", nullptr);
  ASSERT_FALSE(three.ok());
  EXPECT_NE(three.status().message().find("config version 3 is not supported"),
            std::string::npos);
  Result<Config> text = Parse("version = \"2\"\n", nullptr);
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("key \"version\": expected integer"),
            std::string::npos);
}

TEST(ConfigTest, UnknownKeysWarnWithTheirLine) {
  std::vector<ConfigWarning> warnings;
  Result<Config> c = Parse(
      "version = 2\n"
      "rot = \"/x\"\n"
      "[grcp]\n"
      "  address = \"a\"\n"
      "[grpc]\n"
      "  adress = \"b\"\n"
      "[proxy_plugins.p]\n"
      "  type = \"snapshot\"\n"
      "  address = \"/s\"\n"
      "  typo = 1\n",
      &warnings);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(warnings.size(), 4u);
  EXPECT_EQ(warnings[0].ToString(), "config.toml:2: unknown key \"rot\"");
  EXPECT_EQ(warnings[1].ToString(), "config.toml:3: unknown key \"grcp\"");
  EXPECT_EQ(warnings[2].ToString(), "config.toml:6: unknown key \"grpc.adress\"");
  EXPECT_EQ(warnings[3].message, "unknown key \"proxy_plugins.p.typo\"");
  EXPECT_EQ(warnings[3].where.line, 10);
  EXPECT_TRUE(c->root.empty());
}

TEST(ConfigTest, ProxyPluginNeedsTypeAndAddress) {
  Result<Config> c =
      Parse("version = 2\n[proxy_plugins.p]\n  type = \"snapshot\"\n", nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("config.toml:2:1: proxy_plugins.p: "
                                      "\"address\" is required"),
            std::string::npos)
      << c.status().message();
}

TEST(ConfigTest, ProxyPluginTimeoutIsAPositiveDuration) {
  const std::string head = "version = 2\n[proxy_plugins.p]\n  type = \"snapshot\"\n"
                           "  address = \"/s\"\n";
  Result<Config> c = Parse(head + "  timeout = \"1m30s\"\n", nullptr);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->proxy_plugins.at("p").timeout.value, std::chrono::seconds(90));
  Result<Config> unset = Parse(head, nullptr);
  ASSERT_TRUE(unset.ok()) << unset.status().ToString();
  EXPECT_EQ(unset->proxy_plugins.at("p").timeout.value.count(), 0);
  for (const char* bad : {"\"soon\"", "\"0s\"", "-5", "true"}) {
    Result<Config> b = Parse(head + "  timeout = " + bad + "\n", nullptr);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_EQ(b.status().code(), Code::kInvalidArgument);
    EXPECT_NE(b.status().message().find("config.toml:5:"), std::string::npos)
        << b.status().message();
    EXPECT_NE(b.status().message().find("proxy_plugins.p.timeout"), std::string::npos)
        << b.status().message();
  }
}

TEST(ConfigTest, MissingFileIsNotFound) {
  TempDir dir;
  Result<Config> c = LoadConfig((dir.path() / "none.toml").string(), nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kNotFound);
}

TEST(ConfigTest, UnknownPluginWarningsNameKeyAndLine) {
  Result<Config> c = Parse(
      "version = 2\n"
      "[plugins.\"io.containerd.gc.v1.scheduler\"]\n"
      "[plugins.\"io.containerd.gc.v1.shceduler\"]\n"
      "[plugins.cri]\n",
      nullptr);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::vector<ConfigWarning> w =
      UnknownPluginWarnings(*c, {"io.containerd.gc.v1.scheduler"});
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].ToString(), "config.toml:4: unknown plugin \"cri\"");
  EXPECT_EQ(w[1].ToString(),
            "config.toml:3: unknown plugin \"io.containerd.gc.v1.shceduler\"");
  EXPECT_TRUE(UnknownPluginWarnings(*c, {"io.containerd.gc.v1.scheduler",
                                         "io.containerd.gc.v1.shceduler", "cri"})
                  .empty());
}

TEST(ConfigTest, EmbeddedDefaultLivesUnderBase) {
  Config c = EmbeddedDefault("relative/base", "/usr/lib/berth/plugins");
  std::filesystem::path base =
      (std::filesystem::current_path() / "relative/base").lexically_normal();
  EXPECT_EQ(c.version, 2);
  EXPECT_EQ(c.root, (base / "root").string());
  EXPECT_EQ(c.state, (base / "state").string());
  EXPECT_EQ(c.grpc.address, (base / "berthd.sock").string());
  EXPECT_EQ(c.ttrpc.address, "");
  EXPECT_EQ(c.plugin_dir, "");
  EXPECT_EQ(c.builtin_plugin_dirs,
            std::vector<std::string>{"/usr/lib/berth/plugins"});
  EXPECT_EQ(c.debug.level, "info");
  EXPECT_EQ(c.debug.format, "text");
  EXPECT_TRUE(c.source.empty());
}

TEST(ConfigTest, LoadOverBaseKeepsWhatTheFileLeavesOut) {
  TempDir dir;
  std::string path = dir.Write("config.toml",
                               "version = 2\nstate = \"/run/x\"\n"
                               "disabled_plugins = [\"b\"]\n");
  Config base = EmbeddedDefault(dir.path().string(), "/own");
  base.disabled_plugins = {"a"};
  Result<Config> c = LoadConfigOver(base, path, nullptr);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->root, base.root);
  EXPECT_EQ(c->state, "/run/x");
  EXPECT_EQ(c->disabled_plugins, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c->builtin_plugin_dirs, std::vector<std::string>{"/own"});
  EXPECT_EQ(c->source, path);
}

}  // namespace
}  // namespace berth::host
