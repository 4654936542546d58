// ProxySnapshotter against a peer in this process on a real unix socket: a
// small containerd.services.snapshots.v1 service that records what it was
// sent and can be told to hang, so headers, error codes, deadlines and
// reconnection are checked without any other process.
#include "snapshotter.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "berth/call_context.h"
#include "berth/mutex.h"

namespace berth::proxy {
namespace {

namespace pb = containerd::services::snapshots::v1;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Answers a call only when the client gives up on it.
class Hanging final : public grpc::ServerUnaryReactor {
 public:
  void OnCancel() override { Finish(grpc::Status::CANCELLED); }
  void OnDone() override { delete this; }
};

// Sends one message, then either ends or (filter "hang") waits for the
// client to cancel.
class OneThenMaybeHang final : public grpc::ServerWriteReactor<pb::ListSnapshotsResponse> {
 public:
  explicit OneThenMaybeHang(bool hang) : hang_(hang) {
    resp_.add_info()->set_name("first");
    StartWrite(&resp_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok || !hang_) Finish(grpc::Status::OK);
  }
  void OnCancel() override {
    if (hang_) Finish(grpc::Status::CANCELLED);
  }
  void OnDone() override { delete this; }

 private:
  bool hang_;
  pb::ListSnapshotsResponse resp_;
};

class FakePeer final : public pb::Snapshots::CallbackService {
 public:
  grpc::ServerUnaryReactor* Stat(grpc::CallbackServerContext* ctx,
                                 const pb::StatSnapshotRequest* req,
                                 pb::StatSnapshotResponse* resp) override {
    Record(*ctx, req->snapshotter());
    if (req->key() == "hang") return new Hanging();
    grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
    if (req->key() == "missing") {
      r->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "snapshot missing: not found"));
      return r;
    }
    resp->mutable_info()->set_name(req->key());
    resp->mutable_info()->set_kind(pb::COMMITTED);
    r->Finish(grpc::Status::OK);
    return r;
  }
  grpc::ServerWriteReactor<pb::ListSnapshotsResponse>* List(
      grpc::CallbackServerContext* ctx, const pb::ListSnapshotsRequest* req) override {
    Record(*ctx, req->snapshotter());
    return new OneThenMaybeHang(req->filters_size() > 0 && req->filters(0) == "hang");
  }

  struct Seen {
    std::string ns, lease, snapshotter;
  };
  Seen last() {
    MutexLock lock(&mu_);
    return last_;
  }

 private:
  void Record(const grpc::CallbackServerContext& ctx, const std::string& snapshotter) {
    auto header = [&](const char* key) {
      auto it = ctx.client_metadata().find(key);
      return it == ctx.client_metadata().end() ? std::string()
                                               : std::string(it->second.data(), it->second.size());
    };
    MutexLock lock(&mu_);
    last_ = {header("containerd-namespace"), header("containerd-lease"), snapshotter};
  }

  Mutex mu_;
  Seen last_ BERTH_GUARDED_BY(mu_);
};

class ProxySnapshotterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-proxy-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/peer.sock";
  }
  void TearDown() override {
    StopPeer();
    std::filesystem::remove_all(dir_);
  }

  void StartPeer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
    builder.RegisterService(&peer_);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_) << "cannot listen on " << socket_;
  }
  void StopPeer() {
    if (!server_) return;
    server_->Shutdown(std::chrono::system_clock::now() + milliseconds(500));
    server_.reset();
    std::filesystem::remove(socket_);
  }
  ProxySnapshotter Client(milliseconds timeout) {
    return ProxySnapshotter(
        std::make_shared<ProxyChannel>(ChannelOptions{"peer", socket_, timeout}));
  }
  std::string dir_;
  std::string socket_;
  FakePeer peer_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(ProxySnapshotterTest, ForwardsNameNamespaceAndLease) {
  StartPeer();
  auto sn = Client(milliseconds(5000));
  {
    CallScope scope({"ns1", "lease1"});
    auto info = sn.Stat("a");
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->name, "a");
    EXPECT_EQ(info->kind, snapshots::Kind::kCommitted);
  }
  EXPECT_EQ(peer_.last().ns, "ns1");
  EXPECT_EQ(peer_.last().lease, "lease1");
  EXPECT_EQ(peer_.last().snapshotter, "peer");
  ASSERT_TRUE(sn.Stat("a").ok());
  EXPECT_EQ(peer_.last().ns, "");
  EXPECT_EQ(peer_.last().lease, "");
}

TEST_F(ProxySnapshotterTest, PeerErrorsKeepTheirCode) {
  StartPeer();
  auto sn = Client(milliseconds(5000));
  auto info = sn.Stat("missing");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), Code::kNotFound);
  EXPECT_EQ(info.status().message(), "snapshot missing");
}

TEST_F(ProxySnapshotterTest, MissingPeerFailsFastThenConnectsWhenItAppears) {
  auto sn = Client(milliseconds(60000));
  auto start = steady_clock::now();
  auto info = sn.Stat("a");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), Code::kUnavailable) << info.status().ToString();
  EXPECT_NE(info.status().message().find("proxy peer (" + socket_ + ")"), std::string::npos)
      << info.status().message();
  // Far below the 60 s deadline: the call did not wait for the peer.
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(10));
  StartPeer();
  auto first = sn.Stat("a");  // no waiting out a reconnect backoff
  EXPECT_TRUE(first.ok()) << first.status().ToString();
}

TEST_F(ProxySnapshotterTest, SurvivesAPeerRestart) {
  StartPeer();
  auto sn = Client(milliseconds(5000));
  ASSERT_TRUE(sn.Stat("a").ok());
  StopPeer();
  auto down = sn.Stat("a");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), Code::kUnavailable) << down.status().ToString();
  StartPeer();
  auto first = sn.Stat("a");
  EXPECT_TRUE(first.ok()) << first.status().ToString();
}

TEST_F(ProxySnapshotterTest, HungUnaryCallEndsAtTheTimeout) {
  StartPeer();
  auto sn = Client(milliseconds(300));
  auto info = sn.Stat("hang");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), Code::kDeadlineExceeded) << info.status().ToString();
  EXPECT_TRUE(sn.Stat("a").ok());  // the channel is still good
}

TEST_F(ProxySnapshotterTest, HungStreamEndsAtTheTimeoutOfItsStep) {
  StartPeer();
  auto sn = Client(milliseconds(300));
  int seen = 0;
  Status s = sn.Walk(
      [&](const snapshots::Info& info) {
        EXPECT_EQ(info.name, "first");
        ++seen;
        return Status::Ok();
      },
      {"hang"});
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(s.code(), Code::kDeadlineExceeded) << s.ToString();
  seen = 0;
  s = sn.Walk(
      [&](const snapshots::Info&) {
        ++seen;
        return Status::Ok();
      },
      {});
  EXPECT_EQ(seen, 1);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_F(ProxySnapshotterTest, WalkStopsAtTheCallbacksError) {
  StartPeer();
  auto sn = Client(milliseconds(5000));
  Status s = sn.Walk([](const snapshots::Info&) { return Status::Canceled("enough"); }, {"hang"});
  EXPECT_EQ(s.code(), Code::kCanceled);
  EXPECT_EQ(s.message(), "enough");
}

}  // namespace
}  // namespace berth::proxy
