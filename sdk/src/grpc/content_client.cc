#include "berth/grpc/content_client.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "berth/grpc/convert.h"
#include "berth/grpc/status.h"

namespace berth::grpc_util {
namespace {

constexpr char kEmptyDigest[] =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// The operations of a Write call, as completion-queue tags.
enum Op : std::intptr_t { kStart = 1, kWrite, kRead, kFinish };
void* TagOf(Op op) { return reinterpret_cast<void*>(static_cast<std::intptr_t>(op)); }
Op OpOf(void* tag) { return static_cast<Op>(reinterpret_cast<std::intptr_t>(tag)); }

// The next event of `cq`: false when none came within `timeout` (0 =
// unbounded).
bool NextEvent(grpc::CompletionQueue& cq, std::chrono::milliseconds timeout, void** tag, bool* ok) {
  if (timeout.count() <= 0) return cq.Next(tag, ok);
  return cq.AsyncNext(tag, ok, std::chrono::system_clock::now() + timeout) ==
         grpc::CompletionQueue::GOT_EVENT;
}

// Waits for the one outstanding operation on `cq`; returns its ok flag. On
// an overrun cancels `ctx`, waits for the operation to come back (promptly,
// cancelled) and sets `overran`.
bool AwaitOne(grpc::CompletionQueue& cq, grpc::ClientContext& ctx,
              std::chrono::milliseconds timeout, bool& overran) {
  void* tag = nullptr;
  bool ok = false;
  if (NextEvent(cq, timeout, &tag, &ok)) return ok;
  overran = true;
  ctx.TryCancel();
  (void)cq.Next(&tag, &ok);
  return false;
}

void ShutdownQueue(grpc::CompletionQueue& cq) {
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
}

Status MapError(const ContentClientOptions& options, const grpc::Status& s, bool overran) {
  return options.error ? options.error(s, overran) : DefaultCallError(s, overran);
}

}  // namespace

Status DefaultCallError(const grpc::Status& status, bool overran) {
  if (overran) return Status::DeadlineExceeded("no answer within the step timeout");
  return FromGrpc(status);
}

// ---------------------------------------------------------------------------
// ContentWriteStream

ContentWriteStream::ContentWriteStream(content_pb::Content::Stub& stub,
                                       std::unique_ptr<grpc::ClientContext> context,
                                       ContentClientOptions options)
    : stub_(stub), ctx_(std::move(context)), options_(std::move(options)) {}

ContentWriteStream::~ContentWriteStream() {
  if (call_ && !finished_) (void)Close();
  ShutdownQueue(cq_);
}

Status ContentWriteStream::Open(const std::string& ref, std::int64_t total,
                                const std::string& expected) {
  ref_ = ref;
  total_ = total;
  call_ = stub_.PrepareAsyncWrite(ctx_.get(), &cq_);
  call_->StartCall(TagOf(kStart));
  writing_ = true;  // the start counts as the outstanding write-side operation
  while (writing_ && Await()) {
  }
  if (!failed_.ok()) return failed_;
  req_.Clear();
  req_.set_action(content_pb::STAT);
  req_.set_ref(ref);
  req_.set_total(total);
  req_.set_expected(expected);
  BERTH_RETURN_IF_ERROR(Send(content_pb::STAT, 0));
  return Sync();
}

Status ContentWriteStream::Write(std::string_view data) {
  while (!data.empty() && failed_.ok()) {
    const std::size_t n = std::min(data.size(), kMaxWriteChunk);
    // Wait before touching req_: the previous WRITE may still be going out.
    while ((writing_ || unanswered_.size() >= std::max<std::size_t>(options_.window, 1)) &&
           Await()) {
    }
    if (!failed_.ok()) break;
    req_.Clear();
    req_.set_action(content_pb::WRITE);
    req_.set_offset(offset_);
    req_.set_data(data.data(), n);
    const std::int64_t end = offset_ + static_cast<std::int64_t>(n);
    if (!Send(content_pb::WRITE, end).ok()) break;
    offset_ = end;
    data.remove_prefix(n);
  }
  return failed_;
}

Status ContentWriteStream::Sync() {
  while ((writing_ || !unanswered_.empty()) && Await()) {
  }
  return failed_;
}

Status ContentWriteStream::Truncate() {
  BERTH_RETURN_IF_ERROR(Sync());
  offset_ = 0;  // the peer restarts the ingest at the next WRITE (offset 0)
  digest_ = kEmptyDigest;
  return Status::Ok();
}

Result<std::string> ContentWriteStream::Commit(std::int64_t size, std::string_view expected,
                                               const Labels& labels) {
  while (writing_ && Await()) {
  }
  if (!failed_.ok()) return failed_;
  req_.Clear();
  req_.set_action(content_pb::COMMIT);
  req_.set_total(size);
  req_.set_offset(offset_);
  req_.set_expected(std::string(expected));
  ToProto(labels, req_.mutable_labels());
  commit_.Clear();
  commit_answered_ = false;
  BERTH_RETURN_IF_ERROR(Send(content_pb::COMMIT, offset_));
  BERTH_RETURN_IF_ERROR(Sync());
  Status closed = Close();
  if (size != 0 && commit_.offset() != size) {
    return Status::FailedPrecondition("unexpected commit size " + std::to_string(commit_.offset()) +
                                      ", expected " + std::to_string(size));
  }
  if (!expected.empty() && commit_.digest() != expected) {
    return Status::FailedPrecondition("unexpected commit digest " + commit_.digest() +
                                      ", expected " + std::string(expected));
  }
  offset_ = commit_.offset();
  digest_ = commit_.digest();
  failed_ = Status::FailedPrecondition("writer " + ref_ + " is committed");
  if (!closed.ok()) return closed;
  return commit_.digest();
}

Status ContentWriteStream::Close() {
  if (!call_ || finished_) return Status::Ok();
  while (writing_ && Await()) {
  }
  if (finished_) return failed_;  // failed while the last write went out
  // Half-close, then take what answers are left until the peer ends the
  // call. The half-close may find the call already ended by the peer (after
  // a commit); the final status tells.
  closing_ = true;
  call_->WritesDone(TagOf(kWrite));
  writing_ = true;
  if (!reading_) {
    call_->Read(&resp_, TagOf(kRead));
    reading_ = true;
  }
  while (!ended_ && Await()) {
    if (!reading_ && !ended_) {
      call_->Read(&resp_, TagOf(kRead));
      reading_ = true;
    }
  }
  if (finished_) return failed_;  // a step overran, or an answer was wrong
  while (writing_ && Await()) {
  }
  if (finished_) return failed_;
  Status s = Finish(Status::Ok());
  if (failed_.ok()) failed_ = Status::FailedPrecondition("write stream of " + ref_ + " is closed");
  return s;
}

Status ContentWriteStream::Send(content_pb::WriteAction action, std::int64_t end) {
  call_->Write(req_, TagOf(kWrite));
  writing_ = true;
  unanswered_.push_back(Expect{action, end});
  if (!reading_) {
    call_->Read(&resp_, TagOf(kRead));
    reading_ = true;
  }
  return failed_;
}

bool ContentWriteStream::Await() {
  if (finished_) return false;
  void* tag = nullptr;
  bool ok = false;
  if (!NextEvent(cq_, options_.step_timeout, &tag, &ok)) {
    overran_ = true;
    Fail(Status::Ok());
    return false;
  }
  switch (OpOf(tag)) {
    case kStart:
    case kWrite:
      writing_ = false;
      // A failed half-close only means the peer ended the call first.
      if (!ok && !closing_) Fail(Status::Ok());
      break;
    case kRead:
      reading_ = false;
      if (!ok) {
        if (closing_) {
          ended_ = true;
        } else {
          Fail(Status::Ok());
        }
        break;
      }
      Answer();
      break;
    case kFinish:
      break;  // not awaited here
  }
  return !finished_;
}

void ContentWriteStream::Answer() {
  if (unanswered_.empty() && commit_answered_) {
    // containerd's server sends its COMMIT answer twice (once in the loop,
    // once more as it returns); the second one is not an error.
    return;
  }
  if (unanswered_.empty()) {
    Fail(Status::Unknown(options_.peer + ": unasked answer on the write stream of " + ref_));
    return;
  }
  const Expect e = unanswered_.front();
  unanswered_.pop_front();
  if (!resp_.digest().empty()) digest_ = resp_.digest();
  updated_at_ = std::chrono::system_clock::now();
  switch (e.action) {
    case content_pb::STAT:
      offset_ = resp_.offset();
      if (resp_.total() > 0) total_ = resp_.total();
      started_at_ = FromProto(resp_.started_at());
      updated_at_ = FromProto(resp_.updated_at());
      break;
    case content_pb::WRITE:
      if (resp_.offset() != e.offset) {
        Fail(Status::Unknown(options_.peer + ": short write to " + ref_ + " (offset " +
                             std::to_string(resp_.offset()) + ")"));
        return;
      }
      break;
    case content_pb::COMMIT:
      commit_.Swap(&resp_);
      commit_answered_ = true;
      break;
    default:
      break;
  }
  if (!unanswered_.empty() && !reading_) {
    call_->Read(&resp_, TagOf(kRead));
    reading_ = true;
  }
}

void ContentWriteStream::Fail(Status why) {
  // A wrong answer or an overrun: the peer may still be talking; stop it.
  if (!why.ok() || overran_) ctx_->TryCancel();
  Drain();
  failed_ = Finish(std::move(why));
  if (failed_.ok()) {
    failed_ = Status::Unavailable(options_.peer + ": write stream of " + ref_ + " ended");
  }
}

void ContentWriteStream::Drain() {
  while (writing_ || reading_) {
    void* tag = nullptr;
    bool ok = false;
    if (!NextEvent(cq_, options_.step_timeout, &tag, &ok)) {
      overran_ = true;
      ctx_->TryCancel();
      continue;  // cancelled operations come back promptly
    }
    if (OpOf(tag) == kRead) {
      reading_ = false;
    } else {
      writing_ = false;
    }
  }
}

Status ContentWriteStream::Finish(Status why) {
  finished_ = true;
  unanswered_.clear();
  grpc::Status s;
  call_->Finish(&s, TagOf(kFinish));
  void* tag = nullptr;
  bool ok = false;
  if (!NextEvent(cq_, options_.step_timeout, &tag, &ok)) {
    overran_ = true;
    ctx_->TryCancel();
    (void)cq_.Next(&tag, &ok);
  }
  if (!why.ok()) return why;
  if (s.ok() && !overran_) return Status::Ok();
  return MapError(options_, s, overran_);
}

// ---------------------------------------------------------------------------
// ReadContent

Status ReadContent(content_pb::Content::Stub& stub, std::unique_ptr<grpc::ClientContext> context,
                   const std::string& digest, std::int64_t offset, std::int64_t size,
                   const ContentSink& sink, const ContentClientOptions& options) {
  content_pb::ReadContentRequest req;
  req.set_digest(digest);
  req.set_offset(offset);
  req.set_size(size);
  grpc::CompletionQueue cq;
  grpc::ClientContext& ctx = *context;
  const auto timeout = options.step_timeout;
  bool overran = false;
  auto reader = stub.PrepareAsyncRead(&ctx, req, &cq);
  reader->StartCall(TagOf(kStart));
  bool ok = AwaitOne(cq, ctx, timeout, overran);
  Status local;
  std::int64_t n = 0;  // bytes received
  content_pb::ReadContentResponse resp;
  while (ok) {
    reader->Read(&resp, TagOf(kRead));
    if (!AwaitOne(cq, ctx, timeout, overran)) break;
    const std::string& data = resp.data();
    const auto got = static_cast<std::int64_t>(data.size());
    if (resp.offset() != offset + n || (size > 0 && got > size - n)) {
      local = Status::Unknown(options.peer + ": read of " + digest + " answered " +
                              std::to_string(got) + " bytes at " + std::to_string(resp.offset()) +
                              ", expected " +
                              (size > 0 ? "at most " + std::to_string(size - n) + " " : "") +
                              "at " + std::to_string(offset + n));
    } else {
      n += got;
      if (!sink(data)) {
        local = Status::Canceled(options.peer + ": read of " + digest + " stopped by its reader");
      }
    }
    if (!local.ok()) {
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status s;
  reader->Finish(&s, TagOf(kFinish));
  (void)AwaitOne(cq, ctx, timeout, overran);
  ShutdownQueue(cq);
  if (!local.ok()) return local;
  if (s.ok() && !overran) return Status::Ok();
  return MapError(options, s, overran);
}

// ---------------------------------------------------------------------------
// Adapters

namespace {

class StreamReader final : public ContentReader {
 public:
  StreamReader(std::shared_ptr<content_pb::Content::Stub> stub, ContextFactory context,
               std::string digest, std::int64_t size, ContentClientOptions options)
      : stub_(std::move(stub)),
        context_(std::move(context)),
        digest_(std::move(digest)),
        size_(size),
        options_(std::move(options)) {}

  std::int64_t Size() const override { return size_; }

  Result<std::size_t> ReadAt(void* buf, std::size_t size, std::int64_t offset) override {
    if (offset < 0) return Status::InvalidArgument("negative read offset");
    if (size == 0 || offset >= size_) return std::size_t{0};
    const auto want = std::min<std::int64_t>(static_cast<std::int64_t>(size), size_ - offset);
    auto* out = static_cast<char*>(buf);
    std::size_t n = 0;
    BERTH_RETURN_IF_ERROR(ReadContent(
        *stub_, context_(), digest_, offset, want,
        [&](std::string_view data) {
          std::memcpy(out + n, data.data(), data.size());
          n += data.size();
          return true;
        },
        options_));
    return n;
  }

 private:
  std::shared_ptr<content_pb::Content::Stub> stub_;
  ContextFactory context_;
  const std::string digest_;
  const std::int64_t size_;
  const ContentClientOptions options_;
};

class StreamWriter final : public ContentWriter {
 public:
  StreamWriter(std::shared_ptr<content_pb::Content::Stub> stub,
               std::unique_ptr<grpc::ClientContext> context, WriterOptions writer,
               ContentClientOptions options)
      : stub_(std::move(stub)),
        stream_(*stub_, std::move(context), std::move(options)),
        writer_(std::move(writer)) {}

  Status Open() { return stream_.Open(writer_.ref, writer_.total, writer_.expected); }

  Status Write(const void* data, std::size_t size) override {
    BERTH_RETURN_IF_ERROR(stream_.Write(std::string_view(static_cast<const char*>(data), size)));
    return stream_.Sync();
  }
  std::string Digest() const override { return stream_.digest(); }
  std::int64_t Offset() const override { return stream_.offset(); }

  // Answered from what the stream last reported: this writer holds the
  // peer's ingest, so nothing else moves it meanwhile.
  Result<IngestStatus> Stat() const override {
    if (!stream_.failure().ok()) return stream_.failure();
    IngestStatus st;
    st.ref = writer_.ref;
    st.offset = stream_.offset();
    st.total = stream_.total();
    st.expected = writer_.expected;
    st.started_at = stream_.started_at();
    st.updated_at = stream_.updated_at();
    return st;
  }

  Status Truncate(std::int64_t size) override {
    if (size != 0) return Status::InvalidArgument("proxy writers truncate only to 0");
    return stream_.Truncate();
  }

  Status Commit(std::int64_t size, std::string_view expected, const Labels& labels) override {
    auto digest = stream_.Commit(size, expected, labels);
    return digest.ok() ? Status::Ok() : digest.status();
  }

 private:
  std::shared_ptr<content_pb::Content::Stub> stub_;  // outlives stream_
  ContentWriteStream stream_;
  const WriterOptions writer_;
};

}  // namespace

std::unique_ptr<ContentReader> NewContentReader(std::shared_ptr<content_pb::Content::Stub> stub,
                                                ContextFactory context, std::string digest,
                                                std::int64_t size, ContentClientOptions options) {
  return std::make_unique<StreamReader>(std::move(stub), std::move(context), std::move(digest),
                                        size, std::move(options));
}

Result<std::unique_ptr<ContentWriter>> OpenContentWriter(
    std::shared_ptr<content_pb::Content::Stub> stub, std::unique_ptr<grpc::ClientContext> context,
    const WriterOptions& writer, ContentClientOptions options) {
  auto w = std::make_unique<StreamWriter>(std::move(stub), std::move(context), writer,
                                          std::move(options));
  BERTH_RETURN_IF_ERROR(w->Open());
  return std::unique_ptr<ContentWriter>(std::move(w));
}

}  // namespace berth::grpc_util
