// The content and namespaces services of a real berthd, driven by the stock
// ctr and by a raw gRPC client (for the error cases ctr cannot produce and for
// the crash-resume test).
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "berth/digest.h"
#include "berthd_process.h"
#include "fixtures.h"
#include "containerd/services/content/v1/content.grpc.pb.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

namespace pb = containerd::services::content::v1;
using Clock = std::chrono::steady_clock;
using Stream = grpc::ClientReaderWriter<pb::WriteContentRequest, pb::WriteContentResponse>;

constexpr std::size_t kMiB = 1 << 20;

std::string BlobDir(const BerthdProcess& d) {
  return d.root() + "/io.containerd.content.v1.content/blobs/sha256";
}

std::size_t CountBlobs(const BerthdProcess& d) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(BlobDir(d), ec);
       !ec && it != std::filesystem::directory_iterator(); ++it) {
    ++n;
  }
  return n;
}


class ContentClient {
 public:
  explicit ContentClient(const std::string& socket)
      : stub_(pb::Content::NewStub(grpc::CreateChannel(
            "unix://" + socket, grpc::InsecureChannelCredentials()))) {}

  std::unique_ptr<grpc::ClientContext> Context(const std::string& ns) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!ns.empty()) ctx->AddMetadata("containerd-namespace", ns);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    return ctx;
  }
  grpc::Status Info(const std::string& ns, const std::string& digest) {
    pb::InfoRequest req;
    req.set_digest(digest);
    pb::InfoResponse resp;
    return stub_->Info(Context(ns).get(), req, &resp);
  }
  pb::Content::Stub& stub() { return *stub_; }

 private:
  std::unique_ptr<pb::Content::Stub> stub_;
};

struct WriteSession {
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<Stream> stream;

  // Sends one request and reads its answer; the stream's final status when
  // the server ended it instead.
  grpc::Status Send(const pb::WriteContentRequest& req, pb::WriteContentResponse* resp) {
    if (stream->Write(req) && stream->Read(resp)) return grpc::Status::OK;
    stream->WritesDone();
    return stream->Finish();
  }
};

WriteSession OpenWrite(ContentClient& c, const std::string& ns) {
  WriteSession s;
  s.ctx = c.Context(ns);
  s.stream = c.stub().Write(s.ctx.get());
  return s;
}

pb::WriteContentRequest Req(pb::WriteAction action, const std::string& ref,
                            std::int64_t offset = 0, std::string data = "") {
  pb::WriteContentRequest r;
  r.set_action(action);
  r.set_ref(ref);
  r.set_offset(offset);
  r.set_data(std::move(data));
  return r;
}

class ContentTest : public ::testing::Test {
 protected:
  // The content verbs are under test here, not collection: `ctr content
  // ingest` sets no gc.root label, so a scheduled collection would take
  // what the tests look at. They collect only when they say so.
  ContentTest()
      : berthd_(BerthdOptions{"", "disabled_plugins = [\"io.containerd.gc.v1.scheduler\"]\n",
                              {}, {}}) {}
  void SetUp() override {
    ASSERT_TRUE(berthd_.Start());
    ASSERT_TRUE(berthd_.WaitServing());
  }
  CommandResult Ctr(const std::string& ns, std::vector<std::string> args,
                    const std::string& stdin_data = "") {
    std::vector<std::string> argv = {kCtr, "--address", berthd_.socket(),
                                     "--namespace", ns};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, stdin_data, std::chrono::seconds(120));
  }

  BerthdProcess berthd_;
};

TEST_F(ContentTest, CtrIngestListGetLabelRemove) {
  const std::string data = DeterministicBytes(3 * kMiB + 17, 1);
  const std::string digest = Sha256Of(data);
  auto r = Ctr("default", {"content", "ingest", "--expected-size",
                           std::to_string(data.size()), "--expected-digest",
                           digest, "ingest-1"}, data);
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << berthd_.Log();

  r = Ctr("default", {"content", "ls"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(Contains(r.out, digest));
  r = Ctr("default", {"content", "get", digest});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out == data) << "bytes differ: got " << r.out.size();

  r = Ctr("default", {"content", "label", digest, "team=blue"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  r = Ctr("default", {"content", "ls", "labels.team==blue"});
  EXPECT_TRUE(Contains(r.out, digest));
  r = Ctr("default", {"content", "ls", "labels.team==red"});
  EXPECT_EQ(r.out.find(digest), std::string::npos) << r.out;

  // Another namespace does not see it until it commits the same bytes.
  r = Ctr("other", {"content", "get", digest});
  EXPECT_NE(r.exit_code, 0);
  // The writer in "other" stands at the blob's end, so ctr seeks its input
  // past the bytes: give it a file, as containerd's own client needs too.
  TempDir tmp;
  ASSERT_TRUE(WriteFile(tmp.Join("blob"), data));
  r = RunCommand({"sh", "-c",
                  std::string(kCtr) + " --address " + berthd_.socket() +
                      " --namespace other content ingest --expected-digest " +
                      digest + " x < " + tmp.Join("blob")});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  r = Ctr("other", {"content", "ls", "-q"});
  EXPECT_TRUE(Contains(r.out, digest));
  r = Ctr("other", {"content", "ls", "labels.team==blue"});
  EXPECT_EQ(r.out.find(digest), std::string::npos) << "labels are per namespace";

  r = Ctr("default", {"content", "rm", digest});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Ctr("default", {"content", "ls", "-q"}).out.find(digest), std::string::npos);
  EXPECT_TRUE(Contains(Ctr("other", {"content", "ls", "-q"}).out, digest));
  ASSERT_EQ(Ctr("other", {"content", "rm", digest}).exit_code, 0);
  // As in containerd, removing a record leaves the bytes to the next
  // garbage collection.
  EXPECT_EQ(CountBlobs(berthd_), 1u);
  r = RunCommand({BerthctlPath(), "--address", berthd_.socket(), "gc"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "content_removed 1\n"));
  EXPECT_EQ(CountBlobs(berthd_), 0u);
}

TEST_F(ContentTest, CtrActiveShowsInterruptedIngest) {
  ContentClient c(berthd_.socket());
  {
    WriteSession s = OpenWrite(c, "default");
    pb::WriteContentResponse resp;
    auto req = Req(pb::WRITE, "half-done", 0, DeterministicBytes(4096, 2));
    req.set_total(8192);
    ASSERT_TRUE(s.Send(req, &resp).ok());
    EXPECT_EQ(resp.offset(), 4096);
    s.stream->WritesDone();
    ASSERT_TRUE(s.stream->Finish().ok());
  }
  auto r = Ctr("default", {"content", "active"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(Contains(r.out, "half-done"));
  EXPECT_EQ(Ctr("other", {"content", "active"}).out.find("half-done"),
            std::string::npos);
}

TEST_F(ContentTest, CtrNamespacesCreateListRemove) {
  auto r = Ctr("default", {"namespaces", "create", "team-a", "owner=me"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  r = Ctr("default", {"namespaces", "ls"});
  EXPECT_TRUE(Contains(r.out, "team-a"));
  EXPECT_TRUE(Contains(r.out, "owner=me"));
  EXPECT_NE(Ctr("default", {"namespaces", "create", "team-a"}).exit_code, 0);

  const std::string data = "namespace content";
  ASSERT_EQ(Ctr("team-a", {"content", "ingest", "k"}, data).exit_code, 0);
  r = Ctr("default", {"namespaces", "rm", "team-a"});
  EXPECT_TRUE(Contains(r.out + r.err, "must be empty")) << r.Describe();
  ASSERT_EQ(Ctr("team-a", {"content", "rm", Sha256Of(data)}).exit_code, 0);
  r = Ctr("default", {"namespaces", "rm", "team-a"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Ctr("default", {"namespaces", "ls", "-q"}).out.find("team-a"),
            std::string::npos);
}

TEST_F(ContentTest, ErrorsLeaveStoreConsistent) {
  ContentClient c(berthd_.socket());
  pb::WriteContentResponse resp;
  const std::string data = DeterministicBytes(1000, 3);

  // Missing namespace (containerd: failed precondition); invalid digests;
  // an empty ref.
  EXPECT_EQ(c.Info("", Sha256Of(data)).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(c.Info("default", "sha256:../../etc").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(c.Info("default", "md5:abc").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  {
    WriteSession s = OpenWrite(c, "default");
    EXPECT_EQ(s.Send(Req(pb::STAT, ""), &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }

  // Wrong expected digest, then wrong size: FailedPrecondition, no blob.
  {
    WriteSession s = OpenWrite(c, "default");
    ASSERT_TRUE(s.Send(Req(pb::WRITE, "bad", 0, data), &resp).ok());
    auto commit = Req(pb::COMMIT, "bad", 1000);
    commit.set_expected(Sha256Of("something else"));
    EXPECT_EQ(s.Send(commit, &resp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    WriteSession s = OpenWrite(c, "default");
    auto commit = Req(pb::COMMIT, "bad", 1000);
    commit.set_total(1001);
    EXPECT_EQ(s.Send(commit, &resp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  EXPECT_EQ(CountBlobs(berthd_), 0u);

  // Two writers on one ref: the second is Unavailable.
  WriteSession first = OpenWrite(c, "default");
  ASSERT_TRUE(first.Send(Req(pb::STAT, "contended"), &resp).ok());
  {
    WriteSession second = OpenWrite(c, "default");
    grpc::Status st = second.Send(Req(pb::STAT, "contended"), &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  }

  // A client that disconnects mid-write releases the ref; the bytes stay.
  ASSERT_TRUE(first.Send(Req(pb::WRITE, "contended", 0, data), &resp).ok());
  first.ctx->TryCancel();
  (void)first.stream->Finish();
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  grpc::Status reopened;
  std::int64_t offset = -1;
  do {
    WriteSession again = OpenWrite(c, "default");
    reopened = again.Send(Req(pb::STAT, "contended"), &resp);
    offset = resp.offset();
    if (reopened.ok()) {
      again.stream->WritesDone();
      (void)again.stream->Finish();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (Clock::now() < deadline);
  ASSERT_TRUE(reopened.ok()) << reopened.error_message();
  EXPECT_EQ(offset, 1000);

  // A message over the 16 MiB limit is refused by the transport.
  {
    WriteSession s = OpenWrite(c, "default");
    grpc::Status st = s.Send(Req(pb::WRITE, "huge", 0, std::string(17 * kMiB, 'h')), &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  }
  EXPECT_EQ(CountBlobs(berthd_), 0u);
  // The daemon still serves.
  EXPECT_EQ(Ctr("default", {"content", "ls"}).exit_code, 0);
}

TEST_F(ContentTest, SigkillMidIngestResumes) {
  constexpr std::size_t kChunks = 256;  // 256 MiB in 1 MiB chunks
  Sha256 full;
  for (std::size_t i = 0; i < kChunks; ++i) {
    std::string chunk = DeterministicBytes(kMiB, i);
    full.Update(chunk.data(), chunk.size());
  }
  const std::string digest = full.Digest();
  const std::int64_t total = static_cast<std::int64_t>(kChunks * kMiB);

  ContentClient c(berthd_.socket());
  pb::WriteContentResponse resp;
  WriteSession s = OpenWrite(c, "default");
  auto stat_req = Req(pb::STAT, "big-ingest");
  stat_req.set_total(total);
  stat_req.set_expected(digest);
  ASSERT_TRUE(s.Send(stat_req, &resp).ok());
  for (std::size_t i = 0; i < kChunks / 2; ++i) {
    ASSERT_TRUE(s.Send(Req(pb::WRITE, "big-ingest", i * kMiB, DeterministicBytes(kMiB, i)), &resp).ok());
  }
  ASSERT_EQ(resp.offset(), total / 2);
  berthd_.Kill();
  s.ctx->TryCancel();
  (void)s.stream->Finish();
  EXPECT_EQ(CountBlobs(berthd_), 0u) << "no partial blob is visible";

  ASSERT_TRUE(berthd_.Start());
  ASSERT_TRUE(berthd_.WaitServing());
  EXPECT_TRUE(Contains(Ctr("default", {"content", "active"}).out, "big-ingest"));

  ContentClient c2(berthd_.socket());
  WriteSession r = OpenWrite(c2, "default");
  ASSERT_TRUE(r.Send(stat_req, &resp).ok());
  const std::int64_t resumed_at = resp.offset();
  EXPECT_GE(resumed_at, total / 2 - static_cast<std::int64_t>(kMiB));
  ASSERT_EQ(resumed_at % kMiB, 0) << "acknowledged chunks are whole";
  for (std::size_t i = resumed_at / kMiB; i < kChunks; ++i) {
    auto w = Req(i + 1 == kChunks ? pb::COMMIT : pb::WRITE, "big-ingest", i * kMiB,
                 DeterministicBytes(kMiB, i));
    if (i + 1 == kChunks) {
      w.set_total(total);
      w.set_expected(digest);
    }
    grpc::Status st = r.Send(w, &resp);
    ASSERT_TRUE(st.ok()) << i << ": " << st.error_message();
  }
  EXPECT_EQ(resp.digest(), digest);
  r.stream->WritesDone();
  ASSERT_TRUE(r.stream->Finish().ok());

  auto info = Ctr("default", {"content", "ls", "-q"});
  EXPECT_TRUE(Contains(info.out, digest));
  struct ::stat st {};
  ASSERT_EQ(::stat((BlobDir(berthd_) + "/" + digest.substr(7)).c_str(), &st), 0);
  EXPECT_EQ(st.st_size, total);
  EXPECT_EQ(st.st_mode & 0222, 0u);
}

}  // namespace
}  // namespace berth::test
