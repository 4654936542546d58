// Which plugins berthd runs, as the stock ctr sees them: built-ins, every
// deliberately broken library, a configured good plugin, disabled and
// required plugins.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "berthd_process.h"
#include "fixtures.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

constexpr char kHello[] = "io.containerd.internal.v1.hello";
constexpr char kLibraryType[] = "io.berth.library.v1.";

std::string Trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

// `plugins ls --detailed` (ctr's or berthctl's) as "<type>.<id>" → the
// error message ("" for a plugin without one).
std::map<std::string, std::string> ParseDetailedErrors(const std::string& out) {
  std::map<std::string, std::string> messages;
  std::istringstream lines(out);
  std::string line, type, id;
  while (std::getline(lines, line)) {
    std::string text = Trim(line);
    auto value_after = [&](const std::string& label) {
      return Trim(text.substr(label.size()));
    };
    if (text.rfind("Type:", 0) == 0) type = value_after("Type:");
    if (text.rfind("ID:", 0) == 0) {
      id = value_after("ID:");
      messages[type + "." + id] = "";
    }
    if (text.rfind("Message:", 0) == 0) {
      messages[type + "." + id] = value_after("Message:");
    }
  }
  return messages;
}

std::map<std::string, std::string> PluginStatuses(const BerthdProcess& berthd) {
  CommandResult ls = berthd.Ctr({"plugins", "ls"});
  EXPECT_EQ(ls.exit_code, 0) << ls.Describe();
  return ParsePluginTable(ls.out);
}

TEST(BuiltinPluginsTest, ListedOkByCtr) {
  BerthdProcess berthd;
  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  auto statuses = PluginStatuses(berthd);
  for (const char* uri :
       {"io.containerd.grpc.v1.introspection", "io.containerd.grpc.v1.version",
        "io.containerd.grpc.v1.healthcheck"}) {
    EXPECT_EQ(statuses[uri], "ok") << uri;
  }
}

TEST(BuiltinPluginsTest, CtrVersionShowsBerthdVersion) {
  BerthdProcess berthd;
  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  CommandResult version = berthd.Ctr({"version"});
  ASSERT_EQ(version.exit_code, 0) << version.Describe();
  const auto server_at = version.out.find("Server:");
  ASSERT_NE(server_at, std::string::npos) << version.out;
  std::string server = version.out.substr(server_at);
  EXPECT_TRUE(Contains(server, std::string("Version:  ") + BERTH_VERSION));
  EXPECT_TRUE(Contains(server, "UUID:"));

  CommandResult own = RunCommand({BerthdPath(), "--version"});
  ASSERT_EQ(own.exit_code, 0) << own.Describe();
  EXPECT_TRUE(Contains(own.out, BERTH_VERSION));
}

// berthd on a copy of every broken fixture library.
class BrokenPluginsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(CopyLibraries(FixtureDir("broken"), plugins_.path()));
  }
  BerthdOptions Options(const std::string& extra_toml = "") const {
    BerthdOptions options;
    options.plugin_dir = plugins_.path();
    options.extra_toml = extra_toml;
    return options;
  }

  TempDir plugins_{"berth-broken-"};
};

TEST_F(BrokenPluginsTest, DaemonServesAndCtrShowsEachFailure) {
  BerthdProcess berthd(Options());
  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  auto statuses = PluginStatuses(berthd);
  for (const char* stem :
       {"not-a-library", "no-entry-point", "bad-magic", "abi-major",
        "compiler-abi", "register-throws", "dup-b"}) {
    EXPECT_EQ(statuses[kLibraryType + std::string(stem)], "error") << stem;
  }
  EXPECT_EQ(statuses["io.containerd.internal.v1.init-throws"], "error");
  EXPECT_EQ(statuses["io.containerd.internal.v1.init-skips"], "skip");
  EXPECT_EQ(statuses["io.containerd.internal.v1.needs-missing"], "error");
  EXPECT_EQ(statuses["io.containerd.internal.v1.dup"], "ok");
  EXPECT_EQ(statuses["io.containerd.internal.v1.dup-b-extra"], "ok");
  EXPECT_EQ(statuses["io.containerd.grpc.v1.introspection"], "ok");

  CommandResult version = berthd.Ctr({"version"});
  EXPECT_EQ(version.exit_code, 0) << version.Describe();
}

TEST_F(BrokenPluginsTest, DetailedErrorsNameStageAndCause) {
  BerthdProcess berthd(Options());
  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  CommandResult detailed = berthd.Berthctl({"plugins", "ls", "--detailed"});
  ASSERT_EQ(detailed.exit_code, 0) << detailed.Describe();
  auto messages = ParseDetailedErrors(detailed.out);

  const std::map<std::string, std::string> stages = {
      {"not-a-library", "open"},
      {"no-entry-point", "entry point"},
      {"bad-magic", "magic"},
      {"abi-major", "abi version"},
      {"compiler-abi", "compiler abi"},
      {"register-throws", "register"},
      {"dup-b", "register"}};
  for (const auto& [stem, stage] : stages) {
    const std::string& message = messages[kLibraryType + stem];
    EXPECT_TRUE(Contains(message, stem + ".so")) << stem;
    EXPECT_TRUE(Contains(message, ": " + stage + ":")) << stem;
  }
  EXPECT_TRUE(Contains(messages[std::string(kLibraryType) + "register-throws"],
                       "boom from register"));
  EXPECT_TRUE(Contains(messages[std::string(kLibraryType) + "dup-b"],
                       "io.containerd.internal.v1.dup"));
  EXPECT_TRUE(Contains(messages["io.containerd.internal.v1.init-throws"],
                       "boom from init"));
  EXPECT_TRUE(Contains(messages["io.containerd.internal.v1.init-skips"],
                       "skip plugin"));
  EXPECT_TRUE(Contains(messages["io.containerd.internal.v1.needs-missing"],
                       "io.berth.test.absent.v1"));

  // The stock client reads the same errors off the wire.
  CommandResult ctr_detailed = berthd.Ctr({"plugins", "ls", "--detailed"});
  ASSERT_EQ(ctr_detailed.exit_code, 0) << ctr_detailed.Describe();
  EXPECT_EQ(ParseDetailedErrors(ctr_detailed.out), messages);
}

class RequiredBrokenPluginTest
    : public BrokenPluginsTest,
      public ::testing::WithParamInterface<const char*> {};

TEST_P(RequiredBrokenPluginTest, StopsStartup) {
  const std::string uri = GetParam();
  BerthdProcess berthd(Options("required_plugins = [\"" + uri + "\"]\n"));
  ASSERT_TRUE(berthd.Start());
  std::optional<int> code = berthd.WaitExit(60s);
  ASSERT_TRUE(code.has_value()) << "berthd kept running; log:\n"
                                << berthd.Log();
  EXPECT_NE(*code, 0);
  EXPECT_TRUE(Contains(berthd.Log(), uri));
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, RequiredBrokenPluginTest,
    ::testing::Values("io.containerd.internal.v1.init-throws",
                      "io.containerd.internal.v1.needs-missing"));

// berthd on a copy of the good fixtures.
class HelloPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(CopyLibraries(FixtureDir("good"), plugins_.path()));
  }
  BerthdOptions Options(const std::string& extra_toml) const {
    BerthdOptions options;
    options.plugin_dir = plugins_.path();
    options.extra_toml = extra_toml;
    return options;
  }

  TempDir plugins_{"berth-good-"};
};

TEST_F(HelloPluginTest, ExportsConfiguredGreeting) {
  BerthdProcess berthd(
      Options("[plugins.\"io.containerd.internal.v1.hello\"]\n"
              "  greeting = \"ahoy from the test\"\n"
              "  repeat = 3\n"));
  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  EXPECT_EQ(PluginStatuses(berthd)[kHello], "ok");

  CommandResult detailed =
      berthd.Ctr({"plugins", "ls", "--detailed", "id==hello"});
  ASSERT_EQ(detailed.exit_code, 0) << detailed.Describe();
  EXPECT_TRUE(Contains(detailed.out, "ahoy from the test"));

  CommandResult own = berthd.Berthctl({"plugins", "ls", "-d"});
  ASSERT_EQ(own.exit_code, 0) << own.Describe();
  for (const char* pattern : {"\\bgreeting +ahoy from the test\\n",
                              "\\brepeat +3\\n", "\\binterval +5s\\n"}) {
    EXPECT_TRUE(std::regex_search(own.out, std::regex(pattern)))
        << pattern << " in:\n"
        << own.out;
  }
}

TEST_F(HelloPluginTest, DisabledPluginsAreNotListed) {
  BerthdProcess berthd(
      Options("disabled_plugins = [\"io.containerd.internal.v1.hello\", "
              "\"io.containerd.grpc.v1.healthcheck\"]\n"));
  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  auto statuses = PluginStatuses(berthd);
  EXPECT_EQ(statuses.count(kHello), 0u);
  EXPECT_EQ(statuses.count("io.containerd.grpc.v1.healthcheck"), 0u);
  EXPECT_EQ(statuses["io.containerd.grpc.v1.introspection"], "ok");
}

}  // namespace
}  // namespace berth::test
