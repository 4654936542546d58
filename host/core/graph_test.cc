#include "core/graph.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::host {
namespace {

struct Spec {
  std::string type;
  std::string id;
  std::vector<std::string> requires_types = {};
};

class GraphTest : public ::testing::Test {
 protected:
  // Builds registrations from `specs` and returns the ordered URIs, or the
  // error text.
  std::vector<std::string> Order(const std::vector<Spec>& specs,
                                 const std::set<std::string>& disabled = {}) {
    Result<std::vector<std::size_t>> order = Run(specs, disabled);
    EXPECT_TRUE(order.ok()) << order.status().ToString();
    std::vector<std::string> uris;
    if (!order.ok()) return uris;
    for (std::size_t i : *order) uris.push_back(regs_[i].uri());
    return uris;
  }

  Result<std::vector<std::size_t>> Run(const std::vector<Spec>& specs,
                                       const std::set<std::string>& disabled) {
    regs_.clear();
    for (const Spec& s : specs) {
      Registration r;
      r.type = s.type;
      r.id = s.id;
      r.required_types = s.requires_types;
      regs_.push_back(std::move(r));
    }
    std::vector<const Registration*> ptrs;
    for (const Registration& r : regs_) ptrs.push_back(&r);
    return InitOrder(ptrs, disabled);
  }

  std::vector<Registration> regs_;
};

TEST_F(GraphTest, KeepsRegistrationOrderWithoutRequires) {
  EXPECT_EQ(Order({{"c", "one"}, {"a", "two"}, {"b", "three"}}),
            (std::vector<std::string>{"c.one", "a.two", "b.three"}));
}

TEST_F(GraphTest, RequiredTypeGoesFirst) {
  EXPECT_EQ(Order({{"service", "container", {"metadata"}}, {"metadata", "bolt"}}),
            (std::vector<std::string>{"metadata.bolt", "service.container"}));
}

TEST_F(GraphTest, RequiresInTheirOrder) {
  EXPECT_EQ(Order({{"metadata", "bolt", {"content", "snapshotter"}},
                   {"snapshotter", "overlayfs"},
                   {"content", "content"}}),
            (std::vector<std::string>{"content.content", "snapshotter.overlayfs",
                                      "metadata.bolt"}));
}

TEST_F(GraphTest, StarGoesLast) {
  EXPECT_EQ(Order({{"grpc", "introspection", {"*"}}, {"service", "container"},
                   {"content", "content"}}),
            (std::vector<std::string>{"service.container", "content.content",
                                      "grpc.introspection"}));
}

TEST_F(GraphTest, TwoStarPluginsKeepRegistrationOrder) {
  EXPECT_EQ(Order({{"x", "last1", {"*"}}, {"a", "one"}, {"x", "last2", {"*"}}}),
            (std::vector<std::string>{"a.one", "x.last1", "x.last2"}));
}

TEST_F(GraphTest, DisabledIsLeftOut) {
  EXPECT_EQ(Order({{"content", "content"}, {"disable", "disable"}},
                  {"disable.disable"}),
            (std::vector<std::string>{"content.content"}));
}

TEST_F(GraphTest, DisabledRequirementIsNotPulledIn) {
  EXPECT_EQ(Order({{"service", "s", {"metadata"}}, {"metadata", "bolt"},
                   {"metadata", "other"}},
                  {"metadata.bolt"}),
            (std::vector<std::string>{"metadata.other", "service.s"}));
}

TEST_F(GraphTest, SameTypeSiblingsButNotSelf) {
  EXPECT_EQ(Order({{"t", "a", {"t"}}, {"t", "b"}}),
            (std::vector<std::string>{"t.b", "t.a"}));
}

TEST_F(GraphTest, MissingRequiredTypeIsNotAGraphError) {
  EXPECT_EQ(Order({{"a", "one", {"absent"}}, {"b", "two"}}),
            (std::vector<std::string>{"a.one", "b.two"}));
}

TEST_F(GraphTest, CycleIsNamed) {
  Result<std::vector<std::size_t>> order =
      Run({{"x", "a", {"y"}}, {"y", "b", {"z"}}, {"z", "c", {"y"}}}, {});
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(order.status().message(),
            "plugin dependency cycle: y.b -> z.c -> y.b");
}

TEST_F(GraphTest, TwoNodeCycle) {
  Result<std::vector<std::size_t>> order =
      Run({{"a", "a", {"b"}}, {"b", "b", {"a"}}}, {});
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().message(), "plugin dependency cycle: a.a -> b.b -> a.a");
}

TEST_F(GraphTest, DisablingBreaksACycle) {
  EXPECT_EQ(Order({{"a", "a", {"b"}}, {"b", "b", {"a"}}}, {"b.b"}),
            (std::vector<std::string>{"a.a"}));
}

TEST_F(GraphTest, DuplicateUriRejected) {
  Result<std::vector<std::size_t>> order =
      Run({{"t", "dup"}, {"u", "x"}, {"t", "dup"}}, {});
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().code(), Code::kInvalidArgument);
  EXPECT_NE(order.status().message().find("t.dup"), std::string::npos);
}

TEST_F(GraphTest, Deterministic) {
  const std::vector<Spec> specs = {{"g", "i", {"*"}}, {"s", "a", {"m"}},
                                   {"m", "b", {"c", "sn"}}, {"sn", "o"},
                                   {"c", "c"}, {"s", "d", {"m"}}};
  std::vector<std::string> first = Order(specs);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Order(specs), first);
}

// containerd's own registration list and the order it computes for it.
TEST_F(GraphTest, ContainerdPluginList) {
  const std::string mon = "io.containerd.monitor.v1", svc = "io.containerd.service.v1",
                    grpc = "io.containerd.grpc.v1", meta = "io.containerd.metadata.v1",
                    rt1 = "io.containerd.runtime.v1", rt2 = "io.containerd.runtime.v2",
                    diff = "io.containerd.differ.v1", gc = "io.containerd.gc.v1",
                    internal = "io.containerd.internal.v1",
                    snap = "io.containerd.snapshotter.v1",
                    content = "io.containerd.content.v1";
  const std::vector<Spec> specs = {
      {mon, "cgroups"},
      {svc, "tasks-service", {rt1, rt2, meta, mon}},
      {svc, "introspection-service"},
      {svc, "namespaces-service", {meta}},
      {grpc, "namespaces", {svc}},
      {grpc, "content", {svc}},
      {grpc, "containers", {svc}},
      {svc, "containers-service", {meta}},
      {grpc, "events"},
      {grpc, "leases", {svc}},
      {svc, "leases-service", {meta}},
      {grpc, "diff", {svc}},
      {svc, "diff-service", {diff}},
      {svc, "snapshots-service", {meta}},
      {grpc, "snapshots", {svc}},
      {grpc, "version"},
      {grpc, "images", {svc}},
      {gc, "scheduler", {meta}},
      {rt2, "task", {meta}},
      {grpc, "tasks", {svc}},
      {grpc, "introspection", {"*"}},
      {svc, "content-service", {meta}},
      {grpc, "healthcheck"},
      {internal, "opt"},
      {grpc, "cri", {svc}},
      {rt1, "linux", {meta}},
      {internal, "restart", {svc}},
      {diff, "walking", {meta}},
      {snap, "native"},
      {snap, "overlayfs"},
      {content, "content"},
      {meta, "bolt", {content, snap}},
  };
  const std::vector<std::string> want = {
      mon + ".cgroups",        content + ".content",
      snap + ".native",        snap + ".overlayfs",
      meta + ".bolt",          rt1 + ".linux",
      rt2 + ".task",           svc + ".tasks-service",
      svc + ".introspection-service", svc + ".namespaces-service",
      svc + ".containers-service", svc + ".leases-service",
      diff + ".walking",       svc + ".diff-service",
      svc + ".snapshots-service", svc + ".content-service",
      grpc + ".namespaces",    grpc + ".content",
      grpc + ".containers",    grpc + ".events",
      grpc + ".leases",        grpc + ".diff",
      grpc + ".snapshots",     grpc + ".version",
      grpc + ".images",        gc + ".scheduler",
      grpc + ".tasks",         grpc + ".healthcheck",
      internal + ".opt",       grpc + ".cri",
      internal + ".restart",   grpc + ".introspection",
  };
  EXPECT_EQ(Order(specs), want);
}

}  // namespace
}  // namespace berth::host
