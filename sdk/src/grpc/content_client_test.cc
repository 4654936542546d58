#include "berth/grpc/content_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "berth/digest.h"
#include "berth/grpc/serve.h"
#include "berth/grpc/status.h"
#include "berth/mutex.h"

namespace berth::grpc_util {
namespace {

// A ContentStore in memory: resumable ingests (one writer per ref), blobs,
// and a switch that holds every Write until released (a frozen peer).
class MemoryStore final : public ContentStore {
 public:
  Result<ContentInfo> Info(std::string_view digest) override {
    MutexLock lock(&mu_);
    auto it = blobs_.find(digest);
    if (it == blobs_.end()) return Status::NotFound("content " + std::string(digest));
    ContentInfo info;
    info.digest = it->first;
    info.size = static_cast<std::int64_t>(it->second.size());
    return info;
  }
  Result<ContentInfo> Update(const ContentInfo&, const std::vector<std::string>&) override {
    return Status::NotImplemented("update");
  }
  Status Walk(const filters::Filter&, const std::function<Status(const ContentInfo&)>&) override {
    return Status::NotImplemented("walk");
  }
  Status Delete(std::string_view) override { return Status::NotImplemented("delete"); }

  Result<std::unique_ptr<ContentReader>> ReaderAt(std::string_view digest) override;
  Result<std::unique_ptr<ContentWriter>> Writer(const WriterOptions& options) override;

  Result<IngestStatus> GetStatus(std::string_view ref) override {
    MutexLock lock(&mu_);
    auto it = ingests_.find(ref);
    if (it == ingests_.end()) return Status::NotFound("ingest " + std::string(ref));
    IngestStatus st;
    st.ref = std::string(ref);
    st.offset = static_cast<std::int64_t>(it->second.bytes.size());
    return st;
  }
  Result<std::vector<IngestStatus>> ListStatuses(const filters::Filter&) override {
    return Status::NotImplemented("list statuses");
  }
  Status Abort(std::string_view ref) override {
    MutexLock lock(&mu_);
    return ingests_.erase(std::string(ref)) == 1 ? Status::Ok() : Status::NotFound("ingest");
  }

  void Put(const std::string& bytes) {
    MutexLock lock(&mu_);
    blobs_[Sha256Of(bytes)] = bytes;
  }
  std::string Blob(const std::string& digest) {
    MutexLock lock(&mu_);
    auto it = blobs_.find(digest);
    return it == blobs_.end() ? "<absent>" : it->second;
  }
  std::size_t largest_write() {
    MutexLock lock(&mu_);
    return largest_write_;
  }
  int writes() {
    MutexLock lock(&mu_);
    return writes_;
  }
  void Freeze(bool frozen) {
    MutexLock lock(&mu_);
    frozen_ = frozen;
    thawed_.SignalAll();
  }

 private:
  friend class MemoryWriter;
  struct Ingest {
    std::string bytes;
    bool locked = false;
  };
  Mutex mu_;
  CondVar thawed_;
  std::map<std::string, std::string, std::less<>> blobs_ BERTH_GUARDED_BY(mu_);
  std::map<std::string, Ingest, std::less<>> ingests_ BERTH_GUARDED_BY(mu_);
  std::size_t largest_write_ BERTH_GUARDED_BY(mu_) = 0;
  int writes_ BERTH_GUARDED_BY(mu_) = 0;
  bool frozen_ BERTH_GUARDED_BY(mu_) = false;
};

class MemoryReader final : public ContentReader {
 public:
  explicit MemoryReader(std::string bytes) : bytes_(std::move(bytes)) {}
  Result<std::size_t> ReadAt(void* buf, std::size_t size, std::int64_t offset) override {
    if (offset >= Size()) return std::size_t{0};
    std::size_t n = bytes_.copy(static_cast<char*>(buf), size, static_cast<std::size_t>(offset));
    return n;
  }
  std::int64_t Size() const override { return static_cast<std::int64_t>(bytes_.size()); }

 private:
  const std::string bytes_;
};

class MemoryWriter final : public ContentWriter {
 public:
  MemoryWriter(MemoryStore& store, std::string ref) : store_(store), ref_(std::move(ref)) {}
  ~MemoryWriter() override {
    MutexLock lock(&store_.mu_);
    auto it = store_.ingests_.find(ref_);
    if (it != store_.ingests_.end()) it->second.locked = false;
  }
  Status Write(const void* data, std::size_t size) override {
    MutexLock lock(&store_.mu_);
    store_.thawed_.Wait(&store_.mu_, [&]() BERTH_REQUIRES(store_.mu_) { return !store_.frozen_; });
    store_.ingests_[ref_].bytes.append(static_cast<const char*>(data), size);
    store_.largest_write_ = std::max(store_.largest_write_, size);
    ++store_.writes_;
    return Status::Ok();
  }
  std::string Digest() const override {
    return committed_.empty() ? Sha256Of(Bytes()) : committed_;
  }
  std::int64_t Offset() const override { return static_cast<std::int64_t>(Bytes().size()); }
  Result<IngestStatus> Stat() const override {
    IngestStatus st;
    st.ref = ref_;
    st.offset = Offset();
    return st;
  }
  Status Truncate(std::int64_t size) override {
    if (size != 0) return Status::InvalidArgument("truncate only to 0");
    MutexLock lock(&store_.mu_);
    store_.ingests_[ref_].bytes.clear();
    return Status::Ok();
  }
  Status Commit(std::int64_t size, std::string_view expected, const Labels&) override {
    MutexLock lock(&store_.mu_);
    const std::string bytes = store_.ingests_[ref_].bytes;
    const std::string digest = Sha256Of(bytes);
    if (size != 0 && size != static_cast<std::int64_t>(bytes.size())) {
      return Status::FailedPrecondition("unexpected size");
    }
    if (!expected.empty() && expected != digest) {
      return Status::FailedPrecondition("unexpected digest " + digest);
    }
    store_.ingests_.erase(ref_);
    committed_ = digest;  // a committed writer still names its digest
    if (!store_.blobs_.emplace(digest, bytes).second) {
      return Status::AlreadyExists("content " + digest);
    }
    return Status::Ok();
  }

 private:
  std::string Bytes() const {
    MutexLock lock(&store_.mu_);
    auto it = store_.ingests_.find(ref_);
    return it == store_.ingests_.end() ? std::string() : it->second.bytes;
  }
  MemoryStore& store_;
  const std::string ref_;
  std::string committed_;
};

Result<std::unique_ptr<ContentReader>> MemoryStore::ReaderAt(std::string_view digest) {
  MutexLock lock(&mu_);
  auto it = blobs_.find(digest);
  if (it == blobs_.end()) return Status::NotFound("content " + std::string(digest));
  return std::unique_ptr<ContentReader>(std::make_unique<MemoryReader>(it->second));
}

Result<std::unique_ptr<ContentWriter>> MemoryStore::Writer(const WriterOptions& options) {
  MutexLock lock(&mu_);
  Ingest& ingest = ingests_[options.ref];
  if (ingest.locked) return Status::Unavailable("ref " + options.ref + " locked");
  ingest.locked = true;
  return std::unique_ptr<ContentWriter>(std::make_unique<MemoryWriter>(*this, options.ref));
}

// Bytes that differ from chunk to chunk.
std::string Pattern(std::size_t size, unsigned seed = 1) {
  std::string s(size, '\0');
  unsigned x = seed;
  for (char& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 16);
  }
  return s;
}

class ContentClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/content_client_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store_ = std::make_shared<MemoryStore>();
    service_ = std::make_unique<ContentServer>(store_);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix://" + dir_ + "/content.sock", grpc::InsecureServerCredentials());
    builder.SetMaxReceiveMessageSize(16 << 20);
    builder.RegisterService(service_->service());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = grpc::CreateChannel("unix://" + dir_ + "/content.sock",
                                   grpc::InsecureChannelCredentials());
    stub_ = content_pb::Content::NewStub(channel_);
  }
  void TearDown() override {
    StopServer();
    std::filesystem::remove_all(dir_);
  }
  void StopServer() {
    if (!server_) return;
    store_->Freeze(false);
    server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
  }

  static std::unique_ptr<grpc::ClientContext> Context() {
    return std::make_unique<grpc::ClientContext>();
  }

  // The whole blob `digest` through ReadContent.
  Result<std::string> ReadAll(const std::string& digest, std::int64_t offset = 0,
                              std::int64_t size = 0) {
    std::string out;
    Status s = ReadContent(*stub_, Context(), digest, offset, size, [&](std::string_view data) {
      out.append(data);
      return true;
    });
    if (!s.ok()) return s;
    return out;
  }

  std::string dir_;
  std::shared_ptr<MemoryStore> store_;
  std::unique_ptr<ContentServer> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<content_pb::Content::Stub> stub_;
};

TEST_F(ContentClientTest, WriteAndCommitRoundTrip) {
  const std::string data = Pattern((3 << 20) + 17);
  const std::string digest = Sha256Of(data);
  ContentWriteStream stream(*stub_, Context());
  ASSERT_TRUE(stream.Open("round-trip", static_cast<std::int64_t>(data.size()), digest).ok());
  EXPECT_EQ(stream.offset(), 0);
  ASSERT_TRUE(stream.Write(data).ok());
  auto committed = stream.Commit(static_cast<std::int64_t>(data.size()), digest, {{"k", "v"}});
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  EXPECT_EQ(*committed, digest);
  EXPECT_EQ(stream.offset(), static_cast<std::int64_t>(data.size()));
  EXPECT_EQ(store_->Blob(digest), data);
  // The stream accepts nothing after the commit.
  EXPECT_EQ(stream.Write("more").code(), Code::kFailedPrecondition);
}

TEST_F(ContentClientTest, CloseLeavesTheIngestToResume) {
  {
    ContentWriteStream stream(*stub_, Context());
    ASSERT_TRUE(stream.Open("resume", 0, "").ok());
    ASSERT_TRUE(stream.Write("hello ").ok());
    ASSERT_TRUE(stream.Close().ok());
    EXPECT_EQ(stream.Write("x").code(), Code::kFailedPrecondition);
  }
  ContentWriteStream again(*stub_, Context());
  ASSERT_TRUE(again.Open("resume", 0, "").ok());
  EXPECT_EQ(again.offset(), 6);
  ASSERT_TRUE(again.Write("world").ok());
  auto committed = again.Commit(11, Sha256Of("hello world"), {});
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  EXPECT_EQ(store_->Blob(*committed), "hello world");
}

TEST_F(ContentClientTest, PipelinedAndLockStepWritesOfManyChunks) {
  for (std::size_t window : {std::size_t{1}, std::size_t{4}, std::size_t{64}}) {
    SCOPED_TRACE("window " + std::to_string(window));
    ContentClientOptions options;
    options.window = window;
    std::string all;
    ContentWriteStream stream(*stub_, Context(), options);
    const std::string ref = "many-" + std::to_string(window);
    ASSERT_TRUE(stream.Open(ref, 0, "").ok());
    for (unsigned i = 0; i < 200; ++i) {
      const std::string chunk = Pattern(16 << 10, i + static_cast<unsigned>(window));
      all += chunk;
      ASSERT_TRUE(stream.Write(chunk).ok()) << i;
    }
    EXPECT_EQ(stream.offset(), static_cast<std::int64_t>(all.size()));
    ASSERT_TRUE(stream.Sync().ok());
    EXPECT_EQ(stream.digest(), Sha256Of(all));
    auto committed = stream.Commit(static_cast<std::int64_t>(all.size()), "", {});
    ASSERT_TRUE(committed.ok()) << committed.status().ToString();
    EXPECT_EQ(*committed, Sha256Of(all));
    EXPECT_EQ(store_->Blob(*committed), all);
  }
}

TEST_F(ContentClientTest, LargeWritesAreSplit) {
  const std::string data = Pattern(9 << 20);
  ContentWriteStream stream(*stub_, Context());
  ASSERT_TRUE(stream.Open("large", 0, "").ok());
  ASSERT_TRUE(stream.Write(data).ok());
  auto committed = stream.Commit(0, "", {});
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  EXPECT_EQ(store_->Blob(*committed), data);
  EXPECT_EQ(store_->largest_write(), kMaxWriteChunk);
  EXPECT_EQ(store_->writes(), 3);
}

TEST_F(ContentClientTest, CommitOfAnotherDigestFails) {
  ContentWriteStream stream(*stub_, Context());
  ASSERT_TRUE(stream.Open("wrong", 0, "").ok());
  ASSERT_TRUE(stream.Write("some bytes").ok());
  auto committed = stream.Commit(0, Sha256Of("other bytes"), {});
  EXPECT_EQ(committed.status().code(), Code::kFailedPrecondition)
      << committed.status().ToString();
  EXPECT_EQ(store_->Blob(Sha256Of("some bytes")), "<absent>");
  // The failure sticks.
  EXPECT_EQ(stream.Write("x").code(), Code::kFailedPrecondition);
}

TEST_F(ContentClientTest, OpenOfAStoredExpectedDigestIsAlreadyExists) {
  store_->Put("stored");
  ContentWriteStream stream(*stub_, Context());
  EXPECT_EQ(stream.Open("stored", 0, Sha256Of("stored")).code(), Code::kAlreadyExists);
}

TEST_F(ContentClientTest, RangedAndWholeReads) {
  const std::string data = Pattern((2 << 20) + 5);
  store_->Put(data);
  const std::string digest = Sha256Of(data);
  auto whole = ReadAll(digest);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(*whole, data);
  auto range = ReadAll(digest, 3, 4);
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(*range, data.substr(3, 4));
  auto tail = ReadAll(digest, (1 << 20) + 1);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(*tail, data.substr((1 << 20) + 1));

  // The reader adapter: one call per ReadAt, clipped at the end.
  std::shared_ptr<content_pb::Content::Stub> stub = content_pb::Content::NewStub(channel_);
  auto reader = NewContentReader(stub, &Context, digest, static_cast<std::int64_t>(data.size()),
                                 {});
  std::string buf(10, '\0');
  auto n = reader->ReadAt(buf.data(), buf.size(), static_cast<std::int64_t>(data.size()) - 4);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  ASSERT_EQ(*n, 4u);
  EXPECT_EQ(buf.substr(0, 4), data.substr(data.size() - 4));
  EXPECT_EQ(*reader->ReadAt(buf.data(), buf.size(), static_cast<std::int64_t>(data.size())), 0u);
  EXPECT_EQ(reader->ReadAt(buf.data(), buf.size(), -1).status().code(), Code::kInvalidArgument);
}

TEST_F(ContentClientTest, ASinkThatStopsCancelsTheRead) {
  const std::string data = Pattern(3 << 20);
  store_->Put(data);
  int chunks = 0;
  Status s = ReadContent(*stub_, Context(), Sha256Of(data), 0, 0, [&](std::string_view) {
    ++chunks;
    return false;
  });
  EXPECT_EQ(s.code(), Code::kCanceled);
  EXPECT_EQ(chunks, 1);
}

TEST_F(ContentClientTest, ReadOfAMissingBlobIsNotFoundThroughThePolicy) {
  ContentClientOptions options;
  bool asked = false;
  options.error = [&](const grpc::Status& s, bool overran) {
    asked = true;
    EXPECT_FALSE(overran);
    return FromGrpc(s).Annotate("peer");
  };
  Status s = ReadContent(*stub_, Context(), Sha256Of("missing"), 0, 0,
                         [](std::string_view) { return true; }, options);
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_TRUE(asked);
  EXPECT_NE(s.message().find("peer"), std::string::npos) << s.ToString();
}

TEST_F(ContentClientTest, AServerGoneMidStreamIsUnavailable) {
  ContentWriteStream stream(*stub_, Context());
  ASSERT_TRUE(stream.Open("gone", 0, "").ok());
  ASSERT_TRUE(stream.Write("before").ok());
  ASSERT_TRUE(stream.Sync().ok());
  StopServer();
  (void)stream.Write("after");
  auto committed = stream.Commit(0, "", {});
  EXPECT_EQ(committed.status().code(), Code::kUnavailable) << committed.status().ToString();
  EXPECT_TRUE(stream.Close().ok());  // the stream has ended already
}

TEST_F(ContentClientTest, AFrozenPeerOverrunsTheStepTimeout) {
  ContentClientOptions options;
  options.step_timeout = std::chrono::milliseconds(200);
  bool overran = false;
  options.error = [&](const grpc::Status& s, bool o) {
    overran = o;
    return DefaultCallError(s, o);
  };
  auto writer = OpenContentWriter(content_pb::Content::NewStub(channel_), Context(),
                                  WriterOptions{"frozen", 0, ""}, options);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  ASSERT_TRUE((*writer)->Write("abc", 3).ok());
  EXPECT_EQ((*writer)->Offset(), 3);
  auto st = (*writer)->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->offset, 3);
  store_->Freeze(true);
  EXPECT_EQ((*writer)->Write("def", 3).code(), Code::kDeadlineExceeded);
  EXPECT_TRUE(overran);
  EXPECT_EQ((*writer)->Stat().status().code(), Code::kDeadlineExceeded);
  store_->Freeze(false);
}

TEST_F(ContentClientTest, WriterAdapterTruncatesAndCommits) {
  auto writer = OpenContentWriter(content_pb::Content::NewStub(channel_), Context(),
                                  WriterOptions{"adapter", 0, ""}, {});
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  ASSERT_TRUE((*writer)->Write("discarded", 9).ok());
  EXPECT_EQ((*writer)->Truncate(3).code(), Code::kInvalidArgument);
  ASSERT_TRUE((*writer)->Truncate(0).ok());
  EXPECT_EQ((*writer)->Offset(), 0);
  ASSERT_TRUE((*writer)->Write("kept", 4).ok());
  EXPECT_EQ((*writer)->Digest(), Sha256Of("kept"));
  ASSERT_TRUE((*writer)->Commit(4, Sha256Of("kept"), {}).ok());
  EXPECT_EQ(store_->Blob(Sha256Of("kept")), "kept");
  EXPECT_EQ((*writer)->Commit(4, "", {}).code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace berth::grpc_util
