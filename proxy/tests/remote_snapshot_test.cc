// containerd's remote-snapshot contract through berthd: a snapshotter that
// answers a Prepare carrying containerd.io/snapshot.ref with AlreadyExists,
// having committed the target itself, gets that target adopted into the
// caller's namespace. The snapshotter is the remote-overlay fixture served by
// berth-snapshotter behind a proxy plugin; the Prepare calls carry labels, so
// they go to berthd's API directly (ctr has no flag for labels).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "berthd_process.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "proxy_test_util.h"
#include "snapshotter_process.h"

namespace berth::test {
namespace {

namespace pb = containerd::services::snapshots::v1;

constexpr char kRef[] = "containerd.io/snapshot.ref";
constexpr char kRemote[] = "containerd.io/snapshot/remote";

class RemoteSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(peer_.Run());
    BerthdOptions options;
    options.extra_toml = kNoScheduledGc + ProxyPluginToml("remote", "snapshot", peer_.socket());
    berthd_ = std::make_unique<BerthdProcess>(options);
    ASSERT_TRUE(berthd_->Start());
    ASSERT_TRUE(berthd_->WaitServing());
    stub_ = pb::Snapshots::NewStub(
        grpc::CreateChannel("unix://" + berthd_->socket(), grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& ns) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("containerd-namespace", ns);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ctx;
  }
  grpc::Status Prepare(const std::string& ns, const std::string& key, const std::string& parent,
                       const std::map<std::string, std::string>& labels) {
    pb::PrepareSnapshotRequest req;
    req.set_snapshotter("remote");
    req.set_key(key);
    req.set_parent(parent);
    req.mutable_labels()->insert(labels.begin(), labels.end());
    pb::PrepareSnapshotResponse resp;
    return stub_->Prepare(Ctx(ns).get(), req, &resp);
  }
  // Prepares `key` the way an unpacker asks a remote snapshotter for a layer.
  grpc::Status PrepareRemote(const std::string& ns, const std::string& key,
                             const std::string& parent, const std::string& target) {
    return Prepare(ns, key, parent, {{kRef, target}, {kRemote, "true"}, {"mine", "yes"}});
  }
  grpc::Status Stat(const std::string& ns, const std::string& key, pb::Info* info) {
    pb::StatSnapshotRequest req;
    req.set_snapshotter("remote");
    req.set_key(key);
    pb::StatSnapshotResponse resp;
    grpc::Status s = stub_->Stat(Ctx(ns).get(), req, &resp);
    *info = resp.info();
    return s;
  }

  SnapshotterProcess peer_{RemoteOverlayFixturePath()};
  std::unique_ptr<BerthdProcess> berthd_;
  std::unique_ptr<pb::Snapshots::Stub> stub_;
};

TEST_F(RemoteSnapshotTest, TargetCommittedByTheBackendIsAdopted) {
  grpc::Status s = PrepareRemote("default", "extract-1", "", "layer-1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_TRUE(Contains(s.error_message(), "target snapshot \"layer-1\""));
  pb::Info info;
  ASSERT_TRUE(Stat("default", "layer-1", &info).ok());
  EXPECT_EQ(info.kind(), pb::COMMITTED);
  EXPECT_EQ(info.parent(), "");
  EXPECT_EQ(info.labels().at(kRef), "layer-1");
  EXPECT_EQ(info.labels().at("mine"), "yes");
  EXPECT_FALSE(Stat("default", "extract-1", &info).ok());  // the key was never made

  // The next layer, over the adopted one.
  s = PrepareRemote("default", "extract-2", "layer-1", "layer-2");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  ASSERT_TRUE(Stat("default", "layer-2", &info).ok());
  EXPECT_EQ(info.parent(), "layer-1");
  EXPECT_EQ(info.kind(), pb::COMMITTED);

  // Usable as any committed snapshot, through the stock ctr.
  CommandResult view =
      berthd_->Ctr({"snapshots", "--snapshotter", "remote", "view", "v", "layer-2"});
  EXPECT_EQ(view.exit_code, 0) << view.Describe();
  CommandResult ls = berthd_->Ctr({"snapshots", "--snapshotter", "remote", "ls"});
  EXPECT_TRUE(Contains(ls.out, "layer-2"));
  // Asked again, the namespace already has it.
  s = PrepareRemote("default", "extract-3", "", "layer-1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(RemoteSnapshotTest, AnotherNamespaceAdoptsTheSameTarget) {
  ASSERT_EQ(PrepareRemote("ns1", "x", "", "shared").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  grpc::Status s = PrepareRemote("ns2", "y", "", "shared");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  pb::Info info;
  EXPECT_TRUE(Stat("ns2", "shared", &info).ok());
  EXPECT_TRUE(Stat("ns1", "shared", &info).ok());
}

TEST_F(RemoteSnapshotTest, OrdinaryPrepareWithATargetStaysLocal) {
  grpc::Status s = Prepare("default", "plain", "", {{kRef, "layer-x"}});
  ASSERT_TRUE(s.ok()) << s.error_message();
  pb::Info info;
  ASSERT_TRUE(Stat("default", "plain", &info).ok());
  EXPECT_EQ(info.kind(), pb::ACTIVE);
  EXPECT_FALSE(Stat("default", "layer-x", &info).ok());
}

}  // namespace
}  // namespace berth::test
