// What containerd's own clients rely on, against a real berthd: keys, refs
// and lease ids are names (never paths), a closed Write stream frees its ref
// at once, a resumed ingest reports the time of its last write, labelling an
// unknown namespace creates it, and containerd's answers to a missing
// namespace and an empty lease id. Through the stock ctr where it can say
// it, through containerd's generated gRPC client otherwise.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "berthd_process.h"
#include "containerd/services/content/v1/content.grpc.pb.h"
#include "containerd/services/leases/v1/leases.grpc.pb.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"

namespace berth::test {
namespace {

namespace fs = std::filesystem;
namespace content_pb = containerd::services::content::v1;
namespace leases_pb = containerd::services::leases::v1;
namespace snapshots_pb = containerd::services::snapshots::v1;

constexpr char kNoCollection[] = "disabled_plugins = [\"io.containerd.gc.v1.scheduler\"]\n";

class CompatTest : public ::testing::Test {
 protected:
  CompatTest() : berthd_(BerthdOptions{"", kNoCollection, {}, {}}) {}
  void SetUp() override {
    ASSERT_TRUE(berthd_.Start());
    ASSERT_TRUE(berthd_.WaitServing()) << berthd_.Log();
    channel_ = grpc::CreateChannel("unix://" + berthd_.socket(), grpc::InsecureChannelCredentials());
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& ns = "default") {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!ns.empty()) ctx->AddMetadata("containerd-namespace", ns);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ctx;
  }

  // Every path under `dir`, relative.
  static std::set<std::string> Tree(const std::string& dir) {
    std::set<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      out.insert(fs::relative(it->path(), dir).string());
    }
    return out;
  }

  BerthdProcess berthd_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(CompatTest, SnapshotKeysAreNamesNotPaths) {
  // Keys as containerd's Go client and tools make them, and hostile ones.
  const std::string escape = berthd_.dir().Join("escaped");
  const std::vector<std::string> keys = {
      "/tmp/suite-1/preparing", "default/1/sha256:0123abcd", "../../../../" + escape,
      "a/../../b", "..", "/"};
  const std::set<std::string> before = Tree(berthd_.root());
  for (const std::string& key : keys) {
    auto r = berthd_.Ctr({"snapshots", "prepare", key});
    ASSERT_EQ(r.exit_code, 0) << key << ": " << r.Describe();
  }
  auto ls = berthd_.Ctr({"snapshots", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  for (const std::string& key : keys) {
    EXPECT_NE(ls.out.find(key), std::string::npos) << key << " missing from\n" << ls.out;
    auto mounts = berthd_.Ctr({"snapshots", "mounts", berthd_.dir().Join("m"), key});
    EXPECT_EQ(mounts.exit_code, 0) << key << ": " << mounts.Describe();
    auto rm = berthd_.Ctr({"snapshots", "rm", key});
    EXPECT_EQ(rm.exit_code, 0) << key << ": " << rm.Describe();
  }
  // No key became a path: the snapshotter's folders are numbered.
  EXPECT_FALSE(fs::exists(escape));
  const std::string overlay = berthd_.root() + "/io.containerd.snapshotter.v1.overlayfs/snapshots";
  for (const auto& entry : fs::directory_iterator(overlay)) {
    const std::string name = entry.path().filename().string();
    EXPECT_EQ(name.find_first_not_of("0123456789"), std::string::npos) << name;
  }
  for (const std::string& path : Tree(berthd_.root())) {
    if (before.count(path)) continue;
    EXPECT_EQ(path.find("suite-1"), std::string::npos) << path;
    EXPECT_EQ(path.find("escaped"), std::string::npos) << path;
  }
}

TEST_F(CompatTest, ContentRefsAndLeaseIdsAreNames) {
  const std::vector<std::string> refs = {"/abs/ref", "../../x", "a/../b", "default/1/layer-sha256:ab"};
  for (const std::string& ref : refs) {
    auto r = RunCommand({kCtr, "--address", berthd_.socket(), "content", "ingest", ref},
                        "bytes of " + ref, std::chrono::seconds(60));
    EXPECT_EQ(r.exit_code, 0) << ref << ": " << r.Describe();
  }
  EXPECT_FALSE(fs::exists(berthd_.dir().Join("x")));
  EXPECT_FALSE(fs::exists("/abs/ref"));
  for (const std::string id : {"a/b", "../lease", "with space", "a%2Fb"}) {
    auto created = berthd_.Ctr({"leases", "create", "--id", id});
    ASSERT_EQ(created.exit_code, 0) << id << ": " << created.Describe();
  }
  auto ls = berthd_.Ctr({"leases", "ls", "-q"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  for (const std::string id : {"a/b", "../lease", "with space", "a%2Fb"}) {
    EXPECT_NE(ls.out.find(id + "\n"), std::string::npos) << id << " missing from\n" << ls.out;
  }
  // "a/b" and "a%2Fb" are two leases: deleting one leaves the other.
  ASSERT_EQ(berthd_.Ctr({"leases", "rm", "a/b"}).exit_code, 0);
  ls = berthd_.Ctr({"leases", "ls", "-q"});
  EXPECT_EQ(ls.out.find("a/b\n"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("a%2Fb\n"), std::string::npos) << ls.out;
}

// containerd's proxy writer half-closes a Write stream it does not commit,
// then a new writer resumes the same ref at once.
TEST_F(CompatTest, AClosedWriteStreamFreesItsRefAtOnce) {
  auto stub = content_pb::Content::NewStub(channel_);
  std::int64_t offset = 0;
  for (int i = 0; i < 1000; ++i) {
    auto ctx = Ctx();
    auto stream = stub->Write(ctx.get());
    content_pb::WriteContentRequest req;
    req.set_action(content_pb::STAT);
    req.set_ref("resumed");
    content_pb::WriteContentResponse resp;
    ASSERT_TRUE(stream->Write(req)) << "round " << i;
    ASSERT_TRUE(stream->Read(&resp)) << "round " << i << ": " << stream->Finish().error_message();
    ASSERT_EQ(resp.offset(), offset) << "round " << i;
    req.Clear();
    req.set_action(content_pb::WRITE);
    req.set_offset(offset);
    req.set_data("x");
    ASSERT_TRUE(stream->Write(req));
    ASSERT_TRUE(stream->Read(&resp));
    offset = resp.offset();
    ASSERT_TRUE(stream->WritesDone());
    grpc::Status s = stream->Finish();
    ASSERT_TRUE(s.ok()) << "round " << i << ": " << s.error_message();
  }
  EXPECT_EQ(offset, 1000);
}

TEST_F(CompatTest, AResumedIngestReportsItsLastWrite) {
  auto stub = content_pb::Content::NewStub(channel_);
  auto write = [&](std::int64_t at) {
    auto ctx = Ctx();
    auto stream = stub->Write(ctx.get());
    content_pb::WriteContentRequest req;
    content_pb::WriteContentResponse resp;
    req.set_action(content_pb::STAT);
    req.set_ref("timed");
    EXPECT_TRUE(stream->Write(req) && stream->Read(&resp));
    req.Clear();
    req.set_action(content_pb::WRITE);
    req.set_offset(at);
    req.set_data("data");
    EXPECT_TRUE(stream->Write(req) && stream->Read(&resp));
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  };
  auto updated = [&] {
    content_pb::StatusRequest req;
    req.set_ref("timed");
    content_pb::StatusResponse resp;
    grpc::Status s = stub->Status(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return std::chrono::seconds(resp.status().updated_at().seconds()) +
           std::chrono::nanoseconds(resp.status().updated_at().nanos());
  };
  write(0);
  const auto first = updated();
  // The next write must land on a later clock tick than the first (file
  // times move in ticks of a few milliseconds): wait for the clock, bounded.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::system_clock::now().time_since_epoch() <
             first + std::chrono::milliseconds(20) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  write(4);
  const auto second = updated();
  EXPECT_GT(second, first);
  content_pb::ListStatusesRequest list;
  content_pb::ListStatusesResponse statuses;
  ASSERT_TRUE(stub->ListStatuses(Ctx().get(), list, &statuses).ok());
  ASSERT_EQ(statuses.statuses_size(), 1);
  EXPECT_EQ(statuses.statuses(0).offset(), 8);
  EXPECT_EQ(std::chrono::seconds(statuses.statuses(0).updated_at().seconds()) +
                std::chrono::nanoseconds(statuses.statuses(0).updated_at().nanos()),
            second);
}

TEST_F(CompatTest, LabellingAnUnknownNamespaceCreatesIt) {
  auto r = berthd_.Ctr({"namespaces", "label", "testing", "containerd.io/defaults/snapshotter=overlayfs"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  auto ls = berthd_.Ctr({"namespaces", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  EXPECT_NE(ls.out.find("testing"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("containerd.io/defaults/snapshotter=overlayfs"), std::string::npos) << ls.out;
}

TEST_F(CompatTest, ContainerdsAnswersToAMissingNamespaceAndAnEmptyLease) {
  auto snapshots = snapshots_pb::Snapshots::NewStub(channel_);
  snapshots_pb::StatSnapshotRequest stat;
  stat.set_snapshotter("overlayfs");
  stat.set_key("k");
  snapshots_pb::StatSnapshotResponse stat_resp;
  for (const std::string ns : {"", "-bad-"}) {
    grpc::Status s = snapshots->Stat(Ctx(ns).get(), stat, &stat_resp);
    if (ns.empty()) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
      EXPECT_NE(s.error_message().find("namespace is required"), std::string::npos);
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    }
  }
  auto leases = leases_pb::Leases::NewStub(channel_);
  leases_pb::AddResourceRequest add;
  add.mutable_resource()->set_id("sha256:" + std::string(64, 'a'));
  add.mutable_resource()->set_type("content");
  google::protobuf::Empty empty;
  grpc::Status s = leases->AddResource(Ctx().get(), add, &empty);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
}

}  // namespace
}  // namespace berth::test
