// SnapshotsServer on a unix socket over a FakeSnapshotter: what its resolver
// and backend see of each call, a backend that throws, one that hangs, and
// the List stream.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "berth/grpc/serve.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "fake_snapshotter.h"

namespace berth::grpc_util {
namespace {

namespace pb = containerd::services::snapshots::v1;
using fakes::FakeSnapshotter;

class SnapshotsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-sn-server-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Serves `resolve` under `rules` and connects a stub.
  void Serve(SnapshotterResolver resolve, CallRules rules) {
    service_ = std::make_unique<SnapshotsServer>(std::move(resolve), rules);
    auto server = UnixServer::Start(dir_ + "/s.sock", {service_->service()});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    stub_ = pb::Snapshots::NewStub(
        grpc::CreateChannel("unix:" + server_->path(), grpc::InsecureChannelCredentials()));
  }
  void ServeFake(CallRules rules = {}) {
    Serve([this](const CallContext& call, const std::string& name)
              -> Result<std::shared_ptr<Snapshotter>> {
      seen_ = call;
      seen_name_ = name;
      return std::shared_ptr<Snapshotter>(fake_);
    },
          rules);
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& ns = "n1",
                                                  const std::string& lease = "") {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!ns.empty()) ctx->AddMetadata("containerd-namespace", ns);
    if (!lease.empty()) ctx->AddMetadata("containerd-lease", lease);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return ctx;
  }

  grpc::Status Stat(const std::string& key, const std::string& ns = "n1") {
    pb::StatSnapshotRequest req;
    req.set_snapshotter("fake");
    req.set_key(key);
    pb::StatSnapshotResponse resp;
    return stub_->Stat(Ctx(ns).get(), req, &resp);
  }

  std::string dir_;
  std::shared_ptr<FakeSnapshotter> fake_ = std::make_shared<FakeSnapshotter>();
  CallContext seen_;
  std::string seen_name_;
  std::unique_ptr<SnapshotsServer> service_;
  std::unique_ptr<UnixServer> server_;
  std::unique_ptr<pb::Snapshots::Stub> stub_;
};

TEST_F(SnapshotsServerTest, ResolverAndBackendSeeTheCallsNamespaceLeaseAndDeadline) {
  fake_->on_prepare = [](const std::string&, const std::string&) -> Result<std::vector<Mount>> {
    return std::vector<Mount>{{"bind", "/src", "", {"rbind", "ro"}}};
  };
  ServeFake();
  pb::PrepareSnapshotRequest req;
  req.set_snapshotter("fake");
  req.set_key("k");
  pb::PrepareSnapshotResponse resp;
  const auto before = std::chrono::system_clock::now();
  grpc::Status s = stub_->Prepare(Ctx("team-a", "lease-1").get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.mounts_size(), 1);
  EXPECT_EQ(resp.mounts(0).source(), "/src");
  EXPECT_EQ(seen_.ns, "team-a");
  EXPECT_EQ(seen_.lease, "lease-1");
  EXPECT_EQ(seen_name_, "fake");
  EXPECT_GT(seen_.deadline, before);
  EXPECT_LT(seen_.deadline, before + std::chrono::seconds(60));
  auto calls = fake_->calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].method, "Prepare");
  EXPECT_EQ(calls[0].context.ns, "team-a");  // the CallScope was open
  EXPECT_EQ(calls[0].context.lease, "lease-1");
}

TEST_F(SnapshotsServerTest, NamespaceRulesAreContainerds) {
  ServeFake(CallRules{.namespace_required = true});
  grpc::Status s = Stat("k", "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("namespace is required"), std::string::npos);
  s = Stat("k", "not/valid");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_TRUE(fake_->calls().empty());  // refused before the backend
}

TEST_F(SnapshotsServerTest, ANamespaceMayBeAbsentWhenTheRulesSaySo) {
  fake_->on_stat = [](const std::string& key) -> Result<snapshots::Info> {
    return snapshots::Info{key, "", snapshots::Kind::kCommitted, {}, {}, {}};
  };
  ServeFake(CallRules{.namespace_required = false});
  EXPECT_TRUE(Stat("k", "").ok());
  EXPECT_EQ(seen_.ns, "");
}

TEST_F(SnapshotsServerTest, AThrowingBackendAnswersUnknownAndTheServerLives) {
  fake_->on_stat = [](const std::string&) -> Result<snapshots::Info> {
    throw std::runtime_error("disk on fire");
  };
  fake_->on_remove = [](const std::string&) -> Status { throw 7; };
  ServeFake();
  grpc::Status s = Stat("k");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_NE(s.error_message().find("disk on fire"), std::string::npos) << s.error_message();
  pb::RemoveSnapshotRequest rm;
  rm.set_snapshotter("fake");
  rm.set_key("k");
  google::protobuf::Empty empty;
  EXPECT_EQ(stub_->Remove(Ctx().get(), rm, &empty).error_code(), grpc::StatusCode::UNKNOWN);
  // A resolver that throws is guarded too.
  service_.reset();
  server_.reset();
  Serve([](const CallContext&, const std::string&) -> Result<std::shared_ptr<Snapshotter>> {
    throw std::logic_error("resolver bug");
  },
        {});
  s = Stat("k");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_NE(s.error_message().find("resolver bug"), std::string::npos);
}

TEST_F(SnapshotsServerTest, HungCallsLeaveTheServerAnswering) {
  std::atomic<bool> release{false};
  fake_->on_prepare = [&](const std::string&, const std::string&) -> Result<std::vector<Mount>> {
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return std::vector<Mount>{};
  };
  fake_->on_stat = [](const std::string& key) -> Result<snapshots::Info> {
    return snapshots::Info{key, "", snapshots::Kind::kActive, {}, {}, {}};
  };
  Executor executor(32);
  ServeFake(CallRules{.namespace_required = true, .executor = &executor});
  // More hung calls than gRPC has callback threads on this machine.
  constexpr int kHung = 12;
  std::vector<std::thread> callers;
  std::atomic<int> finished{0};
  for (int i = 0; i < kHung; ++i) {
    callers.emplace_back([&, i] {
      pb::PrepareSnapshotRequest req;
      req.set_snapshotter("fake");
      req.set_key("hung-" + std::to_string(i));
      pb::PrepareSnapshotResponse resp;
      (void)stub_->Prepare(Ctx().get(), req, &resp);
      ++finished;
    });
  }
  // Wait (bounded) until every hung call reached the backend.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto prepares = [&] {
    int n = 0;
    for (const auto& c : fake_->calls()) n += c.method == "Prepare";
    return n;
  };
  while (prepares() < kHung && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(prepares(), kHung);
  // Stat still answers, and promptly, while they hang.
  pb::StatSnapshotRequest req;
  req.set_snapshotter("fake");
  req.set_key("free");
  pb::StatSnapshotResponse resp;
  auto ctx = Ctx();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Status s = stub_->Stat(ctx.get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(finished.load(), 0);
  release = true;
  for (auto& t : callers) t.join();
  EXPECT_EQ(finished.load(), kHung);
}

// Cheap reads run on gRPC's thread only for a local backend: a remote one's
// hung Stats wait on the executor while other calls are answered.
TEST_F(SnapshotsServerTest, ReadsOfARemoteBackendThatHangLeaveTheServerAnswering) {
  fake_->remote = true;
  std::atomic<bool> release{false};
  fake_->on_stat = [&](const std::string& key) -> Result<snapshots::Info> {
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return snapshots::Info{key, "", snapshots::Kind::kCommitted, {}, {}, {}};
  };
  fake_->on_mounts = [](const std::string&) -> Result<std::vector<Mount>> {
    return std::vector<Mount>{};
  };
  Executor executor(32);
  ServeFake(CallRules{.namespace_required = true, .executor = &executor});
  constexpr int kHung = 12;
  std::vector<std::thread> callers;
  for (int i = 0; i < kHung; ++i) callers.emplace_back([&] { (void)Stat("k"); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto stats = [&] {
    int n = 0;
    for (const auto& c : fake_->calls()) n += c.method == "Stat";
    return n;
  };
  while (stats() < kHung && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(stats(), kHung);
  pb::MountsRequest req;
  req.set_snapshotter("fake");
  req.set_key("m");
  pb::MountsResponse resp;
  auto ctx = Ctx();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Status s = stub_->Mounts(ctx.get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  release = true;
  for (auto& t : callers) t.join();
}

TEST_F(SnapshotsServerTest, ListStreamsEveryInfoInBatchesOfAHundred) {
  for (int i = 0; i < 250; ++i) {
    fake_->walk.push_back({"s" + std::to_string(i), "", snapshots::Kind::kCommitted, {}, {}, {}});
  }
  ServeFake();
  pb::ListSnapshotsRequest req;
  req.set_snapshotter("fake");
  auto ctx = Ctx("ns-x");
  auto reader = stub_->List(ctx.get(), req);
  pb::ListSnapshotsResponse resp;
  std::vector<int> sizes;
  while (reader->Read(&resp)) sizes.push_back(resp.info_size());
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(sizes, (std::vector<int>{100, 100, 50}));
  EXPECT_EQ(seen_.ns, "ns-x");
}

}  // namespace
}  // namespace berth::grpc_util
