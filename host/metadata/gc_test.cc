// Garbage collection of the metadata store (MetadataPlugin::GarbageCollect)
// over the real content-local and overlay plugins: what goes, what stays,
// and in which order the backends free their storage.
#include "metadata/gc.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>

#include "containerd/services/content/v1/content.pb.h"
#include "metadata/containers.h"
#include "metadata/test_env.h"

namespace berth::host::metadata {
namespace {

using testing::MetadataTestEnv;
constexpr char kRoot[] = "containerd.io/gc.root";

class GcTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(env_.ok()) << env_.failure(); }

  NamespacedContentStore& cs() { return env_.content(); }
  NamespacedSnapshotter& sn() { return env_.overlay(); }
  LeaseStore& leases() { return env_.md().leases(); }
  bool HasContent(const std::string& ns, const std::string& digest) {
    return cs().Info(ns, digest).ok();
  }
  bool HasSnapshot(const std::string& ns, const std::string& key) {
    return sn().Stat(ns, key).ok();
  }

  MetadataTestEnv env_;
};

TEST_F(GcTest, UnreferencedContentAndSnapshotsAreCollected) {
  const std::string orphan = env_.Put("ns", "orphan bytes");
  env_.Layer("ns", "base", "");
  ASSERT_TRUE(sn().Prepare("ns", "work", "base", {}).ok());
  ASSERT_EQ(env_.BackendSnapshots(), 2u);

  gc::Stats stats = env_.Collect();
  EXPECT_EQ(stats.content_removed, 1);
  EXPECT_EQ(stats.snapshots_removed, 2);
  EXPECT_EQ(stats.backend_errors, 0);
  EXPECT_EQ(stats.backends_pending, 0);
  // content record + index, two snapshot records + work's parent link
  EXPECT_EQ(stats.records_removed, 5);
  EXPECT_FALSE(HasContent("ns", orphan));
  EXPECT_FALSE(env_.BlobOnDisk(orphan));
  EXPECT_FALSE(HasSnapshot("ns", "base"));
  EXPECT_FALSE(HasSnapshot("ns", "work"));
  EXPECT_EQ(env_.BackendSnapshots(), 0u);
  EXPECT_EQ(env_.SnapshotDirs(), 0u);

  stats = env_.Collect();
  EXPECT_EQ(stats.records_removed, 0);
  EXPECT_EQ(stats.content_removed + stats.snapshots_removed, 0);
}

TEST_F(GcTest, RootLabelsAndReferenceChainsKeepWhatTheyReach) {
  env_.Layer("ns", "base", "");
  env_.Layer("ns", "top", "base");
  const std::string layer =
      env_.Put("ns", "layer", {{"containerd.io/gc.ref.snapshot.overlayfs", "top"}});
  const std::string config = env_.Put("ns", "config");
  const std::string extra = env_.Put("ns", "extra");
  const std::string not_a_ref = env_.Put("ns", "not a ref");
  const std::string dangling = Sha256Of("never stored");
  const std::string manifest = env_.Put("ns", "manifest",
                                        {{kRoot, "2030-01-01T00:00:00Z"},
                                         {"containerd.io/gc.ref.content.config", config},
                                         {"containerd.io/gc.ref.content.l.0", layer},
                                         {"containerd.io/gc.ref.content/extra", extra},
                                         {"containerd.io/gc.ref.contentx", not_a_ref},
                                         {"containerd.io/gc.ref.content.missing", dangling}});
  ASSERT_TRUE(sn().Prepare("ns", "rooted", "", {{kRoot, "1"}}).ok());
  ASSERT_TRUE(sn().Prepare("ns", "loose", "", {}).ok());

  gc::Stats stats = env_.Collect();
  EXPECT_EQ(stats.content_removed, 1);
  EXPECT_EQ(stats.snapshots_removed, 1);
  EXPECT_FALSE(HasContent("ns", not_a_ref));
  EXPECT_FALSE(HasSnapshot("ns", "loose"));
  for (const std::string& d : {manifest, config, layer, extra}) {
    EXPECT_TRUE(HasContent("ns", d)) << d;
    EXPECT_TRUE(env_.BlobOnDisk(d)) << d;
  }
  for (const char* key : {"rooted", "top", "base"}) EXPECT_TRUE(HasSnapshot("ns", key)) << key;

  // Dropping the root label frees the whole chain.
  ContentInfo update;
  update.digest = manifest;
  ASSERT_TRUE(cs().Update("ns", update, {std::string("labels.") + kRoot}).ok());
  stats = env_.Collect();
  EXPECT_EQ(stats.content_removed, 4);
  EXPECT_EQ(stats.snapshots_removed, 2);
  EXPECT_TRUE(HasSnapshot("ns", "rooted"));
  EXPECT_FALSE(HasSnapshot("ns", "base"));
  EXPECT_EQ(env_.BlobsOnDisk(), 0u);
  EXPECT_EQ(env_.BackendSnapshots(), 1u);
}

TEST_F(GcTest, LeasesHoldUntilDeletedOrExpired) {
  ASSERT_TRUE(leases().Create("ns", "keep", {}).ok());
  ASSERT_TRUE(
      leases().Create("ns", "old", {{"containerd.io/gc.expire", "2001-01-01T00:00:00Z"}}).ok());
  const std::string held = env_.Put("ns", "held", {}, "keep");
  const std::string expired = env_.Put("ns", "held by an expired lease", {}, "old");
  env_.Layer("ns", "lbase", "", {}, "keep");
  ASSERT_TRUE(sn().Prepare("ns", "lwork", "lbase", {}, "keep").ok());

  auto resources = leases().ListResources("ns", "keep");
  ASSERT_TRUE(resources.ok());
  const std::vector<LeaseResource> want = {
      {held, "content"}, {"lbase", "snapshots/overlayfs"}, {"lwork", "snapshots/overlayfs"}};
  EXPECT_EQ(*resources, want) << "the commit moved the hold from the key to the name";

  gc::Stats stats = env_.Collect();
  EXPECT_EQ(stats.leases_removed, 1);
  EXPECT_EQ(stats.content_removed, 1);
  EXPECT_EQ(stats.snapshots_removed, 0);
  EXPECT_FALSE(HasContent("ns", expired));
  EXPECT_TRUE(HasContent("ns", held));
  EXPECT_TRUE(HasSnapshot("ns", "lwork"));
  auto list = leases().List("ns", filters::Filter());
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, "keep");

  ASSERT_TRUE(leases().Delete("ns", "keep").ok());
  stats = env_.Collect();
  EXPECT_EQ(stats.content_removed, 1);
  EXPECT_EQ(stats.snapshots_removed, 2);
  EXPECT_EQ(env_.BlobsOnDisk(), 0u);
  EXPECT_EQ(env_.BackendSnapshots(), 0u);

  // A lease that does not exist is NotFound, and nothing is created.
  EXPECT_TRUE(cs().Writer("ns", {"r", 0, ""}, "nope").status().Is(Code::kNotFound));
  EXPECT_TRUE(sn().Prepare("ns", "x", "", {}, "nope").status().Is(Code::kNotFound));
  EXPECT_EQ(env_.BackendSnapshots(), 0u);
  EXPECT_EQ(env_.IngestsOnDisk(), 0u);
}

TEST_F(GcTest, FlatLeaseHoldsItsResourcesButNotTheirReferences) {
  ASSERT_TRUE(leases().Create("ns", "flat", {{"containerd.io/gc.flat", "1"}}).ok());
  const std::string child = env_.Put("ns", "child");
  const std::string parent = env_.Put("ns", "parent", {{"containerd.io/gc.ref.content", child}});
  const std::string snap_ref = env_.Put("ns", "named by a snapshot");
  env_.Layer("ns", "fbase", "");
  env_.Layer("ns", "ftop", "fbase", {{"containerd.io/gc.ref.content", snap_ref}});
  ASSERT_TRUE(leases().AddResource("ns", "flat", {parent, "content"}).ok());
  ASSERT_TRUE(leases().AddResource("ns", "flat", {"ftop", "snapshots/overlayfs"}).ok());

  gc::Stats stats = env_.Collect();
  EXPECT_EQ(stats.content_removed, 2);
  EXPECT_TRUE(HasContent("ns", parent));
  EXPECT_FALSE(HasContent("ns", child));
  EXPECT_FALSE(HasContent("ns", snap_ref));
  EXPECT_TRUE(HasSnapshot("ns", "ftop"));
  EXPECT_TRUE(HasSnapshot("ns", "fbase")) << "a flat lease still holds a snapshot's parents";
}

TEST_F(GcTest, IngestsLiveWhileRecentOrLeasedAndOrphansGo) {
  ASSERT_TRUE(leases().Create("ns", "upload", {}).ok());
  for (const auto& [ref, lease] :
       {std::pair<std::string, std::string>{"recent", ""}, {"leased", "upload"}, {"stale", ""}}) {
    auto w = cs().Writer("ns", {ref, 100, ""}, lease);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->Write("half", 4).ok());
  }
  // An ingest no record names (a crash before its record was written).
  {
    auto w = cs().backend().Writer({"ns/orphan", 0, ""});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write("x", 1).ok());
  }
  // One whose lifetime has passed.
  containerd::services::content::v1::Info record;
  (*record.mutable_labels())["containerd.io/gc.expire"] = "2001-01-01T00:00:00Z";
  leveldb::WriteBatch batch;
  batch.Put(keys::ContentIngest("ns", "stale"), record.SerializeAsString());
  ASSERT_TRUE(env_.md().db().Write(batch).ok());
  ASSERT_EQ(env_.IngestsOnDisk(), 4u);

  gc::Stats stats = env_.Collect();
  EXPECT_EQ(stats.ingests_removed, 2);
  EXPECT_TRUE(cs().GetStatus("ns", "recent").ok());
  EXPECT_TRUE(cs().GetStatus("ns", "leased").ok());
  EXPECT_TRUE(cs().GetStatus("ns", "stale").status().Is(Code::kNotFound));
  EXPECT_EQ(env_.IngestsOnDisk(), 2u);

  ASSERT_TRUE(leases().Delete("ns", "upload").ok());
  stats = env_.Collect();
  EXPECT_EQ(stats.ingests_removed, 1);
  EXPECT_TRUE(cs().GetStatus("ns", "leased").status().Is(Code::kNotFound));
  EXPECT_TRUE(cs().GetStatus("ns", "recent").ok());

  // A shared writer keeps the blob it stands on, though no record is left.
  const std::string data = "shared bytes";
  const std::string digest = env_.Put("a", data);
  auto shared = cs().Writer("b", {"pull", 0, digest});
  ASSERT_TRUE(shared.ok());
  ASSERT_TRUE(cs().Delete("a", digest).ok());
  env_.Collect();
  EXPECT_TRUE(env_.BlobOnDisk(digest));
  ASSERT_TRUE(
      (*shared)->Commit(static_cast<std::int64_t>(data.size()), digest, {{kRoot, "1"}}).ok());
  env_.Collect();
  EXPECT_TRUE(HasContent("b", digest));
  EXPECT_TRUE(env_.BlobOnDisk(digest));
}

TEST_F(GcTest, SnapshotChainIsRemovedChildrenFirst) {
  env_.Layer("ns", "c0", "");
  env_.Layer("ns", "c1", "c0");
  env_.Layer("ns", "c2", "c1");
  env_.Layer("ns", "c3", "c2");
  ASSERT_TRUE(sn().Prepare("ns", "leaf", "c3", {}).ok());
  ASSERT_TRUE(sn().View("ns", "look", "c1", {}).ok());
  EXPECT_TRUE(sn().Remove("ns", "c1").Is(Code::kFailedPrecondition));
  for (const char* key : {"leaf", "look", "c3", "c2", "c1", "c0"}) {
    Status s = sn().Remove("ns", key);
    ASSERT_TRUE(s.ok()) << key << ": " << s.ToString();
  }
  EXPECT_EQ(env_.BackendSnapshots(), 6u) << "Remove leaves the storage to the collection";

  gc::Stats stats = env_.Collect();
  EXPECT_EQ(stats.snapshots_removed, 6);
  EXPECT_EQ(stats.backend_errors, 0) << "a parent was tried before its children";
  EXPECT_EQ(env_.BackendSnapshots(), 0u);
  EXPECT_EQ(env_.SnapshotDirs(), 0u);
}

TEST_F(GcTest, BlobSharedByTwoNamespacesStaysUntilBothLetGo) {
  const std::string digest = env_.Put("a", "shared", {{kRoot, "1"}});
  ASSERT_TRUE(cs().Writer("b", {"again", 0, digest}).ok());
  auto w = cs().Writer("b", {"again", 0, digest});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Commit(0, digest, {{kRoot, "1"}}).ok());

  ASSERT_TRUE(cs().Delete("a", digest).ok());
  EXPECT_EQ(env_.Collect().content_removed, 0);
  EXPECT_TRUE(HasContent("b", digest));
  EXPECT_TRUE(env_.BlobOnDisk(digest));
  ASSERT_TRUE(cs().Delete("b", digest).ok());
  EXPECT_EQ(env_.Collect().content_removed, 1);
  EXPECT_FALSE(env_.BlobOnDisk(digest));
}

TEST_F(GcTest, ChangesAreReportedWithDeletionsMarked) {
  int mutations = 0, deletions = 0;
  env_.md().OnMutation([&](bool deletion) {
    ++mutations;
    if (deletion) ++deletions;
  });
  const std::string digest = env_.Put("ns", "bytes");  // open + commit
  EXPECT_EQ(mutations, 2);
  ContentInfo update;
  update.digest = digest;
  update.labels = {{kRoot, "1"}};
  ASSERT_TRUE(cs().Update("ns", update, {}).ok());
  EXPECT_EQ(deletions, 0);
  update.labels = {};
  ASSERT_TRUE(cs().Update("ns", update, {}).ok());
  EXPECT_EQ(deletions, 1) << "dropping a gc label may free something";
  ASSERT_TRUE(cs().Delete("ns", digest).ok());
  ASSERT_TRUE(sn().Prepare("ns", "k", "", {}).ok());
  ASSERT_TRUE(sn().Remove("ns", "k").ok());
  ASSERT_TRUE(leases().Create("ns", "l", {}).ok());
  ASSERT_TRUE(leases().Delete("ns", "l").ok());
  EXPECT_EQ(mutations, 9);
  EXPECT_EQ(deletions, 4);
  env_.Collect();
  EXPECT_EQ(mutations, 9) << "a collection reports no changes of its own";
}

TEST_F(GcTest, OtherKindsAddRoots) {
  // A container-like record naming its snapshot (as containerd's containers
  // bucket does), read by a scanner registered for its kind.
  env_.md().AddGcKind("containers", [](std::string_view ns, std::string_view,
                                       std::string_view value, GcRootSink& roots) {
    roots.Snapshot(ns, "overlayfs", value);
    return Status::Ok();
  });
  ASSERT_TRUE(sn().Prepare("ns", "rootfs", "", {}).ok());
  ASSERT_TRUE(sn().Prepare("ns", "scratch", "", {}).ok());
  leveldb::WriteBatch batch;
  batch.Put(keys::NamespaceData("ns") + "containers/c1", "rootfs");
  ASSERT_TRUE(env_.md().db().Write(batch).ok());
  EXPECT_EQ(env_.Collect().snapshots_removed, 1);
  EXPECT_TRUE(HasSnapshot("ns", "rootfs"));
  EXPECT_FALSE(HasSnapshot("ns", "scratch"));
}

TEST_F(GcTest, ContainersKeepTheirSnapshotAndLabelReferences) {
  // The kind the metadata plugin registers itself (containers.h).
  ContainerRecords& containers = env_.md().containers();
  env_.Layer("ns", "base", "");
  ASSERT_TRUE(sn().Prepare("ns", "c1-rootfs", "base", {}).ok());
  ASSERT_TRUE(sn().Prepare("ns", "scratch", "", {}).ok());
  env_.Layer("ns", "labelled", "");
  const std::string spec = env_.Put("ns", "referenced by a label");
  const std::string orphan = env_.Put("ns", "nobody's");
  Container c;
  c.id = "c1";
  c.runtime.name = "io.containerd.runc.v2";
  c.spec = Any{"types.containerd.io/opencontainers/runtime-spec/1/Spec", "{}"};
  c.snapshotter = "overlayfs";
  c.snapshot_key = "c1-rootfs";
  c.labels = {{"containerd.io/gc.ref.content.spec", spec},
              {"containerd.io/gc.ref.snapshot.overlayfs", "labelled"}};
  ASSERT_TRUE(containers.Create("ns", c).ok());
  // Same key in another namespace: the container roots only its own.
  ASSERT_TRUE(sn().Prepare("other", "c1-rootfs", "", {}).ok());

  gc::Stats stats = env_.Collect();
  EXPECT_EQ(stats.snapshots_removed, 2) << "scratch and other's c1-rootfs";
  EXPECT_EQ(stats.content_removed, 1);
  EXPECT_TRUE(HasSnapshot("ns", "c1-rootfs"));
  EXPECT_TRUE(HasSnapshot("ns", "base")) << "the rootfs's parent";
  EXPECT_TRUE(HasSnapshot("ns", "labelled"));
  EXPECT_FALSE(HasSnapshot("ns", "scratch"));
  EXPECT_FALSE(HasSnapshot("other", "c1-rootfs"));
  EXPECT_TRUE(HasContent("ns", spec));
  EXPECT_TRUE(env_.BlobOnDisk(spec));
  EXPECT_FALSE(HasContent("ns", orphan));
  EXPECT_TRUE(containers.Get("ns", "c1").ok()) << "containers are never collected";

  // Dropping the label lets its targets go; the snapshot stays with the key.
  Container unlabelled = c;
  unlabelled.labels.clear();
  ASSERT_TRUE(containers.Update("ns", unlabelled, {"labels"}).ok());
  env_.Collect();
  EXPECT_FALSE(HasContent("ns", spec));
  EXPECT_FALSE(HasSnapshot("ns", "labelled"));
  EXPECT_TRUE(HasSnapshot("ns", "c1-rootfs"));

  ASSERT_TRUE(containers.Delete("ns", "c1").ok());
  stats = env_.Collect();
  EXPECT_EQ(stats.snapshots_removed, 2) << "c1-rootfs and base";
  EXPECT_FALSE(HasSnapshot("ns", "c1-rootfs"));
  EXPECT_FALSE(HasSnapshot("ns", "base"));
  EXPECT_EQ(env_.BackendSnapshots(), 0u);
}

}  // namespace
}  // namespace berth::host::metadata
