#include "daemon.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "build_info.h"

namespace berth::host {
namespace {

namespace fs = std::filesystem;

class DaemonConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-daemon-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(DaemonConfigTest, ParsesOptionsAndSubcommand) {
  const char* argv[] = {"berthd",      "-c",     "/etc/x.toml", "--address",
                        "/run/b.sock", "--root", "/r",          "--state",
                        "/s",          "-l",     "debug",       "config",
                        "dump"};
  Result<DaemonFlags> flags = ParseFlags(13, argv);
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->config_path, "/etc/x.toml");
  EXPECT_EQ(flags->address, "/run/b.sock");
  EXPECT_EQ(flags->root, "/r");
  EXPECT_EQ(flags->state, "/s");
  EXPECT_EQ(flags->log_level, "debug");
  EXPECT_EQ(flags->command, (std::vector<std::string>{"config", "dump"}));
  EXPECT_FALSE(flags->help);

  const char* bad[] = {"berthd", "--no-such-flag"};
  EXPECT_EQ(ParseFlags(2, bad).status().code(), Code::kInvalidArgument);
  const char* missing[] = {"berthd", "--root"};
  EXPECT_EQ(ParseFlags(2, missing).status().code(), Code::kInvalidArgument);
}

TEST_F(DaemonConfigTest, VersionLineNamesTheVersion) {
  EXPECT_EQ(VersionLine(),
            std::string("berthd github.com/berth/berth ") + kVersion);
}

TEST_F(DaemonConfigTest, WithoutFileUsesEmbeddedDefaultAndFlags) {
  DaemonFlags flags;
  flags.root = dir_ + "/root";
  std::vector<ConfigWarning> warnings;
  Result<Config> config =
      LoadEffectiveConfig(flags, &warnings, dir_ + "/no-system-config.toml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->root, dir_ + "/root");
  Config def = DefaultConfig();
  EXPECT_EQ(config->state, def.state);
  EXPECT_EQ(config->grpc.address, def.grpc.address);
  EXPECT_TRUE(fs::path(config->grpc.address).is_absolute());
  EXPECT_EQ(config->builtin_plugin_dirs,
            std::vector<std::string>{OwnPluginDir()});
}

TEST_F(DaemonConfigTest, FileIsReadOverSystemDefaultThenFlags) {
  std::string path =
      Write("config.toml", "version = 2\nroot = \"" + dir_ +
                               "/r\"\n"
                               "[grpc]\n  max_recv_message_size = 1024\n");
  DaemonFlags flags;
  flags.config_path = path;
  flags.address = dir_ + "/x.sock";
  std::vector<ConfigWarning> warnings;
  Result<Config> config = LoadEffectiveConfig(flags, &warnings, "/nonexistent");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->root, dir_ + "/r");
  EXPECT_EQ(config->state, "/run/berth");  // from the system default
  EXPECT_EQ(config->grpc.address, dir_ + "/x.sock");
  EXPECT_EQ(config->grpc.max_recv_message_size, 1024);
  EXPECT_EQ(PluginDirs(*config),
            (std::vector<std::string>{dir_ + "/r/plugins", OwnPluginDir()}));
}

TEST_F(DaemonConfigTest, SystemConfigIsUsedWhenPresent) {
  std::string path =
      Write("system.toml", "version = 2\nstate = \"" + dir_ + "/st\"\n");
  std::vector<ConfigWarning> warnings;
  Result<Config> config = LoadEffectiveConfig(DaemonFlags{}, &warnings, path);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->state, dir_ + "/st");
  EXPECT_EQ(config->source, path);
}

TEST_F(DaemonConfigTest, TtrpcAddressFromItsTableOrBesideGrpc) {
  // [ttrpc] address given: it is served as written, owned as configured.
  const std::string text = "version = 2\n"
                           "root = \"" + dir_ + "/r\"\n"
                           "[grpc]\n"
                           "  address = \"" + dir_ + "/g.sock\"\n"
                           "  uid = 7\n"
                           "[ttrpc]\n"
                           "  address = \"" + dir_ + "/t.sock\"\n"
                           "  gid = 9\n";
  std::string path = Write("config.toml", text);
  DaemonFlags flags;
  flags.config_path = path;
  std::vector<ConfigWarning> warnings;
  Result<Config> config = LoadEffectiveConfig(flags, &warnings, "/nonexistent");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  TtrpcConfig ttrpc = EffectiveTtrpc(*config);
  EXPECT_EQ(ttrpc.address, dir_ + "/t.sock");
  EXPECT_EQ(ttrpc.uid, 0);
  EXPECT_EQ(ttrpc.gid, 9);

  // No [ttrpc] address: "<grpc address>.ttrpc" with gRPC's owner, as
  // containerd; --address moves it along.
  config->ttrpc = TtrpcConfig{};
  config->grpc.address = dir_ + "/flag.sock";
  ttrpc = EffectiveTtrpc(*config);
  EXPECT_EQ(ttrpc.address, dir_ + "/flag.sock.ttrpc");
  EXPECT_EQ(ttrpc.uid, 7);
  EXPECT_EQ(ttrpc.gid, 0);

  // A relative [ttrpc] address is made absolute.
  config->ttrpc.address = "rel/t.sock";
  EXPECT_EQ(EffectiveTtrpc(*config).address, (fs::current_path() / "rel/t.sock").string());
}

TEST_F(DaemonConfigTest, MissingOrMalformedFileIsAnError) {
  DaemonFlags flags;
  flags.config_path = dir_ + "/missing.toml";
  std::vector<ConfigWarning> warnings;
  EXPECT_FALSE(LoadEffectiveConfig(flags, &warnings, "/nonexistent").ok());

  flags.config_path = Write("bad.toml", "version = 2\n[grpc]\naddress = 5\n");
  Result<Config> bad = LoadEffectiveConfig(flags, &warnings, "/nonexistent");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.toml:3:"), std::string::npos)
      << bad.status().message();
}

TEST_F(DaemonConfigTest, DumpMergesOperatorTablesAndWarnsAboutUnknownOnes) {
  std::string path =
      Write("config.toml", "version = 2\nroot = \"" + dir_ +
                               "/r\"\n"
                               "[plugins.\"io.example.v1.none\"]\n  a = 1\n");
  DaemonFlags flags;
  flags.config_path = path;
  std::vector<ConfigWarning> warnings;
  Result<Config> config = LoadEffectiveConfig(flags, &warnings, "/nonexistent");
  ASSERT_TRUE(config.ok());
  Result<std::string> text = RenderEffectiveConfig(*config, &warnings);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_NE(text->find("root = \"" + dir_ + "/r\""), std::string::npos)
      << *text;
  bool warned = false;
  for (const ConfigWarning& w : warnings) {
    warned |= w.message == "unknown plugin \"io.example.v1.none\"";
  }
  EXPECT_TRUE(warned);
}

}  // namespace
}  // namespace berth::host
