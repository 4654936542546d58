// RenderConfig: the daemon's config rendered as TOML, with plugin tables.
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_plugin_config.h"

#include "config/config.h"
#include "config/config_test_util.h"

namespace berth::host {
namespace {

using namespace std::chrono_literals;
using testing_util::TempDir;

using test_support::TestPluginConfig;

TEST(ConfigRenderTest, RenderedConfigParsesBackTheSame) {
  TempDir dir;
  Config c = EmbeddedDefault(dir.path().string(), "/own/plugins");
  c.temp = "/tmp/with \"quotes\"";
  c.oom_score = -500;
  c.disabled_plugins = {"io.containerd.snapshotter.v1.btrfs"};
  c.required_plugins = {"io.containerd.content.v1.content"};
  c.grpc.uid = 10;
  c.grpc.max_recv_message_size = 1 << 20;
  c.ttrpc.gid = 11;
  c.debug.level = "debug";
  c.debug.format = "json";
  ProxyPluginConfig proxy;
  proxy.type = "snapshot";
  proxy.address = "/run/p.sock";
  proxy.platform = "linux/amd64";
  proxy.exports = {{"root", "/x"}, {"a.b", "y"}};
  proxy.capabilities = {"c1", "c2"};
  proxy.timeout.value = std::chrono::seconds(5);
  c.proxy_plugins["p"] = proxy;
  TestPluginConfig plugin;
  std::map<std::string, toml::value> tables = {
      {"io.containerd.test.v1.t", EncodePluginConfig(plugin)},
      {"io.containerd.empty.v1.e", toml::table{}}};

  std::string text = RenderConfig(c, tables);
  EXPECT_EQ(text.rfind("version = 2\n", 0), 0u) << text;
  EXPECT_NE(text.find("\n  [plugins.\"io.containerd.empty.v1.e\"]\n"),
            std::string::npos)
      << text;
  EXPECT_LT(text.find("io.containerd.empty.v1.e"),
            text.find("io.containerd.test.v1.t"));

  std::vector<ConfigWarning> warnings;
  Result<Config> back = ParseConfig(text, "rendered.toml", &warnings);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << text;
  EXPECT_TRUE(warnings.empty()) << warnings.front().ToString();
  EXPECT_EQ(back->root, c.root);
  EXPECT_EQ(back->state, c.state);
  EXPECT_EQ(back->temp, c.temp);
  EXPECT_EQ(back->plugin_dir, "");
  EXPECT_EQ(back->oom_score, -500);
  EXPECT_EQ(back->disabled_plugins, c.disabled_plugins);
  EXPECT_EQ(back->required_plugins, c.required_plugins);
  EXPECT_EQ(back->grpc.address, c.grpc.address);
  EXPECT_EQ(back->grpc.uid, 10);
  EXPECT_EQ(back->grpc.max_recv_message_size, 1 << 20);
  EXPECT_EQ(back->ttrpc.gid, 11);
  EXPECT_EQ(back->debug.level, "debug");
  EXPECT_EQ(back->debug.format, "json");
  ASSERT_EQ(back->proxy_plugins.count("p"), 1u);
  EXPECT_EQ(back->proxy_plugins.at("p").exports, proxy.exports);
  EXPECT_EQ(back->proxy_plugins.at("p").capabilities, proxy.capabilities);
  EXPECT_EQ(back->proxy_plugins.at("p").platform, "linux/amd64");
  EXPECT_EQ(back->proxy_plugins.at("p").timeout.value, std::chrono::seconds(5));
  ASSERT_EQ(back->plugins.size(), 2u);

  TestPluginConfig decoded;
  decoded.count = 0;
  decoded.delay.value = 0s;
  ASSERT_TRUE(DecodePluginConfig(back->plugins.at("io.containerd.test.v1.t"),
                                 decoded, nullptr)
                  .ok());
  EXPECT_EQ(decoded.count, 3);
  EXPECT_EQ(decoded.delay.value, 100ms);
  EXPECT_EQ(decoded.labels, plugin.labels);

  // Rendering the parsed config again gives the same text.
  EXPECT_EQ(RenderConfig(*back, {}), text);
}

TEST(ConfigRenderTest, PluginTablesReplaceTheConfigsOwn) {
  Result<Config> c = ParseConfig(
      "version = 2\n[plugins.\"io.containerd.test.v1.t\"]\n  old = 1\n",
      "config.toml", nullptr);
  ASSERT_TRUE(c.ok());
  toml::value replacement = toml::table{{"new", toml::value(2)}};
  std::string text =
      RenderConfig(*c, {{"io.containerd.test.v1.t", replacement}});
  EXPECT_EQ(text.find("old = 1"), std::string::npos) << text;
  EXPECT_NE(text.find("new = 2"), std::string::npos) << text;
}

}  // namespace
}  // namespace berth::host
