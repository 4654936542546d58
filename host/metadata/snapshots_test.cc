// The namespaced snapshot view (NamespacedSnapshotter) over the real overlay
// snapshotter plugin, loaded through the host's loader.
#include "metadata/snapshots.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "metadata/test_env.h"

namespace berth::host::metadata {
namespace {

namespace fs = std::filesystem;
using snapshots::Kind;
using snapshots::Labels;

class NamespacedSnapshotsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(env_.ok()) << env_.failure(); }

  NamespacedSnapshotter& sn() { return env_.overlay(); }

  // Every key the backend holds.
  std::vector<snapshots::Info> BackendInfos() {
    std::vector<snapshots::Info> out;
    Status s = sn().backend().Walk(
        [&](const snapshots::Info& info) {
          out.push_back(info);
          return Status::Ok();
        },
        {});
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  // The backend's Info of the snapshot the namespace `ns` names `key`.
  snapshots::Info BackendInfoOf(const std::string& ns, const std::string& key) {
    for (const auto& info : BackendInfos()) {
      if (info.name.rfind(ns + "/", 0) == 0 &&
          info.name.size() > key.size() &&
          info.name.compare(info.name.size() - key.size() - 1, std::string::npos,
                            "/" + key) == 0) {
        return info;
      }
    }
    ADD_FAILURE() << "no backend snapshot for " << ns << "/" << key;
    return {};
  }
  std::set<std::string> Names(const std::string& ns,
                              const std::vector<std::string>& filters = {}) {
    std::set<std::string> names;
    Status s = sn().Walk(ns, filters, [&](const snapshots::Info& info) {
      names.insert(info.name);
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return names;
  }
  std::size_t SnapshotDirs() {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(env_.OverlayRoot() + "/snapshots")) {
      (void)e;
      ++n;
    }
    return n;
  }
  // Prepares `key` over `parent` and commits it as `name`.
  void Layer(const std::string& ns, const std::string& name, const std::string& parent) {
    ASSERT_TRUE(sn().Prepare(ns, name + "-active", parent, {}).ok());
    Status s = sn().Commit(ns, name, name + "-active", {});
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  testing::MetadataTestEnv env_;
};

TEST_F(NamespacedSnapshotsTest, SameKeyInTwoNamespacesDoesNotClash) {
  ASSERT_TRUE(sn().Prepare("alpha", "k", "", {{"owner", "alpha"}}).ok());
  ASSERT_TRUE(sn().Prepare("beta", "k", "", {{"owner", "beta"}}).ok());
  EXPECT_TRUE(sn().Prepare("alpha", "k", "", {}).status().Is(Code::kAlreadyExists));

  auto a = sn().Stat("alpha", "k");
  auto b = sn().Stat("beta", "k");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->labels.at("owner"), "alpha");
  EXPECT_EQ(b->labels.at("owner"), "beta");
  EXPECT_EQ(a->name, "k");
  EXPECT_EQ(a->kind, Kind::kActive);

  const auto backend = BackendInfos();
  ASSERT_EQ(backend.size(), 2u);
  EXPECT_NE(backend[0].name, backend[1].name);
  EXPECT_EQ(SnapshotDirs(), 2u);

  ASSERT_TRUE(sn().Remove("alpha", "k").ok());
  EXPECT_TRUE(sn().Stat("alpha", "k").status().Is(Code::kNotFound));
  EXPECT_TRUE(sn().Stat("beta", "k").ok());
  // Remove leaves the backend snapshot to the snapshotter's cleanup (a
  // garbage collection's backend phase).
  EXPECT_EQ(BackendInfos().size(), 2u);
  NamespacedSnapshotter::CleanupCounts counts;
  ASSERT_TRUE(sn().Cleanup(&counts).ok());
  EXPECT_EQ(counts.removed, 1);
  EXPECT_EQ(BackendInfos().size(), 1u);
  EXPECT_EQ(SnapshotDirs(), 1u);
}

TEST_F(NamespacedSnapshotsTest, OnlySnapshotLabelsReachTheBackend) {
  const Labels labels = {{"containerd.io/snapshot/remote", "yes"},
                         {"containerd.io/snapshot.ref", "target-name"},
                         {"containerd.io/gc.root", "2026-01-01T00:00:00Z"},
                         {"user", "value"}};
  ASSERT_TRUE(sn().Prepare("ns", "k", "", labels).ok());
  EXPECT_EQ(BackendInfoOf("ns", "k").labels,
            (Labels{{"containerd.io/snapshot/remote", "yes"},
                    {"containerd.io/snapshot.ref", "target-name"}}));
  auto seen = sn().Stat("ns", "k");
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->labels, labels);

  snapshots::Info update;
  update.name = "k";
  update.labels = {{"containerd.io/snapshot/extra", "1"}, {"plain", "2"}};
  auto updated = sn().Update("ns", update,
                             {"labels.containerd.io/snapshot/extra", "labels.plain"});
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(updated->labels.at("plain"), "2");
  EXPECT_EQ(updated->labels.at("user"), "value");
  const Labels backend = BackendInfoOf("ns", "k").labels;
  EXPECT_EQ(backend.count("containerd.io/snapshot/extra"), 1u);
  EXPECT_EQ(backend.count("plain"), 0u);
  EXPECT_EQ(backend.count("user"), 0u);

  ASSERT_TRUE(
      sn().Commit("ns", "c", "k", {{"containerd.io/snapshot/c", "x"}, {"note", "y"}}).ok());
  EXPECT_EQ(BackendInfoOf("ns", "c").labels,
            (Labels{{"containerd.io/snapshot/c", "x"}}));
  EXPECT_EQ(sn().Stat("ns", "c")->labels.at("note"), "y");
}

TEST_F(NamespacedSnapshotsTest, WalkAndStatAnswerPerNamespace) {
  Layer("a", "base", "");
  ASSERT_TRUE(sn().Prepare("a", "child", "base", {{"tag", "one"}}).ok());
  ASSERT_TRUE(sn().View("a", "look", "base", {}).ok());
  Layer("b", "other", "");

  EXPECT_EQ(Names("a"), (std::set<std::string>{"base", "child", "look"}));
  EXPECT_EQ(Names("b"), (std::set<std::string>{"other"}));
  EXPECT_EQ(Names("c"), std::set<std::string>{});
  EXPECT_EQ(Names("a", {"kind==committed"}), (std::set<std::string>{"base"}));
  EXPECT_EQ(Names("a", {"parent==base"}), (std::set<std::string>{"child", "look"}));
  EXPECT_EQ(Names("a", {"labels.tag==one"}), (std::set<std::string>{"child"}));
  EXPECT_EQ(Names("a", {"kind==view", "name==base"}),
            (std::set<std::string>{"look", "base"}));

  auto child = sn().Stat("a", "child");
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->parent, "base");  // the namespace's name, not the backend's
  EXPECT_EQ(sn().Stat("a", "look")->kind, Kind::kView);
  EXPECT_TRUE(sn().Stat("b", "base").status().Is(Code::kNotFound));
  EXPECT_TRUE(sn().Prepare("b", "x", "base", {}).status().Is(Code::kNotFound));
  EXPECT_TRUE(sn().Usage("b", "child").status().Is(Code::kNotFound));
  EXPECT_TRUE(sn().Mounts("b", "child").status().Is(Code::kNotFound));
  EXPECT_TRUE(sn().Remove("b", "base").Is(Code::kNotFound));
  EXPECT_TRUE(sn().Walk("a", {"kind=="}, [](const snapshots::Info&) {
                    return Status::Ok();
                  }).Is(Code::kInvalidArgument));
}

TEST_F(NamespacedSnapshotsTest, BadKeysAreInvalidArgument) {
  const std::vector<std::string> bad = {"", std::string(kMaxSnapshotKey + 1, 'k')};
  for (const auto& key : bad) {
    EXPECT_TRUE(sn().Prepare("ns", key, "", {}).status().Is(Code::kInvalidArgument))
        << "prepare " << key;
    EXPECT_TRUE(sn().View("ns", key, "", {}).status().Is(Code::kInvalidArgument))
        << "view " << key;
  }
  ASSERT_TRUE(sn().Prepare("ns", "active", "", {}).ok());
  for (const auto& name : bad) {
    EXPECT_TRUE(sn().Commit("ns", name, "active", {}).Is(Code::kInvalidArgument))
        << "commit " << name;
  }
  // Nothing reached the backend but the one good key.
  EXPECT_EQ(BackendInfos().size(), 1u);
  EXPECT_EQ(SnapshotDirs(), 1u);

  // Keys are names (containerd's rule): slashes, dots, ".." components, a
  // leading "/" and NUL bytes are ordinary; the backend names its
  // directories by id whatever the key holds.
  const std::vector<std::string> good = {"a/b", "sha256:x/y/z", "a..b", "...", "a/.../b",
                                         "../escape", "/abs", std::string("a\0b", 3),
                                         std::string(kMaxSnapshotKey, 'k')};
  for (const auto& key : good) {
    ASSERT_TRUE(sn().Prepare("ns", key, "", {}).ok()) << key;
    EXPECT_TRUE(sn().Stat("ns", key).ok()) << key;
  }
  for (const auto& e : fs::directory_iterator(env_.OverlayRoot() + "/snapshots")) {
    const std::string id = e.path().filename().string();
    EXPECT_TRUE(std::all_of(id.begin(), id.end(), ::isdigit)) << id;
  }
  EXPECT_EQ(SnapshotDirs(), 10u);
}

TEST_F(NamespacedSnapshotsTest, LabelsOverTheLimitAreInvalidArgument) {
  const std::string key = "big";
  const Labels too_big = {{key, std::string(kMaxLabelSize - key.size() + 1, 'v')}};
  const Labels at_limit = {{key, std::string(kMaxLabelSize - key.size(), 'v')}};
  EXPECT_TRUE(sn().Prepare("ns", "p", "", too_big).status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(sn().View("ns", "v", "", too_big).status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(sn().Prepare("ns", "e", "", {{"", "v"}}).status().Is(Code::kInvalidArgument));
  EXPECT_EQ(BackendInfos().size(), 0u);

  ASSERT_TRUE(sn().Prepare("ns", "p", "", at_limit).ok());
  EXPECT_TRUE(sn().Commit("ns", "c", "p", too_big).Is(Code::kInvalidArgument));
  snapshots::Info update;
  update.name = "p";
  update.labels = too_big;
  EXPECT_TRUE(sn().Update("ns", update, {"labels.big"}).status().Is(Code::kInvalidArgument));
  EXPECT_EQ(sn().Stat("ns", "p")->labels, at_limit);  // unchanged
  EXPECT_TRUE(sn().Commit("ns", "c", "p", at_limit).ok());
}

TEST_F(NamespacedSnapshotsTest, RemovingAParentWithChildrenFails) {
  Layer("ns", "base", "");
  ASSERT_TRUE(sn().Prepare("ns", "child", "base", {}).ok());
  Status s = sn().Remove("ns", "base");
  EXPECT_TRUE(s.Is(Code::kFailedPrecondition)) << s.ToString();
  EXPECT_TRUE(sn().Stat("ns", "base").ok());
  EXPECT_TRUE(sn().Stat("ns", "child").ok());
  ASSERT_TRUE(sn().Remove("ns", "child").ok());
  ASSERT_TRUE(sn().Remove("ns", "base").ok());
  EXPECT_EQ(Names("ns"), std::set<std::string>{});
}

TEST_F(NamespacedSnapshotsTest, CommitRules) {
  Layer("ns", "base", "");
  ASSERT_TRUE(sn().View("ns", "view", "base", {}).ok());
  Status s = sn().Commit("ns", "from-view", "view", {});
  EXPECT_TRUE(s.Is(Code::kFailedPrecondition)) << s.ToString();
  EXPECT_EQ(sn().Stat("ns", "view")->kind, Kind::kView);
  EXPECT_TRUE(sn().Stat("ns", "from-view").status().Is(Code::kNotFound));

  ASSERT_TRUE(sn().Prepare("ns", "work", "base", {}).ok());
  EXPECT_TRUE(sn().Commit("ns", "base", "work", {}).Is(Code::kAlreadyExists));
  EXPECT_TRUE(sn().Commit("ns", "x", "missing", {}).Is(Code::kNotFound));
  EXPECT_TRUE(sn().Prepare("ns", "w2", "work", {}).status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(sn().Prepare("ns", "w3", "nope", {}).status().Is(Code::kNotFound));
  EXPECT_TRUE(sn().Mounts("ns", "base").status().Is(Code::kFailedPrecondition));
  ASSERT_TRUE(sn().Commit("ns", "top", "work", {}).ok());
  EXPECT_TRUE(sn().Stat("ns", "work").status().Is(Code::kNotFound));
  auto top = sn().Stat("ns", "top");
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(top->kind, Kind::kCommitted);
  EXPECT_EQ(top->parent, "base");

  // A prepare naming its future commit target fails when the target exists.
  EXPECT_TRUE(sn().Prepare("ns", "again", "", {{"containerd.io/snapshot.ref", "top"}})
                  .status()
                  .Is(Code::kAlreadyExists));
}

TEST_F(NamespacedSnapshotsTest, RecordWithoutBackendSnapshotCountsAsAbsent) {
  ASSERT_TRUE(sn().Prepare("ns", "k", "", {{"gen", "1"}}).ok());
  ASSERT_TRUE(sn().Prepare("ns", "gone", "", {}).ok());
  ASSERT_TRUE(sn().backend().Remove(BackendInfoOf("ns", "k").name).ok());
  ASSERT_TRUE(sn().backend().Remove(BackendInfoOf("ns", "gone").name).ok());
  EXPECT_TRUE(sn().Stat("ns", "k").status().Is(Code::kNotFound));
  EXPECT_EQ(Names("ns"), std::set<std::string>{});
  // The key is free again, and a dangling record can be removed.
  ASSERT_TRUE(sn().Prepare("ns", "k", "", {{"gen", "2"}}).ok());
  EXPECT_EQ(sn().Stat("ns", "k")->labels.at("gen"), "2");
  EXPECT_TRUE(sn().Remove("ns", "gone").ok());
  EXPECT_TRUE(sn().Remove("ns", "gone").Is(Code::kNotFound));
  ASSERT_TRUE(sn().Prepare("ns", "a", "", {}).ok());
  ASSERT_TRUE(sn().Commit("ns", "c", "a", {}).ok());
  ASSERT_TRUE(sn().backend().Remove(BackendInfoOf("ns", "c").name).ok());
  ASSERT_TRUE(sn().Prepare("ns", "a2", "", {}).ok());
  EXPECT_TRUE(sn().Commit("ns", "c", "a2", {}).ok());  // over the dangling "c"
  EXPECT_EQ(Names("ns"), (std::set<std::string>{"c", "k"}));
}

TEST_F(NamespacedSnapshotsTest, CleanupDropsOrphansOnBothSides) {
  Layer("ns", "base", "");
  ASSERT_TRUE(sn().Prepare("ns", "kept", "base", {}).ok());
  ASSERT_TRUE(sn().Prepare("ns", "dangling", "", {}).ok());
  // Backend snapshots no record names, as a crash between the two writes
  // leaves them: a committed chain and an active leaf over it.
  Snapshotter& backend = sn().backend();
  ASSERT_TRUE(backend.Prepare("ns/900/orphan-a", "", {}).ok());
  ASSERT_TRUE(backend.Commit("ns/901/orphan", "ns/900/orphan-a", {}).ok());
  ASSERT_TRUE(backend.Prepare("ns/902/orphan-leaf", "ns/901/orphan", {}).ok());
  // A record whose backend snapshot is gone.
  ASSERT_TRUE(backend.Remove(BackendInfoOf("ns", "dangling").name).ok());
  EXPECT_EQ(Names("ns"), (std::set<std::string>{"base", "kept"}));  // Walk skips it

  Status s = sn().Cleanup();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(BackendInfos().size(), 2u);
  EXPECT_EQ(SnapshotDirs(), 2u);
  EXPECT_EQ(Names("ns"), (std::set<std::string>{"base", "kept"}));
  EXPECT_TRUE(sn().Stat("ns", "dangling").status().Is(Code::kNotFound));
  auto record = env_.db().Get(keys::SnapshotPrefix("ns", "overlayfs") + "dangling");
  ASSERT_TRUE(record.ok());
  EXPECT_FALSE(record->has_value());
  // The key can be used again.
  EXPECT_TRUE(sn().Prepare("ns", "dangling", "", {}).ok());
}

}  // namespace
}  // namespace berth::host::metadata
