// The proxy content store's reader and writer (see content_store.h).
#include <algorithm>
#include <cstring>
#include <utility>

#include "berth/grpc/convert.h"
#include "content_store.h"
#include "read_stream.h"

namespace berth::proxy {
namespace {

namespace pb = containerd::services::content::v1;
using grpc_util::FromProto;

// Larger writes are sent as several requests, well below the peer's 16 MiB
// message limit.
constexpr std::size_t kMaxWriteChunk = 4 << 20;
constexpr char kEmptyDigest[] =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

class ProxyReader final : public ContentReader {
 public:
  ProxyReader(std::shared_ptr<ProxyChannel> channel, std::shared_ptr<ContentStub> stub,
              std::string digest, std::int64_t size)
      : channel_(std::move(channel)),
        stub_(std::move(stub)),
        digest_(std::move(digest)),
        size_(size),
        call_(CurrentCall()) {}

  std::int64_t Size() const override { return size_; }

  // One Read call for exactly the bytes asked (as containerd's proxy reads),
  // so that a small read never makes the peer send more than it.
  Result<std::size_t> ReadAt(void* buf, std::size_t size, std::int64_t offset) override {
    if (offset < 0) return Status::InvalidArgument("negative read offset");
    if (size == 0 || offset >= size_) return std::size_t{0};
    const auto want = static_cast<std::size_t>(
        std::min<std::int64_t>(static_cast<std::int64_t>(size), size_ - offset));
    pb::ReadContentRequest req;
    req.set_digest(digest_);
    req.set_offset(offset);
    req.set_size(static_cast<std::int64_t>(want));
    ReadStream<pb::ReadContentResponse> stream(
        *channel_,
        [&](grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
          return stub_->PrepareAsyncRead(ctx, req, cq);
        },
        call_);
    auto* out = static_cast<char*>(buf);
    std::size_t n = 0;
    pb::ReadContentResponse resp;
    while (stream.Next(resp)) {
      const std::string& data = resp.data();
      if (resp.offset() != offset + static_cast<std::int64_t>(n) || data.size() > want - n) {
        return Status::Unknown("proxy " + channel_->options().name + ": read of " + digest_ +
                               " answered " + std::to_string(data.size()) + " bytes at " +
                               std::to_string(resp.offset()) + ", expected at most " +
                               std::to_string(want - n) + " at " +
                               std::to_string(offset + static_cast<std::int64_t>(n)));
      }
      std::memcpy(out + n, data.data(), data.size());
      n += data.size();
    }
    if (!stream.status().ok()) return stream.status();
    return n;
  }

 private:
  std::shared_ptr<ProxyChannel> channel_;
  std::shared_ptr<ContentStub> stub_;
  const std::string digest_;
  const std::int64_t size_;
  const CallContext call_;
};

using WriteCall = grpc::ClientAsyncReaderWriter<pb::WriteContentRequest, pb::WriteContentResponse>;

class ProxyWriter final : public ContentWriter {
 public:
  ProxyWriter(std::shared_ptr<ProxyChannel> channel, const WriterOptions& options)
      : channel_(std::move(channel)),
        ctx_(channel_->StreamContext()),
        steps_(channel_->timeout()),
        ref_(options.ref),
        total_(options.total),
        expected_(options.expected) {}

  ~ProxyWriter() override { (void)Close(); }

  // Starts the call and negotiates the ingest (STAT with ref, total and
  // expected digest), as containerd's proxy does.
  Status Start(ContentStub& stub) {
    call_ = stub.PrepareAsyncWrite(ctx_.get(), steps_.cq());
    call_->StartCall(steps_.tag());
    if (!steps_.Await(*ctx_)) return Fail();
    pb::WriteContentRequest req;
    req.set_action(pb::STAT);
    req.set_ref(ref_);
    req.set_total(total_);
    req.set_expected(expected_);
    auto resp = Exchange(req);
    if (!resp.ok()) return resp.status();
    offset_ = resp->offset();
    if (resp->total() > 0) total_ = resp->total();
    started_at_ = FromProto(resp->started_at());
    updated_at_ = FromProto(resp->updated_at());
    return Status::Ok();
  }

  Status Write(const void* data, std::size_t size) override {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      std::size_t n = std::min(size, kMaxWriteChunk);
      pb::WriteContentRequest req;
      req.set_action(pb::WRITE);
      req.set_offset(offset_);
      req.set_data(p, n);
      auto resp = Exchange(req);
      if (!resp.ok()) return resp.status();
      if (resp->offset() != offset_ + static_cast<std::int64_t>(n)) {
        return Status::Unknown("proxy " + channel_->options().name + ": short write to " + ref_ +
                               " (offset " + std::to_string(resp->offset()) + ")");
      }
      offset_ = resp->offset();
      p += n;
      size -= n;
    }
    return Status::Ok();
  }

  std::string Digest() const override { return digest_; }
  std::int64_t Offset() const override { return offset_; }

  // Answered from what the stream last reported: this writer holds the
  // peer's ingest, so nothing else moves it meanwhile.
  Result<IngestStatus> Stat() const override {
    if (!failed_.ok()) return failed_;
    IngestStatus st;
    st.ref = ref_;
    st.offset = offset_;
    st.total = total_;
    st.expected = expected_;
    st.started_at = started_at_;
    st.updated_at = updated_at_;
    return st;
  }

  Status Truncate(std::int64_t size) override {
    if (size != 0) return Status::InvalidArgument("proxy writers truncate only to 0");
    if (!failed_.ok()) return failed_;
    offset_ = 0;  // the peer restarts the ingest at the next request
    digest_ = kEmptyDigest;
    return Status::Ok();
  }

  Status Commit(std::int64_t size, std::string_view expected, const Labels& labels) override {
    pb::WriteContentRequest req;
    req.set_action(pb::COMMIT);
    req.set_total(size);
    req.set_offset(offset_);
    req.set_expected(std::string(expected));
    grpc_util::ToProto(labels, req.mutable_labels());
    auto resp = Exchange(req);
    if (!resp.ok()) return resp.status();
    Status closed = Close();
    if (size != 0 && resp->offset() != size) {
      return Status::FailedPrecondition("unexpected commit size " + std::to_string(resp->offset()) +
                                        ", expected " + std::to_string(size));
    }
    if (!expected.empty() && resp->digest() != expected) {
      return Status::FailedPrecondition("unexpected commit digest " + resp->digest() +
                                        ", expected " + std::string(expected));
    }
    offset_ = resp->offset();
    failed_ = Status::FailedPrecondition("writer " + ref_ + " is committed");
    return closed;
  }

 private:
  // One request and its answer. A failed step ends the call; its status is
  // kept and returned by every later call.
  Result<pb::WriteContentResponse> Exchange(const pb::WriteContentRequest& req) const {
    if (!failed_.ok()) return failed_;
    call_->Write(req, steps_.tag());
    if (!steps_.Await(*ctx_)) return Fail();
    pb::WriteContentResponse resp;
    call_->Read(&resp, steps_.tag());
    if (!steps_.Await(*ctx_)) return Fail();
    if (!resp.digest().empty()) digest_ = resp.digest();
    updated_at_ = std::chrono::system_clock::now();
    return resp;
  }

  // Finishes the call after a failed step; the peer's status (or the
  // transport's) becomes the writer's.
  Status Fail() const {
    grpc::Status s;
    call_->Finish(&s, steps_.tag());
    (void)steps_.Await(*ctx_);
    finished_ = true;
    failed_ = s.ok() && !steps_.overran()
                  ? Status::Unavailable("proxy " + channel_->options().name + ": write stream of " +
                                        ref_ + " ended")
                  : channel_->Error(s, steps_.overran());
    return failed_;
  }

  // Half-closes and finishes the call (once); the peer keeps the ingest. The
  // half-close may find the call already ended by the peer (after a commit);
  // the final status tells.
  Status Close() {
    if (finished_ || !call_) return Status::Ok();
    finished_ = true;
    call_->WritesDone(steps_.tag());
    (void)steps_.Await(*ctx_);
    grpc::Status s;
    call_->Finish(&s, steps_.tag());
    (void)steps_.Await(*ctx_);
    if (s.ok() && !steps_.overran()) return Status::Ok();
    return channel_->Error(s, steps_.overran());
  }

  std::shared_ptr<ProxyChannel> channel_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  mutable StepQueue steps_;
  std::unique_ptr<WriteCall> call_;
  const std::string ref_;
  std::int64_t total_;
  const std::string expected_;
  std::int64_t offset_ = 0;
  mutable std::string digest_;
  Timestamp started_at_{};
  mutable Timestamp updated_at_{};
  mutable Status failed_;
  mutable bool finished_ = false;
};

}  // namespace

std::unique_ptr<ContentReader> NewProxyReader(std::shared_ptr<ProxyChannel> channel,
                                              std::shared_ptr<ContentStub> stub, std::string digest,
                                              std::int64_t size) {
  return std::make_unique<ProxyReader>(std::move(channel), std::move(stub), std::move(digest),
                                       size);
}

Result<std::unique_ptr<ContentWriter>> OpenProxyWriter(std::shared_ptr<ProxyChannel> channel,
                                                       std::shared_ptr<ContentStub> stub,
                                                       const WriterOptions& options) {
  auto writer = std::make_unique<ProxyWriter>(std::move(channel), options);
  BERTH_RETURN_IF_ERROR(writer->Start(*stub));
  return std::unique_ptr<ContentWriter>(std::move(writer));
}

}  // namespace berth::proxy
