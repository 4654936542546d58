// Typed plugin configs decoded from and encoded to TOML.
#include "berth/runner/plugin_config.h"

#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_plugin_config.h"

namespace berth::runner {
namespace {

using namespace std::chrono_literals;

using test_support::TestPluginConfig;

// The table of [plugins."io.containerd.test.v1.t"] in `body`, as read from
// "config.toml" (body starts on line 3).
toml::value PluginTable(const std::string& body) {
  std::istringstream in("version = 2\n[plugins.\"io.containerd.test.v1.t\"]\n" + body);
  toml::value root;
  try {
    root = toml::parse(in, "config.toml");
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
    return {};
  }
  return root.at("plugins").at("io.containerd.test.v1.t");
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

}  // namespace
}  // namespace berth::runner
