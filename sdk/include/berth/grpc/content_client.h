// The client side of containerd's content Write and Read calls
// (containerd.services.content.v1.Content), as containerd's content/proxy
// speaks them, shared by berthctl, bench/content and the proxy content store.
//
// - ContentWriteStream runs the STAT / WRITE / COMMIT protocol on one Write
//   call. WRITEs are pipelined: up to `window` of them go out before their
//   answers are awaited (window 1 is containerd's lock-step); every answer is
//   still checked (its offset must be where its WRITE ended). Sync() waits
//   for all answers. The first failure ends the call and is returned by
//   every later method.
// - ReadContent is one Read call for a range of a blob, one message taken at
//   a time (gRPC flow control keeps the peer at most a window ahead).
// - OpenContentWriter / NewContentReader adapt both to berth::ContentWriter
//   and berth::ContentReader.
// Every step of a call (start, a message sent or received, the finish) may be
// bounded by `step_timeout`: an overrun cancels the call, and the error
// policy maps it (DeadlineExceeded by default). Errors are the peer's errdefs
// codes (berth/grpc/status.h FromGrpc) unless the policy says otherwise.
//
// Part of libberth-grpc. Not thread-safe: a stream, reader or writer belongs
// to one caller at a time. The stub must outlive what uses it.
#ifndef BERTH_GRPC_CONTENT_CLIENT_H_
#define BERTH_GRPC_CONTENT_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "berth/content.h"
#include "berth/status.h"
#include "containerd/services/content/v1/content.grpc.pb.h"

namespace berth::grpc_util {

namespace content_pb = containerd::services::content::v1;

// Larger writes go out as several WRITEs of at most this, well below the
// 16 MiB message limit of containerd and berthd.
inline constexpr std::size_t kMaxWriteChunk = 4 << 20;

// Turns a failed call into a Status. `overran` marks a call cancelled because
// one step took longer than the step timeout.
using CallErrorPolicy = std::function<Status(const grpc::Status& status, bool overran)>;

// FromGrpc(status); an overrun is DeadlineExceeded ("no answer within ...").
Status DefaultCallError(const grpc::Status& status, bool overran);

struct ContentClientOptions {
  // Bound of each step of a call; 0 = unbounded. Default 0.
  std::chrono::milliseconds step_timeout{0};
  // WRITEs sent before their answers are awaited; 1 = lock-step. Default 16.
  std::size_t window = 16;
  // Names the peer in the client's own messages. Default "content".
  std::string peer = "content";
  // How failed calls become Statuses. Default (empty): DefaultCallError.
  CallErrorPolicy error;
};

// One Write call. The context carries the namespace and lease headers; it
// must not have an overall deadline shorter than the stream is meant to live.
class ContentWriteStream {
 public:
  ContentWriteStream(content_pb::Content::Stub& stub, std::unique_ptr<grpc::ClientContext> context,
                     ContentClientOptions options = {});
  // Closes (half-close, then finish) a stream still open: the ingest stays.
  ~ContentWriteStream();
  ContentWriteStream(const ContentWriteStream&) = delete;
  ContentWriteStream& operator=(const ContentWriteStream&) = delete;

  // Starts the call and sends STAT for `ref` (with `total` and `expected`,
  // 0 / "" = unknown). On OK, offset() is where the peer's ingest stands (the
  // resume point). The peer's errors: Unavailable while another writer holds
  // the ref, AlreadyExists when `expected` is stored, ... REQUIRES: called
  // once, first.
  Status Open(const std::string& ref, std::int64_t total, const std::string& expected);
  // Sends `data` as WRITEs at offset(), waiting only while `window` WRITEs are
  // unanswered. An error may be that of an earlier WRITE.
  Status Write(std::string_view data);
  // Waits until every WRITE sent is answered.
  Status Sync();
  // Makes the next WRITE restart the ingest at offset 0 (the peer truncates).
  // REQUIRES: Sync() returned OK.
  Status Truncate();
  // COMMIT of everything written, with `size` (0 = unchecked), `expected`
  // ("" = unchecked) and `labels`, then Close(). Returns the blob's digest.
  // FailedPrecondition when the peer answers another size or digest;
  // AlreadyExists when the blob is stored. Afterwards every method returns
  // FailedPrecondition.
  Result<std::string> Commit(std::int64_t size, std::string_view expected, const Labels& labels);
  // Half-closes and finishes the call (once) without committing; the peer
  // keeps the ingest for a resume. OK once the stream has ended.
  Status Close();

  // Bytes of the ingest sent so far: the resume offset plus this stream's.
  std::int64_t offset() const { return offset_; }
  // The peer's digest of the bytes answered so far.
  const std::string& digest() const { return digest_; }
  // The ingest's total as STAT answered it (else as opened).
  std::int64_t total() const { return total_; }
  Timestamp started_at() const { return started_at_; }
  Timestamp updated_at() const { return updated_at_; }
  // OK while the stream works; its failure afterwards.
  const Status& failure() const { return failed_; }

 private:
  struct Expect {
    content_pb::WriteAction action;
    std::int64_t offset;  // where a WRITE's answer must stand
  };
  Status Send(content_pb::WriteAction action, std::int64_t end);
  bool Await();  // one event; false once failed
  void Answer();
  // Ends the call after a failed step (`why` OK) or a wrong answer.
  void Fail(Status why);
  void Drain();  // waits for the outstanding operations
  // Finishes the call; `why` when not OK, else the call's status.
  Status Finish(Status why);

  content_pb::Content::Stub& stub_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  const ContentClientOptions options_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<content_pb::WriteContentRequest,
                                                content_pb::WriteContentResponse>>
      call_;
  content_pb::WriteContentRequest req_;
  content_pb::WriteContentResponse resp_;
  content_pb::WriteContentResponse commit_;  // the COMMIT's answer
  bool commit_answered_ = false;
  std::deque<Expect> unanswered_;
  bool writing_ = false;  // a Write or WritesDone outstanding
  bool reading_ = false;  // a Read outstanding
  bool overran_ = false;
  bool closing_ = false;  // half-closed: the end of the answers is expected
  bool ended_ = false;    // the peer ended the call after the half-close
  bool finished_ = false;
  Status failed_;
  std::string ref_;
  std::int64_t offset_ = 0;
  std::int64_t total_ = 0;
  std::string digest_;
  Timestamp started_at_;
  Timestamp updated_at_;
};

// Receives each chunk of a read in order; false cancels the call (Canceled).
using ContentSink = std::function<bool(std::string_view data)>;

// Reads `size` bytes (0 = to the end) of blob `digest` from `offset`, handing
// each chunk to `sink`. Unknown when the peer answers out of place or more
// than asked; NotFound for a missing blob; the peer's other errors.
Status ReadContent(content_pb::Content::Stub& stub, std::unique_ptr<grpc::ClientContext> context,
                   const std::string& digest, std::int64_t offset, std::int64_t size,
                   const ContentSink& sink, const ContentClientOptions& options = {});

// A new context for each call of a reader (headers, no overall deadline).
using ContextFactory = std::function<std::unique_ptr<grpc::ClientContext>()>;

// A ContentReader of blob `digest` (of `size` bytes): each ReadAt is one Read
// call for exactly the bytes asked, as containerd's proxy reads.
std::unique_ptr<ContentReader> NewContentReader(std::shared_ptr<content_pb::Content::Stub> stub,
                                                ContextFactory context, std::string digest,
                                                std::int64_t size, ContentClientOptions options);

// A ContentWriter holding one Write stream opened (STAT) with `writer`. Each
// Write returns once the peer answered all its WRITEs; Truncate accepts only
// 0; destroying the writer closes the stream and the ingest stays on the peer.
Result<std::unique_ptr<ContentWriter>> OpenContentWriter(
    std::shared_ptr<content_pb::Content::Stub> stub, std::unique_ptr<grpc::ClientContext> context,
    const WriterOptions& writer, ContentClientOptions options);

}  // namespace berth::grpc_util

#endif  // BERTH_GRPC_CONTENT_CLIENT_H_
