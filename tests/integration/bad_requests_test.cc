// Malformed requests and berthd's sockets (issue 15, parts 2 and 4), against
// a real berthd: requests that do not parse or hold invalid UTF-8 get
// containerd's answers, not a bare Unimplemented, through the stock ctr
// where it can send them and raw gRPC otherwise; a Write stream whose
// message does not parse ends with an error and its ingest resumes; the
// smaller mismatches (empty namespace header, sha512 digests, an empty
// lease id, unknown methods); and the sockets, which under umask 0 never
// show a mode other than 0660.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "berthd_process.h"
#include "containerd/services/containers/v1/containers.grpc.pb.h"
#include "containerd/services/content/v1/content.grpc.pb.h"
#include "containerd/services/leases/v1/leases.grpc.pb.h"
#include "containerd/services/namespaces/v1/namespace.grpc.pb.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "daemon_test.h"
#include "run_command.h"

namespace berth::test {
namespace {

namespace containers_pb = containerd::services::containers::v1;
namespace content_pb = containerd::services::content::v1;
namespace namespaces_pb = containerd::services::namespaces::v1;
namespace leases_pb = containerd::services::leases::v1;
namespace snapshots_pb = containerd::services::snapshots::v1;

class BadRequestsTest : public DaemonTest {
 protected:
  // Blobs committed here are referenced by nothing: no collection.
  BadRequestsTest() : DaemonTest({"", kNoCollectionToml, {}, {}}) {}

  // A unary call of `method` with `payload` as its raw request bytes.
  grpc::Status RawUnary(const std::string& method, const std::string& payload,
                        const std::string& ns = "default") {
    grpc::GenericStub stub(ChannelTo(berthd_));
    grpc::Slice slice(payload);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    auto ctx = NamespaceContext(ns);
    std::promise<grpc::Status> done;
    stub.UnaryCall(ctx.get(), method, grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status s) { done.set_value(std::move(s)); });
    return done.get_future().get();
  }
};

// `ctr snapshots prepare $'x\xff'` printed "ctr: not implemented".
TEST_F(BadRequestsTest, InvalidUtf8IsInvalidArgumentNamingTheField) {
  const std::string err = Fails(berthd_.Ctr({"-n", "u", "snapshots", "prepare", "x\xff"}));
  EXPECT_FALSE(Contains(err, "not implemented")) << err;
  EXPECT_TRUE(Contains(err, "PrepareSnapshotRequest.key"));
  EXPECT_TRUE(Contains(err, "invalid UTF-8"));

  // Over gRPC: the code, and a label key as well.
  auto stub = snapshots_pb::Snapshots::NewStub(ChannelTo(berthd_));
  snapshots_pb::PrepareSnapshotRequest req;
  req.set_snapshotter("overlayfs");
  req.set_key("ok");
  (*req.mutable_labels())["bad\xfe"] = "v";
  snapshots_pb::PrepareSnapshotResponse resp;
  grpc::Status s = stub->Prepare(NamespaceContext().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_TRUE(Contains(s.error_message(), "LabelsEntry.key"));

  // protobuf's complaint is in berthd's log format, never a raw line.
  EXPECT_FALSE(Contains(berthd_.Log(), "[libprotobuf"));
}

TEST_F(BadRequestsTest, UnparsableRequestIsInternalErrorUnmarshalling) {
  // A tag with an unterminated varint: no protobuf parses it.
  for (const char* method : {"/containerd.services.snapshots.v1.Snapshots/Stat",
                             "/containerd.services.content.v1.Content/List",
                             "/containerd.services.namespaces.v1.Namespaces/Get"}) {
    grpc::Status s = RawUnary(method, "\x0a\xff\xff\xff");
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL) << method << ": " << s.error_message();
    EXPECT_EQ(s.error_message(), "error unmarshalling request") << method;
  }
  // A request that parses is still served.
  EXPECT_EQ(RawUnary("/containerd.services.namespaces.v1.Namespaces/List", "").error_code(),
            grpc::StatusCode::OK);
}

TEST_F(BadRequestsTest, UnknownServiceOrMethodIsNamed) {
  grpc::Status s = RawUnary("/containerd.services.content.v1.Content/Nope", "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(s.error_message(),
            "unknown method Nope for service containerd.services.content.v1.Content");
  s = RawUnary("/no.such.Service/Get", "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(s.error_message(), "unknown service no.such.Service");
}

// `echo data | ctr content ingest $'r\xff'` printed "failed to open writer:
// EOF": the stream ended OK with no reply.
TEST_F(BadRequestsTest, WriteMessageThatFailsToParseEndsWithAnError) {
  const std::string err = Fails(berthd_.Ctr({"-n", "u", "content", "ingest", "r\xff"}, "data\n"));
  EXPECT_FALSE(Contains(err, "EOF")) << err;
  EXPECT_TRUE(Contains(err, "invalid UTF-8"));

  // Mid-stream: a good WRITE, then a message that does not parse. The stream
  // fails, and the ingest resumes at the offset the good write reached.
  auto stub = content_pb::Content::NewStub(ChannelTo(berthd_));
  {
    auto ctx = NamespaceContext();
    auto stream = stub->Write(ctx.get());
    content_pb::WriteContentRequest req;
    req.set_action(content_pb::WRITE);
    req.set_ref("resume-me");
    req.set_data("abc");
    content_pb::WriteContentResponse resp;
    ASSERT_TRUE(stream->Write(req));
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_EQ(resp.offset(), 3);
    req.set_ref("resume-me\xff");  // C++ serializes it; berthd cannot parse it
    req.set_data("def");
    req.set_offset(3);
    stream->Write(req);
    EXPECT_FALSE(stream->Read(&resp));
    grpc::Status s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_TRUE(Contains(s.error_message(), "WriteContentRequest.ref"));
  }
  content_pb::StatusRequest sreq;
  sreq.set_ref("resume-me");
  content_pb::StatusResponse sresp;
  grpc::Status s = stub->Status(NamespaceContext().get(), sreq, &sresp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(sresp.status().offset(), 3);

  // Garbage bytes mid-stream: Internal "error unmarshalling request".
  auto ctx = NamespaceContext();
  grpc::GenericStub generic(ChannelTo(berthd_));
  grpc::CompletionQueue cq;
  auto call = generic.PrepareCall(ctx.get(), "/containerd.services.content.v1.Content/Write", &cq);
  void* tag = nullptr;
  bool ok = false;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::Slice garbage(std::string("\x0a\xff\xff\xff"));
  grpc::ByteBuffer bad(&garbage, 1);
  call->Write(bad, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  grpc::Status finished;
  call->Finish(&finished, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_EQ(finished.error_code(), grpc::StatusCode::INTERNAL) << finished.error_message();
  EXPECT_EQ(finished.error_message(), "error unmarshalling request");
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }

  // The ingest is still there: resume at offset 3 and commit.
  {
    auto resume_ctx = NamespaceContext();
    auto stream = stub->Write(resume_ctx.get());
    content_pb::WriteContentRequest req;
    req.set_action(content_pb::COMMIT);
    req.set_ref("resume-me");
    req.set_offset(3);
    req.set_data("def");
    content_pb::WriteContentResponse resp;
    ASSERT_TRUE(stream->Write(req));
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_EQ(resp.offset(), 6);
    stream->WritesDone();
    grpc::Status done = stream->Finish();
    EXPECT_TRUE(done.ok()) << done.error_message();
    EXPECT_TRUE(Contains(Ctr({"content", "ls", "-q"}), resp.digest()));
  }
}

TEST_F(BadRequestsTest, ContainerdsAnswersToSmallerMismatches) {
  // An empty containerd-namespace header.
  auto snapshots = snapshots_pb::Snapshots::NewStub(ChannelTo(berthd_));
  grpc::ClientContext empty_ns;
  empty_ns.AddMetadata("containerd-namespace", "");
  snapshots_pb::StatSnapshotRequest stat;
  stat.set_snapshotter("overlayfs");
  stat.set_key("k");
  snapshots_pb::StatSnapshotResponse stat_resp;
  grpc::Status s = snapshots->Stat(&empty_ns, stat, &stat_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_TRUE(Contains(s.error_message(), "namespace is required"));  // + ": failed precondition"

  // A well-formed sha512 digest names nothing: NotFound.
  auto content = content_pb::Content::NewStub(ChannelTo(berthd_));
  content_pb::InfoRequest info;
  info.set_digest("sha512:" + std::string(128, 'a'));
  content_pb::InfoResponse info_resp;
  s = content->Info(NamespaceContext().get(), info, &info_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  content_pb::DeleteContentRequest del;
  del.set_digest(info.digest());
  google::protobuf::Empty empty;
  s = content->Delete(NamespaceContext().get(), del, &empty);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  info.set_digest("sha512:abc");
  s = content->Info(NamespaceContext().get(), info, &info_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  // Leases.AddResource with no lease id.
  auto leases = leases_pb::Leases::NewStub(ChannelTo(berthd_));
  leases_pb::AddResourceRequest add;
  add.mutable_resource()->set_id("sha256:" + std::string(64, 'a'));
  add.mutable_resource()->set_type("content");
  s = leases->AddResource(NamespaceContext().get(), add, &empty);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
}

// Part 3: an Update that would grow a record past the maximum message size
// used to be stored and then answered ResourceExhausted. It is refused,
// unapplied, naming the limit; labels are bounded per record.
TEST_F(BadRequestsTest, UpdatePastTheMessageSizeIsRefusedBeforeItIsApplied) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // responses near 16 MiB
  auto containers = containers_pb::Containers::NewStub(grpc::CreateCustomChannel(
      "unix://" + berthd_.socket(), grpc::InsecureChannelCredentials(), args));
  containers_pb::CreateContainerRequest create;
  containers_pb::Container* c = create.mutable_container();
  c->set_id("big");
  c->mutable_runtime()->set_name("io.containerd.runc.v2");
  c->mutable_spec()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/Spec");
  c->mutable_spec()->set_value("{}");
  containers_pb::CreateContainerResponse created;
  ASSERT_TRUE(containers->Create(NamespaceContext().get(), create, &created).ok());
  grpc::Status s;
  int applied = 0;
  for (; applied < 8; ++applied) {  // 4 MiB a time: the fourth would pass 16 MiB
    containers_pb::UpdateContainerRequest update;
    update.mutable_container()->set_id("big");
    const std::string key = "e" + std::to_string(applied);
    (*update.mutable_container()->mutable_extensions())[key].set_value(std::string(4 << 20, 'x'));
    update.mutable_update_mask()->add_paths("extensions." + key);
    containers_pb::UpdateContainerResponse updated;
    s = containers->Update(NamespaceContext().get(), update, &updated);
    if (!s.ok()) break;
  }
  EXPECT_EQ(applied, 3);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_TRUE(Contains(s.error_message(), "exceeds the maximum of"));
  containers_pb::GetContainerRequest get;
  get.set_id("big");
  containers_pb::GetContainerResponse got;
  s = containers->Get(NamespaceContext().get(), get, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(got.container().extensions_size(), 3);

  // Labels: at most 1 MiB per record (here, a namespace's).
  auto namespaces = namespaces_pb::Namespaces::NewStub(ChannelTo(berthd_));
  namespaces_pb::UpdateNamespaceRequest labels;
  labels.mutable_namespace_()->set_name("default");
  for (int i = 0; i < 300; ++i) {
    (*labels.mutable_namespace_()->mutable_labels())["l" + std::to_string(i)] =
        std::string(4000, 'v');
  }
  namespaces_pb::UpdateNamespaceResponse ns_resp;
  s = namespaces->Update(NamespaceContext().get(), labels, &ns_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_TRUE(Contains(s.error_message(), "1048576 bytes per record"));
}

// Under umask 0 the sockets used to show 0777 until berthd chmod'ed them.
// A thread lstat's both while berthd starts; every mode it sees is 0660.
TEST(SocketModeTest, SocketsShowOnlyTheirFinalMode) {
  BerthdProcess berthd;
  const std::vector<std::string> paths = {berthd.socket(), berthd.socket() + ".ttrpc"};
  std::atomic<bool> stop{false};
  std::set<unsigned> modes;  // every distinct mode seen, by the poller only
  std::thread poller([&] {
    while (!stop.load()) {
      for (const std::string& p : paths) {
        struct stat st {};
        if (::lstat(p.c_str(), &st) == 0) modes.insert(st.st_mode & 07777);
      }
    }
  });
  mode_t old = ::umask(0);
  ::testing::AssertionResult started = berthd.Start();
  ::umask(old);
  ::testing::AssertionResult serving =
      started ? berthd.WaitServing() : ::testing::AssertionFailure() << "not started";
  stop = true;
  poller.join();
  ASSERT_TRUE(serving);
  EXPECT_EQ(modes, std::set<unsigned>{0660});
  for (const std::string& p : paths) {
    struct stat st {};
    ASSERT_EQ(::lstat(p.c_str(), &st), 0) << p;
    EXPECT_TRUE(S_ISSOCK(st.st_mode)) << p;
    EXPECT_EQ(st.st_mode & 07777, 0660u) << p;
  }
}

}  // namespace
}  // namespace berth::test
