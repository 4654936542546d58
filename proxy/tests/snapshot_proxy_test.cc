// A snapshot proxy plugin end to end: berthd with [proxy_plugins.peer]
// pointing at a berth-snapshotter that serves the overlay snapshotter, driven
// by the stock ctr through berthd's socket; the snapshots are mounted for
// real, and the peer is asked directly what it holds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "berthd_process.h"
#include "proxy_test_util.h"
#include "snapshotter_process.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

class SnapshotProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(peer_.Run());
    BerthdOptions options;
    options.extra_toml =
        kNoScheduledGc + ProxyPluginToml("peer", "snapshot", peer_.socket(),
                                         "  platform = \"linux/arm64/v8\"\n"
                                         "  capabilities = [\"remote-snapshots\"]\n"
                                         "  exports = { root = \"/srv/peer\" }\n");
    berthd_ = std::make_unique<BerthdProcess>(options);
    ASSERT_TRUE(berthd_->Start());
    ASSERT_TRUE(berthd_->WaitServing());
  }

  CommandResult Snap(const std::string& ns, std::vector<std::string> args) {
    std::vector<std::string> argv = {"-n", ns, "snapshots", "--snapshotter", "peer"};
    argv.insert(argv.end(), args.begin(), args.end());
    return berthd_->Ctr(argv);
  }
  // What the peer itself holds (its keys are the metadata layer's).
  std::string PeerList() {
    return RunCommand(
               {kCtr, "--address", peer_.socket(), "snapshots", "--snapshotter", "any", "ls"})
        .out;
  }
  std::vector<Mount> MountsOf(const std::string& ns, const std::string& key) {
    CommandResult r = Snap(ns, {"mounts", "/target", key});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return ParseMountCommands(r.out);
  }

  SnapshotterProcess peer_;
  std::unique_ptr<BerthdProcess> berthd_;
  TempDir scratch_{"berth-proxy-mnt-"};
};

TEST_F(SnapshotProxyTest, ListedWithItsConfiguredMeta) {
  CommandResult ls = berthd_->Ctr({"plugins", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  EXPECT_EQ(ParsePluginTable(ls.out)["io.containerd.snapshotter.v1.peer"], "ok") << ls.out;
  CommandResult detailed = berthd_->Berthctl({"plugins", "ls", "--detailed", "id==peer"});
  ASSERT_EQ(detailed.exit_code, 0) << detailed.Describe();
  EXPECT_TRUE(Contains(detailed.out, "linux/arm64/v8"));
  EXPECT_TRUE(Contains(detailed.out, "remote-snapshots"));
  EXPECT_TRUE(Contains(detailed.out, peer_.socket()));
  EXPECT_TRUE(Contains(detailed.out, "/srv/peer"));
  EXPECT_EQ(detailed.out.find("status"), std::string::npos) << detailed.out;
  // Registered, so its config table is no unknown plugin.
  EXPECT_EQ(berthd_->Log().find("unknown plugin"), std::string::npos) << berthd_->Log();
}

TEST_F(SnapshotProxyTest, PrepareCommitViewMountsRemoveThroughBerthd) {
  CommandResult r = Snap("default", {"prepare", "base"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  {
    MountedAt m(MountsOf("default", "base"), scratch_.Join("base"));
    ASSERT_TRUE(m.status().ok()) << m.status().ToString();
    ASSERT_TRUE(WriteFile(m / "hello", "from the base layer"));
  }
  ASSERT_EQ(Snap("default", {"commit", "layer1", "base"}).exit_code, 0);
  ASSERT_EQ(Snap("default", {"prepare", "top", "layer1"}).exit_code, 0);
  {
    MountedAt m(MountsOf("default", "top"), scratch_.Join("top"));
    ASSERT_TRUE(m.status().ok()) << m.status().ToString();
    EXPECT_EQ(ReadFile(m / "hello"), "from the base layer");
    EXPECT_TRUE(WriteFile(m / "top-only", "x"));
  }
  ASSERT_EQ(Snap("default", {"view", "look", "layer1"}).exit_code, 0);
  {
    MountedAt m(MountsOf("default", "look"), scratch_.Join("look"));
    ASSERT_TRUE(m.status().ok()) << m.status().ToString();
    EXPECT_EQ(ReadFile(m / "hello"), "from the base layer");
    EXPECT_NE(access((m / "top-only").c_str(), F_OK), 0);
  }

  CommandResult ls = Snap("default", {"ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  EXPECT_TRUE(Contains(ls.out, "layer1"));
  EXPECT_TRUE(Contains(ls.out, "Committed"));
  EXPECT_TRUE(Contains(ls.out, "View"));
  EXPECT_TRUE(Contains(ls.out, "Active"));
  CommandResult info = Snap("default", {"info", "top"});
  ASSERT_EQ(info.exit_code, 0) << info.Describe();
  EXPECT_TRUE(Contains(info.out, "\"Parent\": \"layer1\""));
  CommandResult usage = Snap("default", {"usage", "top"});
  EXPECT_EQ(usage.exit_code, 0) << usage.Describe();
  // The peer holds the metadata layer's keys, "<ns>/<seq>/<key>".
  EXPECT_TRUE(Contains(PeerList(), "default/"));

  CommandResult busy = Snap("default", {"rm", "layer1"});
  EXPECT_NE(busy.exit_code, 0);
  EXPECT_TRUE(Contains(busy.err, "failed precondition"));
  for (const char* key : {"look", "top", "layer1"}) {
    CommandResult rm = Snap("default", {"rm", key});
    EXPECT_EQ(rm.exit_code, 0) << key << ": " << rm.Describe();
  }
  EXPECT_EQ(Snap("default", {"ls"}).out.find("layer1"), std::string::npos);
  CommandResult gone = Snap("default", {"info", "layer1"});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_TRUE(Contains(gone.err, "not found"));
}

TEST_F(SnapshotProxyTest, NamespacesDoNotClash) {
  ASSERT_EQ(Snap("ns1", {"prepare", "same"}).exit_code, 0);
  ASSERT_EQ(Snap("ns2", {"prepare", "same"}).exit_code, 0);
  std::vector<Mount> one = MountsOf("ns1", "same");
  std::vector<Mount> two = MountsOf("ns2", "same");
  ASSERT_FALSE(one.empty());
  ASSERT_FALSE(two.empty());
  EXPECT_NE(one[0].source, two[0].source);
  {
    MountedAt m(one, scratch_.Join("one"));
    ASSERT_TRUE(m.status().ok()) << m.status().ToString();
    ASSERT_TRUE(WriteFile(m / "owner", "ns1"));
  }
  {
    MountedAt m(two, scratch_.Join("two"));
    ASSERT_TRUE(m.status().ok()) << m.status().ToString();
    EXPECT_NE(access((m / "owner").c_str(), F_OK), 0);
  }
  std::string peer = PeerList();
  EXPECT_TRUE(Contains(peer, "ns1/"));
  EXPECT_TRUE(Contains(peer, "ns2/"));
  ASSERT_EQ(Snap("ns1", {"rm", "same"}).exit_code, 0);
  EXPECT_EQ(Snap("ns1", {"ls"}).out.find("same"), std::string::npos);
  EXPECT_TRUE(Contains(Snap("ns2", {"ls"}).out, "same"));
  EXPECT_TRUE(Contains(Snap("ns2", {"info", "same"}).out, "Active"));
}

TEST_F(SnapshotProxyTest, PeerErrorsKeepTheirCodes) {
  CommandResult missing = Snap("default", {"prepare", "k", "no-such-parent"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(Contains(missing.err, "not found"));
  ASSERT_EQ(Snap("default", {"prepare", "k"}).exit_code, 0);
  CommandResult twice = Snap("default", {"prepare", "k"});
  EXPECT_NE(twice.exit_code, 0);
  EXPECT_TRUE(Contains(twice.err, "already exists"));
}

}  // namespace
}  // namespace berth::test
