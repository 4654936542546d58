// The diff proxy plugin ([proxy_plugins.X] type = "diff"): ProxyDiffer
// against a containerd.services.diff.v1.Diff peer in this process on a real
// unix socket, which records what it was sent (headers, deadline, request)
// and answers, fails or hangs as the request asks; then berthd configured
// with that proxy as its diff-service's differ, called through its Diff API.
#include <google/protobuf/wrappers.pb.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "berth/call_context.h"
#include "berth/grpc/convert.h"
#include "berth/mutex.h"
#include "berthd_process.h"
#include "client/content_store.h"
#include "client/differ.h"
#include "containerd/services/diff/v1/diff.grpc.pb.h"
#include "proxy_test_util.h"

namespace berth::test {
namespace {

namespace pb = containerd::services::diff::v1;
using proxy::ChannelOptions;
using proxy::ProxyChannel;
using proxy::ProxyDiffer;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using std::chrono::system_clock;

// What the peer's requests ask of it, by descriptor digest (Apply) or media
// type (Diff).
constexpr char kMissing[] = "sha256:missing";  // answer NOT_FOUND
constexpr char kHang[] = "hang";               // answer only when cancelled
constexpr char kAppliedDigest[] =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
constexpr char kLayerDigest[] =
    "sha256:abababababababababababababababababababababababababababababababab";
constexpr char kDiffDigest[] =
    "sha256:2222222222222222222222222222222222222222222222222222222222222222";

// Answers a call only when the client gives up on it (or the server stops).
class Hanging final : public grpc::ServerUnaryReactor {
 public:
  void OnCancel() override { Finish(grpc::Status::CANCELLED); }
  void OnDone() override { delete this; }
};

class FakeDiffPeer final : public pb::Diff::CallbackService {
 public:
  struct Seen {
    std::string ns, lease;
    system_clock::time_point deadline;
    std::optional<pb::ApplyRequest> apply;
    std::optional<pb::DiffRequest> diff;
  };

  grpc::ServerUnaryReactor* Apply(grpc::CallbackServerContext* ctx, const pb::ApplyRequest* req,
                                  pb::ApplyResponse* resp) override {
    Record(*ctx, [&](Seen& seen) { seen.apply = *req; });
    if (req->diff().digest() == kHang) return new Hanging();
    grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
    if (req->diff().digest() == kMissing) {
      r->Finish(
          grpc::Status(grpc::StatusCode::NOT_FOUND, "content digest sha256:missing: not found"));
      return r;
    }
    containerd::types::Descriptor* applied = resp->mutable_applied();
    applied->set_media_type("application/vnd.oci.image.layer.v1.tar");
    applied->set_digest(kAppliedDigest);
    applied->set_size(4096);
    r->Finish(grpc::Status::OK);
    return r;
  }

  grpc::ServerUnaryReactor* Diff(grpc::CallbackServerContext* ctx, const pb::DiffRequest* req,
                                 pb::DiffResponse* resp) override {
    Record(*ctx, [&](Seen& seen) { seen.diff = *req; });
    if (req->media_type() == kHang) return new Hanging();
    grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
    if (req->media_type() == "unsupported") {
      r->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                             "unsupported diff media type: unsupported: not implemented"));
      return r;
    }
    containerd::types::Descriptor* diff = resp->mutable_diff();
    diff->set_media_type(req->media_type());
    diff->set_digest(kDiffDigest);
    diff->set_size(123);
    diff->mutable_annotations()->insert(req->labels().begin(), req->labels().end());
    r->Finish(grpc::Status::OK);
    return r;
  }

  Seen last() {
    MutexLock lock(&mu_);
    return last_;
  }
  int calls() {
    MutexLock lock(&mu_);
    return calls_;
  }

 private:
  template <typename Fn>
  void Record(const grpc::CallbackServerContext& ctx, Fn fill) {
    auto header = [&](const char* key) {
      auto it = ctx.client_metadata().find(key);
      return it == ctx.client_metadata().end() ? std::string()
                                               : std::string(it->second.data(), it->second.size());
    };
    Seen seen{header("containerd-namespace"), header("containerd-lease"), ctx.deadline(), {}, {}};
    fill(seen);
    MutexLock lock(&mu_);
    last_ = std::move(seen);
    ++calls_;
  }

  Mutex mu_;
  Seen last_ BERTH_GUARDED_BY(mu_);
  int calls_ BERTH_GUARDED_BY(mu_) = 0;
};

// The peer on `<dir>/diff.sock`, started and stopped by the test.
class DiffPeerTest : public ::testing::Test {
 protected:
  void TearDown() override { StopPeer(); }

  void StartPeer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
    builder.RegisterService(&peer_);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_) << "cannot listen on " << socket_;
  }
  void StopPeer() {
    if (!server_) return;
    server_->Shutdown(system_clock::now() + milliseconds(500));
    server_.reset();
    std::filesystem::remove(socket_);
  }
  ProxyDiffer Client(milliseconds timeout) {
    return ProxyDiffer(std::make_shared<ProxyChannel>(ChannelOptions{"rdiff", socket_, timeout}));
  }

  TempDir dir_{"berth-diff-proxy-"};
  const std::string socket_ = dir_.Join("diff.sock");
  FakeDiffPeer peer_;
  std::unique_ptr<grpc::Server> server_;
  // The local store the diff service hands a differ, which a remote differ
  // must not touch: a content proxy to a socket nobody serves.
  proxy::ProxyContentStore local_store_{std::make_shared<ProxyChannel>(
      ChannelOptions{"unused-local", dir_.Join("nobody.sock"), milliseconds(100)})};
};

const std::vector<Mount> kMounts = {
    {"overlay", "overlay", "", {"workdir=/w", "upperdir=/u", "lowerdir=/l1:/l2"}},
    {"bind", "/src", "sub", {"ro", "rbind"}},
};

TEST_F(DiffPeerTest, ApplyCarriesNamespaceLeaseDeadlineDescriptorMountsAndPayloads) {
  ASSERT_NO_FATAL_FAILURE(StartPeer());
  ProxyDiffer differ = Client(seconds(30));
  const Descriptor layer{"application/vnd.oci.image.layer.v1.tar+gzip",
                         kLayerDigest,
                         1234,
                         {{"containerd.io/uncompressed", "sha256:cd"}, {"note", "x"}}};
  google::protobuf::StringValue value;
  value.set_value("payload bytes");
  google::protobuf::Any any;
  any.PackFrom(value);
  ApplyOptions opts;
  opts.processor_payloads["io.example.proc"] = any.SerializeAsString();
  const auto call_deadline = system_clock::now() + seconds(10);
  Result<Descriptor> applied = Status::Unknown("not called");
  {
    CallScope scope({"team-a", "lease-7", call_deadline});
    applied = differ.Apply(local_store_, layer, kMounts, opts);
  }
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(*applied,
            (Descriptor{"application/vnd.oci.image.layer.v1.tar", kAppliedDigest, 4096, {}}));

  FakeDiffPeer::Seen seen = peer_.last();
  EXPECT_EQ(seen.ns, "team-a");
  EXPECT_EQ(seen.lease, "lease-7");
  // The caller's 10 s, not the proxy's 30 s (allowing for clock rounding).
  EXPECT_LE(seen.deadline, call_deadline + seconds(1));
  EXPECT_GT(seen.deadline, call_deadline - seconds(5));
  ASSERT_TRUE(seen.apply.has_value());
  EXPECT_EQ(grpc_util::FromProto(seen.apply->diff()), layer);
  EXPECT_EQ(grpc_util::FromProto(seen.apply->mounts()), kMounts);
  ASSERT_EQ(seen.apply->payloads().size(), 1u);
  const google::protobuf::Any& sent = seen.apply->payloads().at("io.example.proc");
  EXPECT_EQ(sent.type_url(), any.type_url());
  google::protobuf::StringValue unpacked;
  ASSERT_TRUE(sent.UnpackTo(&unpacked));
  EXPECT_EQ(unpacked.value(), "payload bytes");
}

TEST_F(DiffPeerTest, CompareCarriesBothMountSetsAndOptions) {
  ASSERT_NO_FATAL_FAILURE(StartPeer());
  ProxyDiffer differ = Client(seconds(30));
  DiffOptions opts;
  opts.media_type = "application/vnd.oci.image.layer.v1.tar+zstd";
  opts.ref = "diff-ref-1";
  opts.labels = {{"containerd.io/gc.root", "now"}};
  const std::vector<Mount> upper = {{"bind", "/upper", "", {"ro"}}};
  Result<Descriptor> diff = Status::Unknown("not called");
  {
    CallScope scope({"team-b", "lease-9"});
    diff = differ.Compare(local_store_, kMounts, upper, opts);
  }
  ASSERT_TRUE(diff.ok()) << diff.status().ToString();
  EXPECT_EQ(*diff, (Descriptor{opts.media_type, kDiffDigest, 123, opts.labels}));
  FakeDiffPeer::Seen seen = peer_.last();
  EXPECT_EQ(seen.ns, "team-b");
  EXPECT_EQ(seen.lease, "lease-9");
  // No caller deadline: the proxy's timeout bounds the call.
  EXPECT_LT(seen.deadline, system_clock::now() + seconds(31));
  ASSERT_TRUE(seen.diff.has_value());
  EXPECT_EQ(grpc_util::FromProto(seen.diff->left()), kMounts);
  EXPECT_EQ(grpc_util::FromProto(seen.diff->right()), upper);
  EXPECT_EQ(seen.diff->media_type(), opts.media_type);
  EXPECT_EQ(seen.diff->ref(), "diff-ref-1");
  EXPECT_EQ(grpc_util::FromProto(seen.diff->labels()), opts.labels);
}

TEST_F(DiffPeerTest, NoCallContextSendsNoHeaders) {
  ASSERT_NO_FATAL_FAILURE(StartPeer());
  ProxyDiffer differ = Client(seconds(30));
  ASSERT_TRUE(differ.Compare(local_store_, {}, kMounts, {}).ok());
  EXPECT_EQ(peer_.last().ns, "");
  EXPECT_EQ(peer_.last().lease, "");
}

TEST_F(DiffPeerTest, PeerErrorsKeepTheirCode) {
  ASSERT_NO_FATAL_FAILURE(StartPeer());
  ProxyDiffer differ = Client(seconds(30));
  auto missing = differ.Apply(local_store_, {"m", kMissing, 1, {}}, kMounts, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound) << missing.status().ToString();
  EXPECT_EQ(missing.status().message(), "content digest sha256:missing");
  DiffOptions unsupported;
  unsupported.media_type = "unsupported";
  auto diff = differ.Compare(local_store_, kMounts, kMounts, unsupported);
  ASSERT_FALSE(diff.ok());
  // NotImplemented, which lets the diff service go on to its next differ.
  EXPECT_EQ(diff.status().code(), Code::kNotImplemented) << diff.status().ToString();
}

TEST_F(DiffPeerTest, BadPayloadIsInvalidArgumentAndNotSent) {
  ASSERT_NO_FATAL_FAILURE(StartPeer());
  ProxyDiffer differ = Client(seconds(30));
  ApplyOptions opts;
  opts.processor_payloads["p"] = std::string("\xff\xff\xff", 3);
  auto applied = differ.Apply(local_store_, {"m", "sha256:ab", 1, {}}, kMounts, opts);
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), Code::kInvalidArgument) << applied.status().ToString();
  EXPECT_EQ(peer_.calls(), 0);
}

TEST_F(DiffPeerTest, MissingOrVanishedPeerIsUnavailableAtOnce) {
  ProxyDiffer differ = Client(seconds(60));
  auto start = steady_clock::now();
  auto none = differ.Apply(local_store_, {"m", "sha256:ab", 1, {}}, kMounts, {});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kUnavailable) << none.status().ToString();
  EXPECT_NE(none.status().message().find("proxy rdiff (" + socket_ + ")"), std::string::npos)
      << none.status().message();

  ASSERT_NO_FATAL_FAILURE(StartPeer());
  ASSERT_TRUE(differ.Apply(local_store_, {"m", "sha256:ab", 1, {}}, kMounts, {}).ok());
  StopPeer();
  auto gone = differ.Compare(local_store_, kMounts, kMounts, {});
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), Code::kUnavailable) << gone.status().ToString();
  // Far below the 60 s timeout: neither call waited for the peer.
  EXPECT_LT(steady_clock::now() - start, seconds(10));

  ASSERT_NO_FATAL_FAILURE(StartPeer());
  auto back = differ.Compare(local_store_, kMounts, kMounts, {});
  EXPECT_TRUE(back.ok()) << back.status().ToString();
}

TEST_F(DiffPeerTest, HungPeerEndsAtTheTimeout) {
  ASSERT_NO_FATAL_FAILURE(StartPeer());
  ProxyDiffer differ = Client(milliseconds(300));
  auto start = steady_clock::now();
  auto applied = differ.Apply(local_store_, {"m", kHang, 1, {}}, kMounts, {});
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), Code::kDeadlineExceeded) << applied.status().ToString();
  EXPECT_LT(steady_clock::now() - start, seconds(5));
  EXPECT_TRUE(differ.Apply(local_store_, {"m", "sha256:ab", 1, {}}, kMounts, {}).ok());
}

TEST_F(DiffPeerTest, HungPeerEndsAtTheCallersDeadline) {
  ASSERT_NO_FATAL_FAILURE(StartPeer());
  ProxyDiffer differ = Client(seconds(60));
  DiffOptions hang;
  hang.media_type = kHang;
  auto start = steady_clock::now();
  Result<Descriptor> diff = Status::Unknown("not called");
  {
    CallScope scope({"default", "", system_clock::now() + milliseconds(300)});
    diff = differ.Compare(local_store_, kMounts, kMounts, hang);
  }
  ASSERT_FALSE(diff.ok());
  EXPECT_EQ(diff.status().code(), Code::kDeadlineExceeded) << diff.status().ToString();
  EXPECT_LT(steady_clock::now() - start, seconds(5));
}

// berthd with the proxy as the only differ of its diff-service, called
// through its own Diff API as a client's unpacker calls it.
class DiffProxyBerthdTest : public DiffPeerTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartPeer());
    BerthdOptions options;
    options.extra_toml = kNoScheduledGc + ProxyPluginToml("rdiff", "diff", socket_) +
                         "[plugins.\"io.containerd.service.v1.diff-service\"]\n"
                         "  default = [\"rdiff\"]\n";
    berthd_ = std::make_unique<BerthdProcess>(options);
    ASSERT_TRUE(berthd_->Start());
    ASSERT_TRUE(berthd_->WaitServing());
    stub_ = pb::Diff::NewStub(
        grpc::CreateChannel("unix://" + berthd_->socket(), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (berthd_) {
      EXPECT_EQ(berthd_->Stop(), 0) << berthd_->Log();
    }
    berthd_.reset();
    DiffPeerTest::TearDown();
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& ns, const std::string& lease) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("containerd-namespace", ns);
    if (!lease.empty()) ctx->AddMetadata("containerd-lease", lease);
    ctx->set_deadline(system_clock::now() + seconds(30));
    return ctx;
  }

  std::unique_ptr<BerthdProcess> berthd_;
  std::unique_ptr<pb::Diff::Stub> stub_;
};

TEST_F(DiffProxyBerthdTest, ApplyAndDiffThroughBerthdReachThePeer) {
  CommandResult ls = berthd_->Ctr({"plugins", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  EXPECT_EQ(ParsePluginTable(ls.out)["io.containerd.differ.v1.rdiff"], "ok") << ls.out;

  pb::ApplyRequest apply;
  grpc_util::ToProto(
      Descriptor{"application/vnd.oci.image.layer.v1.tar+gzip", kLayerDigest, 77, {}},
      apply.mutable_diff());
  grpc_util::ToProto(kMounts, apply.mutable_mounts());
  pb::ApplyResponse applied;
  grpc::Status s = stub_->Apply(Ctx("ns-diff", "lease-x").get(), apply, &applied);
  ASSERT_TRUE(s.ok()) << s.error_message() << berthd_->Log();
  EXPECT_EQ(applied.applied().digest(), kAppliedDigest);
  FakeDiffPeer::Seen seen = peer_.last();
  EXPECT_EQ(seen.ns, "ns-diff");
  EXPECT_EQ(seen.lease, "lease-x");
  ASSERT_TRUE(seen.apply.has_value());
  EXPECT_EQ(seen.apply->diff().digest(), apply.diff().digest());
  EXPECT_EQ(grpc_util::FromProto(seen.apply->mounts()), kMounts);

  pb::DiffRequest diff;
  grpc_util::ToProto(kMounts, diff.mutable_right());
  diff.set_media_type("application/vnd.oci.image.layer.v1.tar+gzip");
  pb::DiffResponse diffed;
  s = stub_->Diff(Ctx("ns-other", "").get(), diff, &diffed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(diffed.diff().digest(), kDiffDigest);
  EXPECT_EQ(peer_.last().ns, "ns-other");
  EXPECT_EQ(peer_.last().lease, "");
}

TEST_F(DiffProxyBerthdTest, PeerErrorsReachTheClientWithTheirCodeAndThePeerComesBack) {
  pb::ApplyRequest apply;
  apply.mutable_diff()->set_digest(kMissing);
  pb::ApplyResponse applied;
  grpc::Status s = stub_->Apply(Ctx("default", "").get(), apply, &applied);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_NE(s.error_message().find("sha256:missing"), std::string::npos) << s.error_message();

  StopPeer();
  auto start = steady_clock::now();
  s = stub_->Apply(Ctx("default", "").get(), apply, &applied);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_NE(s.error_message().find("proxy rdiff"), std::string::npos) << s.error_message();
  EXPECT_LT(steady_clock::now() - start, seconds(10));

  // Back without a restart of berthd. (Also keeps berthd's stop quick: with
  // the peer lost, its gRPC server's shutdown takes seconds.)
  ASSERT_NO_FATAL_FAILURE(StartPeer());
  apply.mutable_diff()->set_digest(kLayerDigest);
  s = stub_->Apply(Ctx("default", "").get(), apply, &applied);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(applied.applied().digest(), kAppliedDigest);
}

}  // namespace
}  // namespace berth::test
