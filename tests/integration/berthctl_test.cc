// berthctl against a real berthd: version, plugins ls (checked against the
// stock ctr), plugins graph as a tree and as Graphviz, and its errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "berthd_process.h"
#include "fixtures.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

constexpr char kIntrospection[] = "io.containerd.grpc.v1.introspection";
constexpr char kNeedsMissing[] = "io.containerd.internal.v1.needs-missing";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// One berthd with the broken fixtures, shared by the tests of this suite.
class BerthctlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    plugins_ = std::make_unique<TempDir>("berth-ctl-plugins-");
    ASSERT_TRUE(CopyLibraries(FixtureDir("broken"), plugins_->path()));
    BerthdOptions options;
    options.plugin_dir = plugins_->path();
    berthd_ = std::make_unique<BerthdProcess>(options);
    ASSERT_TRUE(berthd_->Start());
    ASSERT_TRUE(berthd_->WaitServing());
  }
  static void TearDownTestSuite() {
    berthd_.reset();  // kills and reaps, removes its folder
    plugins_.reset();
  }
  void SetUp() override {
    ASSERT_NE(berthd_, nullptr);
    ASSERT_TRUE(berthd_->running()) << berthd_->Log();
  }

  static std::unique_ptr<TempDir> plugins_;
  static std::unique_ptr<BerthdProcess> berthd_;
};

std::unique_ptr<TempDir> BerthctlTest::plugins_;
std::unique_ptr<BerthdProcess> BerthctlTest::berthd_;

TEST_F(BerthctlTest, VersionShowsClientAndServer) {
  CommandResult run = berthd_->Berthctl({"version"});
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  const std::string expected =
      std::string("  Version:  ") + BERTH_VERSION + "\n";
  const auto server_at = run.out.find("Server:\n");
  ASSERT_NE(server_at, std::string::npos) << run.out;
  EXPECT_TRUE(Contains(run.out.substr(0, server_at), "Client:\n" + expected));
  EXPECT_TRUE(Contains(run.out.substr(server_at), expected));
  EXPECT_TRUE(Contains(run.out.substr(server_at), "  UUID: "));
}

TEST_F(BerthctlTest, PluginsLsMatchesCtr) {
  CommandResult own = berthd_->Berthctl({"plugins", "ls"});
  ASSERT_EQ(own.exit_code, 0) << own.Describe();
  CommandResult ctr = berthd_->Ctr({"plugins", "ls"});
  ASSERT_EQ(ctr.exit_code, 0) << ctr.Describe();
  EXPECT_EQ(own.out.substr(0, own.out.find('\n')).find("TYPE"), 0u);
  auto statuses = ParsePluginTable(own.out);
  EXPECT_EQ(statuses, ParsePluginTable(ctr.out));
  EXPECT_EQ(statuses[kIntrospection], "ok");
  EXPECT_EQ(statuses["io.containerd.internal.v1.init-skips"], "skip");
  EXPECT_EQ(statuses[kNeedsMissing], "error");
}

TEST_F(BerthctlTest, PluginsLsQuietPrintsIds) {
  CommandResult quiet = berthd_->Berthctl({"plugins", "ls", "-q"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.Describe();
  CommandResult ctr = berthd_->Ctr({"plugins", "ls", "-q"});
  ASSERT_EQ(ctr.exit_code, 0) << ctr.Describe();
  EXPECT_EQ(quiet.out, ctr.out);
  std::vector<std::string> ids = Lines(quiet.out);
  EXPECT_NE(std::find(ids.begin(), ids.end(), "introspection"), ids.end())
      << quiet.out;
}

TEST_F(BerthctlTest, PluginsLsFilters) {
  CommandResult run =
      berthd_->Berthctl({"plugins", "ls", "type==io.containerd.grpc.v1"});
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  auto statuses = ParsePluginTable(run.out);
  ASSERT_FALSE(statuses.empty()) << run.out;
  for (const auto& [uri, status] : statuses) {
    EXPECT_EQ(uri.rfind("io.containerd.grpc.v1.", 0), 0u) << uri;
  }
  EXPECT_EQ(statuses.count(kIntrospection), 1u);
}

TEST_F(BerthctlTest, GraphListsEveryPluginInInitOrder) {
  CommandResult ls = berthd_->Berthctl({"plugins", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  CommandResult graph = berthd_->Berthctl({"plugins", "graph"});
  ASSERT_EQ(graph.exit_code, 0) << graph.Describe();

  std::vector<std::string> listed;
  for (const auto& line : Lines(ls.out)) {
    std::istringstream words(line);
    std::string type, id;
    if (words >> type >> id && type != "TYPE")
      listed.push_back(type + "." + id);
  }
  std::vector<std::string> roots;
  for (const auto& line : Lines(graph.out)) {
    if (!line.empty() && line[0] != ' ' && line[0] != '|' && line[0] != '`') {
      roots.push_back(line.substr(0, line.find(' ')));
    }
  }
  EXPECT_EQ(roots, listed);
  EXPECT_TRUE(Contains(graph.out, std::string(kNeedsMissing) +
                                      " (error)\n`-- io.berth.test.absent.v1\n"
                                      "    `-- (none)\n"));
}

TEST_F(BerthctlTest, GraphDotIsADigraph) {
  CommandResult dot = berthd_->Berthctl({"plugins", "graph", "--dot"});
  ASSERT_EQ(dot.exit_code, 0) << dot.Describe();
  EXPECT_EQ(dot.out.rfind("digraph plugins {\n", 0), 0u) << dot.out;
  ASSERT_GE(dot.out.size(), 2u);
  EXPECT_EQ(dot.out.substr(dot.out.size() - 2), "}\n");
  EXPECT_TRUE(Contains(dot.out, "\"" + std::string(kIntrospection) + "\" ["));
  EXPECT_TRUE(
      Contains(dot.out, "\"" + std::string(kNeedsMissing) +
                            "\" -> \"missing io.berth.test.absent.v1\""));
}

TEST(BerthctlErrorsTest, UnreachableDaemonIsReported) {
  TempDir dir("berth-ctl-");
  CommandResult run = RunCommand(
      {BerthctlPath(), "--address", dir.Join("absent.sock"), "plugins", "ls"});
  EXPECT_EQ(run.exit_code, 1) << run.Describe();
  EXPECT_EQ(run.err.rfind("berthctl: ", 0), 0u) << run.err;
  EXPECT_TRUE(Contains(run.err, dir.Join("absent.sock")));
  EXPECT_TRUE(Contains(run.err, "unavailable"));
}

TEST(BerthctlErrorsTest, UnknownCommandIsReported) {
  CommandResult run = RunCommand({BerthctlPath(), "frobnicate"});
  EXPECT_EQ(run.exit_code, 1) << run.Describe();
  EXPECT_TRUE(Contains(run.err, "berthctl: unknown command \"frobnicate\""));
}

TEST(BerthctlErrorsTest, AddressComesFromEnvironment) {
  TempDir dir("berth-ctl-");
  ProcessOptions options;
  options.env = {"CONTAINERD_ADDRESS=" + dir.Join("env.sock")};
  CommandResult run = RunCommand({BerthctlPath(), "version"}, "", 60s, options);
  EXPECT_EQ(run.exit_code, 1) << run.Describe();
  EXPECT_TRUE(Contains(run.err, dir.Join("env.sock")));
}

}  // namespace
}  // namespace berth::test
