#include "plugin_graph.h"

#include <gtest/gtest.h>

#include "table.h"

namespace berth::cli {
namespace {

IntrospectedPlugin MakePlugin(const std::string& type, const std::string& id,
                              std::vector<std::string> requires_types = {}) {
  IntrospectedPlugin plugin;
  plugin.set_type(type);
  plugin.set_id(id);
  for (auto& type_name : requires_types) plugin.add_requires_types(type_name);
  return plugin;
}

TEST(PluginInfoTest, StatusFollowsInitError) {
  IntrospectedPlugin plugin = MakePlugin("t.v1", "a");
  EXPECT_EQ(PluginStatus(plugin), "ok");
  plugin.mutable_init_err()->set_message("no btrfs here: skip plugin");
  EXPECT_EQ(PluginStatus(plugin), "skip");
  plugin.mutable_init_err()->set_message("boom from init");
  EXPECT_EQ(PluginStatus(plugin), "error");
}

TEST(PluginInfoTest, PlatformsSortedAndDistinct) {
  IntrospectedPlugin plugin = MakePlugin("t.v1", "a");
  EXPECT_EQ(FormatPlatforms(plugin), "-");
  for (const char* arch : {"arm64", "amd64", "arm64"}) {
    auto* platform = plugin.add_platforms();
    platform->set_os("linux");
    platform->set_architecture(arch);
  }
  EXPECT_EQ(FormatPlatforms(plugin), "linux/amd64,linux/arm64");
}

TEST(PluginGraphTest, ResolvesTypesAndStar) {
  std::vector<IntrospectedPlugin> plugins = {
      MakePlugin("svc.v1", "a"),
      MakePlugin("svc.v1", "b"),
      MakePlugin("grpc.v1", "c", {"svc.v1", "missing.v1"}),
      MakePlugin("grpc.v1", "d", {"*"}),
      MakePlugin(kLibraryPseudoType, "broken"),
  };
  std::vector<PluginNode> graph = BuildPluginGraph(plugins);
  ASSERT_EQ(graph.size(), 5u);
  ASSERT_EQ(graph[2].requirements.size(), 2u);
  EXPECT_EQ(graph[2].requirements[0].satisfied_by,
            (std::vector<std::string>{"svc.v1.a", "svc.v1.b"}));
  EXPECT_TRUE(graph[2].requirements[1].satisfied_by.empty());
  EXPECT_EQ(graph[3].requirements[0].satisfied_by,
            (std::vector<std::string>{"svc.v1.a", "svc.v1.b", "grpc.v1.c"}));
}

TEST(PluginGraphTest, TreeShowsRequirementsAndMissing) {
  std::vector<IntrospectedPlugin> plugins = {
      MakePlugin("svc.v1", "a"),
      MakePlugin("grpc.v1", "c", {"svc.v1", "missing.v1"}),
  };
  EXPECT_EQ(RenderTree(BuildPluginGraph(plugins)),
            "svc.v1.a (ok)\n"
            "grpc.v1.c (ok)\n"
            "|-- svc.v1\n"
            "|   `-- svc.v1.a\n"
            "`-- missing.v1\n"
            "    `-- (none)\n");
}

TEST(PluginGraphTest, DotHasNodesEdgesAndMissing) {
  std::vector<IntrospectedPlugin> plugins = {
      MakePlugin("svc.v1", "a"),
      MakePlugin("grpc.v1", "c", {"svc.v1", "missing.v1"}),
  };
  std::string dot = RenderDot(BuildPluginGraph(plugins));
  EXPECT_EQ(dot.rfind("digraph plugins {\n", 0), 0u);
  EXPECT_NE(dot.find("\"grpc.v1.c\" -> \"svc.v1.a\";"), std::string::npos);
  EXPECT_NE(dot.find("\"grpc.v1.c\" -> \"missing missing.v1\" [style=dashed];"),
            std::string::npos);
  EXPECT_EQ(dot.substr(dot.size() - 2), "}\n");
}

TEST(TableTest, PadsColumnsLikeTabwriter) {
  Table table;
  table.AddRow({"TYPE", "ID", "STATUS"});
  table.AddRow({"io.x.v1", "hello", "ok"});
  EXPECT_EQ(table.Render(),
            "TYPE       ID       STATUS\n"
            "io.x.v1    hello    ok\n");
}

}  // namespace
}  // namespace berth::cli
