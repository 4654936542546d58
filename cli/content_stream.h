// Client ends of the content service's streaming calls, shared by
// `berthctl content` and bench/content: a Write stream (STAT, then WRITE
// chunks, then COMMIT) and a whole-blob Read.
//
// ContentWriteStream sends WRITE requests without waiting for each answer: a
// second thread drains the per-request responses, so berthd hashes one chunk
// while the next is on the wire. The first error ends the stream; Commit or
// Close then return it. A ContentWriteStream is used by one thread at a time
// (its drain thread is internal).
#ifndef BERTH_CLI_CONTENT_STREAM_H_
#define BERTH_CLI_CONTENT_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "containerd/services/content/v1/content.grpc.pb.h"

namespace berth::cli {

namespace content_pb = containerd::services::content::v1;

// The size of each WRITE and of the buffers that feed it.
inline constexpr std::size_t kContentChunkBytes = 1 << 20;

class ContentWriteStream {
 public:
  // `context` carries the namespace (and any deadline) for the whole stream.
  ContentWriteStream(content_pb::Content::Stub& stub,
                     std::unique_ptr<grpc::ClientContext> context);
  ~ContentWriteStream();  // cancels an unfinished stream
  ContentWriteStream(const ContentWriteStream&) = delete;
  ContentWriteStream& operator=(const ContentWriteStream&) = delete;

  // STAT: opens (or resumes) the ingest `ref`. On success `offset()` is where
  // berthd's ingest stands (bytes already written by an earlier attempt).
  grpc::Status Open(const std::string& ref, std::int64_t total,
                    const std::string& expected);
  // WRITE of `data` at offset(). False once the stream has ended; Commit or
  // Close then tell why.
  bool Write(std::string_view data);
  // COMMIT of everything written, with `labels`; returns the blob's digest
  // in `digest` (when non-null).
  grpc::Status Commit(std::int64_t total, const std::string& expected,
                      const std::map<std::string, std::string>& labels,
                      std::string* digest);
  // Ends the stream without committing; the ingest stays resumable.
  grpc::Status Close();

  // Bytes of the ingest sent so far (the resume offset plus this stream's).
  std::int64_t offset() const { return offset_; }

 private:
  void StartDrain();
  grpc::Status Finish();

  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderWriter<content_pb::WriteContentRequest,
                                           content_pb::WriteContentResponse>>
      stream_;
  std::thread drain_;
  content_pb::WriteContentResponse last_;  // written by drain_ until joined
  content_pb::WriteContentRequest req_;
  std::int64_t offset_ = 0;
  bool finished_ = false;
};

// Reads the blob `digest` from `offset` to its end, handing each received
// chunk to `sink`; a false from `sink` cancels the call (CANCELLED).
grpc::Status ReadContent(content_pb::Content::Stub& stub,
                         grpc::ClientContext& context, const std::string& digest,
                         std::int64_t offset,
                         const std::function<bool(std::string_view)>& sink);

}  // namespace berth::cli

#endif  // BERTH_CLI_CONTENT_STREAM_H_
