// berthd's configuration at the process edge: malformed files are refused
// with file and line, version 1 with a hint, and `berthd config` prints TOML
// that reads back as version 2.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <toml.hpp>

#include "berthd_process.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

// Runs berthd on `config_text` (in a fresh folder, as its working folder) and
// expects it to refuse to start.
CommandResult RunOnConfig(const TempDir& dir, const std::string& config_text) {
  const std::string path = dir.Join("config.toml");
  EXPECT_TRUE(WriteFile(path, config_text));
  ProcessOptions options;
  options.cwd = dir.path();
  return RunCommand({BerthdPath(), "--config", path}, "", 60s, options);
}

std::string RootedConfig(const TempDir& dir) {
  return "version = 2\n"
         "root = \"" +
         dir.Join("root") +
         "\"\n"
         "state = \"" +
         dir.Join("state") + "\"\n";
}

TEST(ConfigTest, MalformedTomlNamesFileAndLine) {
  TempDir dir("berth-config-");
  CommandResult run =
      RunOnConfig(dir, RootedConfig(dir) + "[grpc\naddress = 1\n");
  EXPECT_FALSE(run.timed_out) << run.Describe();
  EXPECT_NE(run.exit_code, 0) << run.Describe();
  EXPECT_TRUE(Contains(run.err, dir.Join("config.toml") + ":4"));
}

TEST(ConfigTest, WrongTypeNamesFileAndLine) {
  TempDir dir("berth-config-");
  CommandResult run =
      RunOnConfig(dir, RootedConfig(dir) + "\n[grpc]\n  address = 42\n");
  EXPECT_FALSE(run.timed_out) << run.Describe();
  EXPECT_NE(run.exit_code, 0) << run.Describe();
  EXPECT_TRUE(Contains(run.err, dir.Join("config.toml") + ":6"));
}

TEST(ConfigTest, VersionOneIsRefusedWithHint) {
  TempDir dir("berth-config-");
  CommandResult run =
      RunOnConfig(dir, "version = 1\nroot = \"" + dir.Join("root") + "\"\n");
  EXPECT_FALSE(run.timed_out) << run.Describe();
  EXPECT_NE(run.exit_code, 0) << run.Describe();
  EXPECT_TRUE(Contains(run.err, "version = 2"));
}

toml::value ParseToml(const std::string& text) {
  std::istringstream in(text);
  return toml::parse(in, "berthd-output");
}

TEST(ConfigTest, DefaultIsVersionTwoToml) {
  CommandResult run = RunCommand({BerthdPath(), "config", "default"});
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  toml::value config;
  ASSERT_NO_THROW(config = ParseToml(run.out)) << run.out;
  EXPECT_EQ(toml::find<std::int64_t>(config, "version"), 2);
  EXPECT_FALSE(toml::find<std::string>(config, "root").empty());
}

TEST(ConfigTest, DumpShowsTheEffectiveConfig) {
  BerthdOptions options;
  options.extra_toml = "disabled_plugins = [\"x.y\"]\n";
  BerthdProcess berthd(options);
  CommandResult run = RunCommand(
      {BerthdPath(), "--config", berthd.config_path(), "config", "dump"});
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  toml::value config;
  ASSERT_NO_THROW(config = ParseToml(run.out)) << run.out;
  EXPECT_EQ(toml::find<std::int64_t>(config, "version"), 2);
  EXPECT_EQ(toml::find<std::string>(config, "root"), berthd.root());
  EXPECT_EQ(toml::find<std::string>(config, "state"), berthd.state());
  EXPECT_EQ(toml::find<std::string>(config, "grpc", "address"),
            berthd.socket());
  EXPECT_EQ(toml::find<std::vector<std::string>>(config, "disabled_plugins"),
            std::vector<std::string>{"x.y"});
}

}  // namespace
}  // namespace berth::test
