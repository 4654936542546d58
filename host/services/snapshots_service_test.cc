// containerd.services.snapshots.v1.Snapshots served in-process over a unix
// socket, on the real metadata and overlay plugins, called through the
// generated client stub as ctr would.
#include "services/snapshots_service.h"

#include <algorithm>
#include <memory>
#include <set>
#include <string>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "metadata/test_env.h"

namespace berth::host {
namespace {

namespace pb = containerd::services::snapshots::v1;

class SnapshotsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(env_.ok()) << env_.failure();
    ASSERT_NE(env_.service("io.containerd.grpc.v1.snapshots"), nullptr);
    address_ = "unix://" + env_.dir().path() + "/grpc.sock";
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address_, grpc::InsecureServerCredentials());
    builder.RegisterService(env_.service("io.containerd.grpc.v1.snapshots"));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = pb::Snapshots::NewStub(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& ns = "default") {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!ns.empty()) ctx->AddMetadata("containerd-namespace", ns);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return ctx;
  }
  grpc::Status Prepare(const std::string& key, const std::string& parent,
                       pb::PrepareSnapshotResponse* resp = nullptr,
                       const std::string& snapshotter = "overlayfs") {
    pb::PrepareSnapshotRequest req;
    req.set_snapshotter(snapshotter);
    req.set_key(key);
    req.set_parent(parent);
    pb::PrepareSnapshotResponse local;
    return stub_->Prepare(Ctx().get(), req, resp != nullptr ? resp : &local);
  }
  grpc::Status Commit(const std::string& name, const std::string& key) {
    pb::CommitSnapshotRequest req;
    req.set_snapshotter("overlayfs");
    req.set_name(name);
    req.set_key(key);
    google::protobuf::Empty resp;
    return stub_->Commit(Ctx().get(), req, &resp);
  }
  grpc::Status Remove(const std::string& key) {
    pb::RemoveSnapshotRequest req;
    req.set_snapshotter("overlayfs");
    req.set_key(key);
    google::protobuf::Empty resp;
    return stub_->Remove(Ctx().get(), req, &resp);
  }
  grpc::Status Stat(const std::string& key, pb::Info* info) {
    pb::StatSnapshotRequest req;
    req.set_snapshotter("overlayfs");
    req.set_key(key);
    pb::StatSnapshotResponse resp;
    grpc::Status s = stub_->Stat(Ctx().get(), req, &resp);
    *info = resp.info();
    return s;
  }
  // Every Info List streams, and how many messages carried them.
  grpc::Status List(const std::vector<std::string>& filters, std::vector<pb::Info>& out,
                    int* messages = nullptr) {
    pb::ListSnapshotsRequest req;
    req.set_snapshotter("overlayfs");
    for (const auto& f : filters) req.add_filters(f);
    auto ctx = Ctx();
    auto reader = stub_->List(ctx.get(), req);
    pb::ListSnapshotsResponse resp;
    int n = 0;
    while (reader->Read(&resp)) {
      ++n;
      out.insert(out.end(), resp.info().begin(), resp.info().end());
    }
    if (messages != nullptr) *messages = n;
    return reader->Finish();
  }

  metadata::testing::MetadataTestEnv env_{{SnapshotsServiceRegistration(HostEnv{})}};
  std::string address_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pb::Snapshots::Stub> stub_;
};

TEST_F(SnapshotsServiceTest, UnknownOrMissingSnapshotterIsInvalidArgument) {
  grpc::Status s = Prepare("k", "", nullptr, "zfs-nope");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("zfs-nope"), std::string::npos) << s.error_message();
  s = Prepare("k", "", nullptr, "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  pb::CleanupRequest cleanup;
  cleanup.set_snapshotter("zfs-nope");
  google::protobuf::Empty empty;
  EXPECT_EQ(stub_->Cleanup(Ctx().get(), cleanup, &empty).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  pb::ListSnapshotsRequest list;
  list.set_snapshotter("zfs-nope");
  auto ctx = Ctx();
  auto reader = stub_->List(ctx.get(), list);
  pb::ListSnapshotsResponse resp;
  EXPECT_FALSE(reader->Read(&resp));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SnapshotsServiceTest, NamespaceIsRequired) {
  pb::PrepareSnapshotRequest req;
  req.set_snapshotter("overlayfs");
  req.set_key("k");
  pb::PrepareSnapshotResponse resp;
  // containerd's answer to a missing or empty namespace.
  grpc::Status s = stub_->Prepare(Ctx("").get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("namespace is required"), std::string::npos)
      << s.error_message();
}

TEST_F(SnapshotsServiceTest, LifecycleAndMounts) {
  pb::PrepareSnapshotResponse first;
  ASSERT_TRUE(Prepare("base-active", "", &first).ok());
  ASSERT_EQ(first.mounts_size(), 1);
  EXPECT_EQ(first.mounts(0).type(), "bind");
  EXPECT_EQ(std::set<std::string>(first.mounts(0).options().begin(),
                                  first.mounts(0).options().end()),
            (std::set<std::string>{"rbind", "rw"}));
  ASSERT_TRUE(Commit("base", "base-active").ok());
  // As containerd: the name is checked before the key.
  EXPECT_EQ(Commit("base", "base-active").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Commit("other", "base-active").error_code(), grpc::StatusCode::NOT_FOUND);

  pb::PrepareSnapshotResponse upper;
  ASSERT_TRUE(Prepare("upper", "base", &upper).ok());
  ASSERT_EQ(upper.mounts_size(), 1);
  EXPECT_EQ(upper.mounts(0).type(), "overlay");
  pb::MountsRequest mreq;
  mreq.set_snapshotter("overlayfs");
  mreq.set_key("upper");
  pb::MountsResponse mresp;
  ASSERT_TRUE(stub_->Mounts(Ctx().get(), mreq, &mresp).ok());
  EXPECT_EQ(mresp.mounts(0).SerializeAsString(), upper.mounts(0).SerializeAsString());

  pb::ViewSnapshotRequest vreq;
  vreq.set_snapshotter("overlayfs");
  vreq.set_key("view");
  vreq.set_parent("base");
  pb::ViewSnapshotResponse vresp;
  ASSERT_TRUE(stub_->View(Ctx().get(), vreq, &vresp).ok());
  ASSERT_EQ(vresp.mounts_size(), 1);
  EXPECT_EQ(vresp.mounts(0).type(), "bind");
  EXPECT_NE(std::find(vresp.mounts(0).options().begin(), vresp.mounts(0).options().end(),
                      "ro"),
            vresp.mounts(0).options().end());

  pb::Info info;
  ASSERT_TRUE(Stat("upper", &info).ok());
  EXPECT_EQ(info.kind(), pb::ACTIVE);
  EXPECT_EQ(info.parent(), "base");
  EXPECT_GT(info.created_at().seconds(), 0);
  ASSERT_TRUE(Stat("view", &info).ok());
  EXPECT_EQ(info.kind(), pb::VIEW);
  EXPECT_EQ(Stat("nope", &info).error_code(), grpc::StatusCode::NOT_FOUND);

  pb::UsageRequest ureq;
  ureq.set_snapshotter("overlayfs");
  ureq.set_key("base");
  pb::UsageResponse uresp;
  ASSERT_TRUE(stub_->Usage(Ctx().get(), ureq, &uresp).ok());
  EXPECT_GE(uresp.inodes(), 1);

  EXPECT_EQ(Remove("base").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Prepare("upper", "base").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Commit("from-view", "view").error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Prepare("", "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Remove("upper").ok());
  ASSERT_TRUE(Remove("view").ok());
  ASSERT_TRUE(Remove("base").ok());
  EXPECT_EQ(Remove("base").error_code(), grpc::StatusCode::NOT_FOUND);

  pb::CleanupRequest cleanup;
  cleanup.set_snapshotter("overlayfs");
  google::protobuf::Empty empty;
  EXPECT_TRUE(stub_->Cleanup(Ctx().get(), cleanup, &empty).ok());
}

TEST_F(SnapshotsServiceTest, UpdateFollowsTheFieldMask) {
  pb::PrepareSnapshotRequest req;
  req.set_snapshotter("overlayfs");
  req.set_key("k");
  (*req.mutable_labels())["keep"] = "1";
  (*req.mutable_labels())["drop"] = "2";
  pb::PrepareSnapshotResponse presp;
  ASSERT_TRUE(stub_->Prepare(Ctx().get(), req, &presp).ok());

  pb::UpdateSnapshotRequest up;
  up.set_snapshotter("overlayfs");
  up.mutable_info()->set_name("k");
  (*up.mutable_info()->mutable_labels())["new"] = "3";
  up.mutable_update_mask()->add_paths("labels.new");
  up.mutable_update_mask()->add_paths("labels.drop");
  pb::UpdateSnapshotResponse resp;
  ASSERT_TRUE(stub_->Update(Ctx().get(), up, &resp).ok());
  const auto& labels = resp.info().labels();
  EXPECT_EQ(labels.count("keep"), 1u);
  EXPECT_EQ(labels.count("drop"), 0u);
  EXPECT_EQ(labels.count("new"), 1u);
  EXPECT_EQ(resp.info().kind(), pb::ACTIVE);

  up.mutable_update_mask()->add_paths("parent");
  EXPECT_EQ(stub_->Update(Ctx().get(), up, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  up.mutable_info()->set_name("missing");
  up.mutable_update_mask()->Clear();
  EXPECT_EQ(stub_->Update(Ctx().get(), up, &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SnapshotsServiceTest, ListStreamsEverySnapshotInBatches) {
  constexpr int kCount = 230;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(Prepare("k" + std::to_string(1000 + i), "").ok()) << i;
  }
  std::vector<pb::Info> all;
  int messages = 0;
  ASSERT_TRUE(List({}, all, &messages).ok());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kCount));
  EXPECT_GE(messages, 2);  // more than one batch
  std::set<std::string> names;
  for (const auto& info : all) names.insert(info.name());
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kCount));

  std::vector<pb::Info> one;
  ASSERT_TRUE(List({"name==k1007"}, one).ok());
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].name(), "k1007");
  std::vector<pb::Info> bad;
  EXPECT_EQ(List({"name=="}, bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Another namespace sees none of them.
  pb::ListSnapshotsRequest req;
  req.set_snapshotter("overlayfs");
  auto ctx = Ctx("elsewhere");
  auto reader = stub_->List(ctx.get(), req);
  pb::ListSnapshotsResponse resp;
  int seen = 0;
  while (reader->Read(&resp)) seen += resp.info_size();
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(seen, 0);
}

}  // namespace
}  // namespace berth::host
