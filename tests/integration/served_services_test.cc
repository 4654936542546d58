// libberth-grpc's servers in process: content-local served by ContentServer
// and snapshot-overlay by SnapshotsServer on a UnixServer socket, each plugin
// loaded and initialised as berth-snapshotter does it (StandalonePlugin),
// driven by containerd's generated gRPC client.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "berth/digest.h"
#include "berth/grpc/serve.h"
#include "berth/plugin_types.h"
#include "berth/runner/standalone.h"
#include "berthd_process.h"
#include "containerd/services/content/v1/content.grpc.pb.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "fixtures.h"
#include "served_util.h"

namespace berth::test {
namespace {

namespace content_pb = containerd::services::content::v1;
namespace snapshots_pb = containerd::services::snapshots::v1;

std::unique_ptr<runner::StandalonePlugin> StartPlugin(const std::string& library,
                                                          std::string_view type,
                                                          const std::string& root) {
  runner::StandaloneOptions o;
  o.library = std::string(BERTH_BUILD_DIR) + "/lib/berth/plugins/" + library + ".so";
  o.type = std::string(type);
  o.root = root;
  auto p = runner::StandalonePlugin::Start(o);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(*p) : nullptr;
}

class ServedContent : public ::testing::Test {
 protected:
  void SetUp() override {
    plugin_ = StartPlugin("content-local", types::kContent, dir_.Join("root"));
    ASSERT_NE(plugin_, nullptr);
    auto store = std::dynamic_pointer_cast<ContentStore>(plugin_->instance());
    ASSERT_NE(store, nullptr);
    service_ = std::make_unique<grpc_util::ContentServer>(store);
    auto server = grpc_util::UnixServer::Start(dir_.Join("content.sock"), {service_->service()});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    stub_ = content_pb::Content::NewStub(
        grpc::CreateChannel("unix:" + server_->path(), grpc::InsecureChannelCredentials()));
  }

  // Writes `data` under `ref` in 1 MiB pieces: STAT, WRITEs, COMMIT with
  // `expected`; the stream's final status.
  grpc::Status Write(const std::string& ref, const std::string& data, const std::string& expected,
                     bool commit = true) {
    grpc::ClientContext ctx;
    auto stream = stub_->Write(&ctx);
    content_pb::WriteContentRequest req;
    content_pb::WriteContentResponse resp;
    req.set_action(content_pb::STAT);
    req.set_ref(ref);
    req.set_total(static_cast<std::int64_t>(data.size()));
    if (!stream->Write(req) || !stream->Read(&resp)) return stream->Finish();
    EXPECT_EQ(resp.offset(), 0);
    std::size_t off = 0;
    constexpr std::size_t kPiece = 1 << 20;
    while (off < data.size()) {
      req.Clear();
      req.set_action(content_pb::WRITE);
      req.set_offset(static_cast<std::int64_t>(off));
      req.set_data(data.substr(off, kPiece));
      off += req.data().size();
      if (!stream->Write(req) || !stream->Read(&resp)) return stream->Finish();
      EXPECT_EQ(resp.offset(), static_cast<std::int64_t>(off));
    }
    if (commit) {
      req.Clear();
      req.set_action(content_pb::COMMIT);
      req.set_offset(static_cast<std::int64_t>(off));
      req.set_total(static_cast<std::int64_t>(data.size()));
      req.set_expected(expected);
      (*req.mutable_labels())["k"] = "v";
      if (stream->Write(req) && stream->Read(&resp)) {
        EXPECT_EQ(resp.digest(), expected);
      }
    }
    stream->WritesDone();
    return stream->Finish();
  }

  std::string Read(const std::string& digest, std::int64_t offset, grpc::Status* status) {
    grpc::ClientContext ctx;
    content_pb::ReadContentRequest req;
    req.set_digest(digest);
    req.set_offset(offset);
    auto reader = stub_->Read(&ctx, req);
    content_pb::ReadContentResponse resp;
    std::string out;
    while (reader->Read(&resp)) {
      EXPECT_EQ(resp.offset(), offset + static_cast<std::int64_t>(out.size()));
      out += resp.data();
    }
    *status = reader->Finish();
    return out;
  }

  grpc::StatusCode InfoCode(const std::string& digest) {
    grpc::ClientContext ctx;
    content_pb::InfoRequest req;
    req.set_digest(digest);
    content_pb::InfoResponse resp;
    return stub_->Info(&ctx, req, &resp).error_code();
  }

  TempDir dir_{"berth-served-content-"};
  std::unique_ptr<runner::StandalonePlugin> plugin_;
  std::unique_ptr<grpc_util::ContentServer> service_;
  std::unique_ptr<grpc_util::UnixServer> server_;
  std::unique_ptr<content_pb::Content::Stub> stub_;
};

TEST_F(ServedContent, WriteReadInfoListDelete) {
  const std::string data = DeterministicBytes((3 << 20) + 5, 7);
  const std::string digest = Sha256Of(data);
  ASSERT_TRUE(Write("blob-1", data, digest).ok());

  grpc::Status st;
  EXPECT_EQ(Read(digest, 0, &st), data);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(Read(digest, 1 << 20, &st), data.substr(1 << 20));

  {
    grpc::ClientContext ctx;
    content_pb::InfoRequest req;
    req.set_digest(digest);
    content_pb::InfoResponse resp;
    ASSERT_TRUE(stub_->Info(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.info().size(), static_cast<std::int64_t>(data.size()));
  }
  {
    grpc::ClientContext ctx;
    auto reader = stub_->List(&ctx, content_pb::ListContentRequest());
    content_pb::ListContentResponse resp;
    std::set<std::string> digests;
    while (reader->Read(&resp)) {
      for (const auto& i : resp.info()) digests.insert(i.digest());
    }
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_EQ(digests, std::set<std::string>{digest});
  }
  // Already there: the expected digest ends a new ingest with AlreadyExists.
  EXPECT_EQ(Write("blob-1-again", data, digest).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  {
    grpc::ClientContext ctx;
    content_pb::DeleteContentRequest req;
    req.set_digest(digest);
    google::protobuf::Empty resp;
    EXPECT_TRUE(stub_->Delete(&ctx, req, &resp).ok());
  }
  EXPECT_EQ(InfoCode(digest), grpc::StatusCode::NOT_FOUND);
  Read(digest, 0, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServedContent, WrongDigestIsFailedPrecondition) {
  const std::string data = DeterministicBytes(1000, 1);
  grpc::Status s = Write("blob-2", data, Sha256Of("something else"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_EQ(InfoCode(Sha256Of(data)), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServedContent, MalformedDigestIsInvalidArgument) {
  EXPECT_EQ(InfoCode("sha256:xyz"), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServedContent, InterruptedIngestShowsInStatusAndAborts) {
  const std::string data = DeterministicBytes(5000, 2);
  ASSERT_TRUE(Write("half", data, "", /*commit=*/false).ok());
  {
    grpc::ClientContext ctx;
    content_pb::StatusRequest req;
    req.set_ref("half");
    content_pb::StatusResponse resp;
    ASSERT_TRUE(stub_->Status(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.status().offset(), 5000);
    EXPECT_EQ(resp.status().total(), 5000);
  }
  {
    grpc::ClientContext ctx;
    content_pb::ListStatusesRequest req;
    req.add_filters("ref==half");
    content_pb::ListStatusesResponse resp;
    ASSERT_TRUE(stub_->ListStatuses(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.statuses_size(), 1);
  }
  grpc::ClientContext ctx;
  content_pb::AbortRequest req;
  req.set_ref("half");
  google::protobuf::Empty resp;
  EXPECT_TRUE(stub_->Abort(&ctx, req, &resp).ok());
  grpc::ClientContext ctx2;
  EXPECT_EQ(stub_->Abort(&ctx2, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

class ServedSnapshots : public ::testing::Test {
 protected:
  void SetUp() override {
    plugin_ = StartPlugin("snapshot-overlay", types::kSnapshotter, dir_.Join("root"));
    ASSERT_NE(plugin_, nullptr);
    auto sn = std::dynamic_pointer_cast<Snapshotter>(plugin_->instance());
    ASSERT_NE(sn, nullptr);
    service_ = std::make_unique<grpc_util::SnapshotsServer>(sn);
    auto server = grpc_util::UnixServer::Start(dir_.Join("s.sock"), {service_->service()});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    stub_ = snapshots_pb::Snapshots::NewStub(
        grpc::CreateChannel("unix:" + server_->path(), grpc::InsecureChannelCredentials()));
  }

  grpc::Status Prepare(const std::string& key, const std::string& parent = "") {
    grpc::ClientContext ctx;
    snapshots_pb::PrepareSnapshotRequest req;
    req.set_snapshotter("ignored");
    req.set_key(key);
    req.set_parent(parent);
    (*req.mutable_labels())["containerd.io/snapshot/n"] = key;
    snapshots_pb::PrepareSnapshotResponse resp;
    return stub_->Prepare(&ctx, req, &resp);
  }

  // Names listed for `filters`, and how many messages carried them.
  std::vector<std::string> List(const std::vector<std::string>& filters, int* messages) {
    grpc::ClientContext ctx;
    snapshots_pb::ListSnapshotsRequest req;
    for (const auto& f : filters) req.add_filters(f);
    auto reader = stub_->List(&ctx, req);
    snapshots_pb::ListSnapshotsResponse resp;
    std::vector<std::string> names;
    *messages = 0;
    while (reader->Read(&resp)) {
      ++*messages;
      for (const auto& i : resp.info()) names.push_back(i.name());
    }
    grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return names;
  }

  ScratchDir dir_{"berth-served-snapshots-"};
  std::unique_ptr<runner::StandalonePlugin> plugin_;
  std::unique_ptr<grpc_util::SnapshotsServer> service_;
  std::unique_ptr<grpc_util::UnixServer> server_;
  std::unique_ptr<snapshots_pb::Snapshots::Stub> stub_;
};

TEST_F(ServedSnapshots, ListStreamsInBatchesAndPassesFilters) {
  for (int i = 0; i < 230; ++i) ASSERT_TRUE(Prepare("s-" + std::to_string(i)).ok());
  int messages = 0;
  EXPECT_EQ(List({}, &messages).size(), 230u);
  EXPECT_EQ(messages, 3);  // 100 + 100 + 30
  EXPECT_EQ(List({"name==s-7"}, &messages), std::vector<std::string>{"s-7"});
  EXPECT_EQ(List({"labels.\"containerd.io/snapshot/n\"==s-42"}, &messages),
            std::vector<std::string>{"s-42"});
  EXPECT_TRUE(List({"kind==committed"}, &messages).empty());
}

TEST_F(ServedSnapshots, CallsMapToTheSnapshotter) {
  ASSERT_TRUE(Prepare("a").ok());
  EXPECT_EQ(Prepare("a").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Prepare("b", "missing").error_code(), grpc::StatusCode::NOT_FOUND);
  {
    grpc::ClientContext ctx;
    snapshots_pb::CommitSnapshotRequest req;
    req.set_name("c");
    req.set_key("a");
    (*req.mutable_labels())["containerd.io/snapshot/n"] = "committed";
    google::protobuf::Empty resp;
    ASSERT_TRUE(stub_->Commit(&ctx, req, &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    snapshots_pb::StatSnapshotRequest req;
    req.set_key("c");
    snapshots_pb::StatSnapshotResponse resp;
    ASSERT_TRUE(stub_->Stat(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.info().kind(), snapshots_pb::COMMITTED);
    ASSERT_EQ(resp.info().labels().count("containerd.io/snapshot/n"), 1u);
    EXPECT_EQ(resp.info().labels().at("containerd.io/snapshot/n"), "committed");
  }
  {
    grpc::ClientContext ctx;
    snapshots_pb::UpdateSnapshotRequest req;
    req.mutable_info()->set_name("c");
    (*req.mutable_info()->mutable_labels())["containerd.io/snapshot/x"] = "y";
    req.mutable_update_mask()->add_paths("labels.containerd.io/snapshot/x");
    snapshots_pb::UpdateSnapshotResponse resp;
    ASSERT_TRUE(stub_->Update(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.info().labels().count("containerd.io/snapshot/x"), 1u);
    EXPECT_EQ(resp.info().labels().at("containerd.io/snapshot/x"), "y");
    EXPECT_EQ(resp.info().labels().count("containerd.io/snapshot/n"), 1u);
  }
  {
    grpc::ClientContext ctx;
    snapshots_pb::MountsRequest req;
    req.set_key("c");
    snapshots_pb::MountsResponse resp;
    EXPECT_EQ(stub_->Mounts(&ctx, req, &resp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  ASSERT_TRUE(Prepare("d", "c").ok());
  {
    grpc::ClientContext ctx;
    snapshots_pb::MountsRequest req;
    req.set_key("d");
    snapshots_pb::MountsResponse resp;
    ASSERT_TRUE(stub_->Mounts(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.mounts_size(), 1);
    EXPECT_EQ(resp.mounts(0).type(), "overlay");
  }
  {
    grpc::ClientContext ctx;
    snapshots_pb::UsageRequest req;
    req.set_key("d");
    snapshots_pb::UsageResponse resp;
    EXPECT_TRUE(stub_->Usage(&ctx, req, &resp).ok());
  }
  grpc::ClientContext ctx;
  snapshots_pb::RemoveSnapshotRequest req;
  req.set_key("c");
  google::protobuf::Empty resp;
  EXPECT_EQ(stub_->Remove(&ctx, req, &resp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST(UnixServer, RefusesASocketInUseAndRemovesItsOwn) {
  TempDir dir("berth-unix-server-");
  const std::string sock = dir.Join("sub/s.sock");
  grpc_util::SnapshotsServer service(nullptr);  // never called
  EXPECT_EQ(grpc_util::UnixServer::Start(sock, {}).status().code(), Code::kInvalidArgument);
  std::string path;
  {
    auto first = grpc_util::UnixServer::Start(sock, {service.service()});
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    path = (*first)->path();
    auto second = grpc_util::UnixServer::Start(sock, {service.service()});
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), Code::kFailedPrecondition);
    EXPECT_TRUE(Contains(second.status().message(), "in use"));
  }
  struct stat st {};
  EXPECT_NE(lstat(path.c_str(), &st), 0) << "socket left behind";
  ASSERT_TRUE(WriteFile(dir.Join("file"), "x"));
  auto not_socket = grpc_util::UnixServer::Start(dir.Join("file"), {service.service()});
  EXPECT_EQ(not_socket.status().code(), Code::kAlreadyExists);
}

}  // namespace
}  // namespace berth::test
