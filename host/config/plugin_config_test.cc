// Typed plugin configs decoded from and encoded to TOML, and RenderConfig.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/config.h"
#include "config/config_test_util.h"

namespace berth::host {
namespace {

using namespace std::chrono_literals;
using testing_util::FindWarning;
using testing_util::TempDir;

struct TestPluginConfig : PluginConfig {
  bool sync = false;
  std::int64_t count = 3;
  double ratio = 0.5;
  std::string path = "/default";
  Duration delay{100ms};
  std::vector<std::string> names = {"x"};
  std::map<std::string, std::string> labels = {{"k", "v"}};

  void Describe(ConfigFields& f) override {
    f.Field("sync", sync);
    f.Field("count", count);
    f.Field("ratio", ratio);
    f.Field("path", path);
    f.Field("delay", delay);
    f.Field("names", names);
    f.Field("labels", labels);
  }
};

// The table of [plugins."io.containerd.test.v1.t"] in `body`.
toml::value PluginTable(const std::string& body) {
  Result<Config> c = ParseConfig(
      "version = 2\n[plugins.\"io.containerd.test.v1.t\"]\n" + body, "config.toml",
      nullptr);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  if (!c.ok() || !c->plugins.count("io.containerd.test.v1.t")) return {};
  return c->plugins.at("io.containerd.test.v1.t");
}

TEST(ConfigPluginTest, DecodesEveryFieldKind) {
  TestPluginConfig cfg;
  std::vector<ConfigWarning> warnings;
  Status s = DecodePluginConfig(PluginTable(R"(
sync = true
count = 42
ratio = 2
path = "/data"
delay = "1m30s"
names = ["a", "b"]
labels = { x = "1", y = "2" }
)"),
                                cfg, &warnings);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(warnings.empty());
  EXPECT_TRUE(cfg.sync);
  EXPECT_EQ(cfg.count, 42);
  EXPECT_DOUBLE_EQ(cfg.ratio, 2.0);  // an integer is accepted for a float
  EXPECT_EQ(cfg.path, "/data");
  EXPECT_EQ(cfg.delay.value, 90s);
  EXPECT_EQ(cfg.names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(cfg.labels,
            (std::map<std::string, std::string>{{"x", "1"}, {"y", "2"}}));
}

TEST(ConfigPluginTest, AbsentKeysKeepDefaults) {
  TestPluginConfig cfg;
  Status s = DecodePluginConfig(PluginTable("count = 9\n"), cfg, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(cfg.count, 9);
  EXPECT_FALSE(cfg.sync);
  EXPECT_DOUBLE_EQ(cfg.ratio, 0.5);
  EXPECT_EQ(cfg.path, "/default");
  EXPECT_EQ(cfg.delay.value, 100ms);
  EXPECT_EQ(cfg.names, std::vector<std::string>{"x"});

  TestPluginConfig untouched;
  ASSERT_TRUE(DecodePluginConfig(toml::value(), untouched, nullptr).ok());
  EXPECT_EQ(untouched.count, 3);
}

TEST(ConfigPluginTest, DurationFromIntegerIsNanoseconds) {
  TestPluginConfig cfg;
  ASSERT_TRUE(
      DecodePluginConfig(PluginTable("delay = 1500000000\n"), cfg, nullptr).ok());
  EXPECT_EQ(cfg.delay.value, 1500ms);
}

TEST(ConfigPluginTest, UnknownKeysWarnWithLine) {
  TestPluginConfig cfg;
  std::vector<ConfigWarning> warnings;
  Status s = DecodePluginConfig(PluginTable("count = 1\ncuont = 2\n"), cfg,
                                &warnings);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].ToString(),
            "config.toml:4: unknown plugin config key \"cuont\"");
}

TEST(ConfigPluginTest, WrongTypesAreRefusedWithLineAndKey) {
  struct Case {
    std::string body;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"sync = \"yes\"\n", "plugin config key \"sync\": expected boolean"},
           {"count = 1.5\n", "plugin config key \"count\": expected integer"},
           {"ratio = \"x\"\n", "plugin config key \"ratio\": expected float"},
           {"path = 1\n", "plugin config key \"path\": expected string"},
           {"delay = \"soon\"\n", "plugin config key \"delay\": expected duration"},
           {"names = [1]\n", "plugin config key \"names\": expected array of strings"},
           {"labels = { a = 1 }\n",
            "plugin config key \"labels\": expected table of strings"},
       }) {
    TestPluginConfig cfg;
    Status s = DecodePluginConfig(PluginTable("\n" + c.body), cfg, nullptr);
    ASSERT_FALSE(s.ok()) << c.body;
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_EQ(s.message().rfind("config.toml:4: " + c.expected, 0), 0u)
        << s.message();
  }
}

TEST(ConfigPluginTest, EncodeWritesDefaultsThatDecodeBack) {
  TestPluginConfig cfg;
  cfg.delay.value = 90s;
  toml::value table = EncodePluginConfig(cfg);
  ASSERT_TRUE(table.is_table());
  EXPECT_FALSE(table.at("sync").as_boolean());
  EXPECT_EQ(table.at("count").as_integer(), 3);
  EXPECT_DOUBLE_EQ(table.at("ratio").as_floating(), 0.5);
  EXPECT_EQ(table.at("path").as_string().str, "/default");
  EXPECT_EQ(table.at("delay").as_string().str, "1m30s");
  EXPECT_EQ(table.at("names").as_array().size(), 1u);
  EXPECT_EQ(table.at("labels").at("k").as_string().str, "v");

  TestPluginConfig back;
  back.count = 0;
  back.path.clear();
  std::vector<ConfigWarning> warnings;
  ASSERT_TRUE(DecodePluginConfig(table, back, &warnings).ok());
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(back.count, 3);
  EXPECT_EQ(back.path, "/default");
  EXPECT_EQ(back.delay.value, 90s);
}

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
