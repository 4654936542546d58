// ProxyContentStore: a berth::ContentStore that is a client of an external
// content store speaking containerd.services.content.v1.Content (a
// [proxy_plugins] entry of type "content"), as containerd's content/proxy is.
//
// - Each ReadAt is one Read call for exactly the bytes asked, taken a message
//   at a time (gRPC flow control keeps the peer at most a window ahead), as
//   containerd's proxy reads; the peer never sends more than was asked
//   (clients such as ctr read in 32 KiB calls).
// - Writers hold one Write stream (berth/grpc/content_client.h); each Write
//   returns once the peer answered all its requests (a large one goes out as
//   pipelined 4 MiB requests), as containerd's lockstep does. Truncate
//   accepts only 0 (the peer restarts the ingest at the next write).
//   Destroying a writer half-closes the stream; the ingest stays on the peer
//   for a resume.
// - Walk and ListStatuses ask the peer for everything and filter here (the
//   parsed filters::Filter has no text to forward); the answers are the same.
// - Readers and writers keep the CallContext they were opened with: their
//   headers do not change with the thread that uses them later.
// Failures follow ProxyChannel (Unavailable while the peer is away, the
// peer's errdefs code otherwise); a stream that failed stays failed.
//
// Thread-safe (the store); readers and writers belong to one caller.
#ifndef BERTH_PROXY_CLIENT_CONTENT_STORE_H_
#define BERTH_PROXY_CLIENT_CONTENT_STORE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "berth/content.h"
#include "berth/locality.h"
#include "channel.h"
#include "containerd/services/content/v1/content.grpc.pb.h"

namespace berth::proxy {

using ContentStub = containerd::services::content::v1::Content::Stub;

class ProxyContentStore final : public ContentStore, public RemoteBackend {
 public:
  bool CallsAnotherProcess() const override { return true; }
  explicit ProxyContentStore(std::shared_ptr<ProxyChannel> channel);

  Result<ContentInfo> Info(std::string_view digest) override;
  Result<ContentInfo> Update(const ContentInfo& info,
                             const std::vector<std::string>& fieldpaths) override;
  Status Walk(const filters::Filter& filter,
              const std::function<Status(const ContentInfo&)>& fn) override;
  Status Delete(std::string_view digest) override;
  Result<std::unique_ptr<ContentReader>> ReaderAt(std::string_view digest) override;
  Result<std::unique_ptr<ContentWriter>> Writer(const WriterOptions& options) override;
  Result<IngestStatus> GetStatus(std::string_view ref) override;
  Result<std::vector<IngestStatus>> ListStatuses(const filters::Filter& filter) override;
  Status Abort(std::string_view ref) override;

  const ProxyChannel& channel() const { return *channel_; }

 private:
  std::shared_ptr<ProxyChannel> channel_;
  std::shared_ptr<ContentStub> stub_;
};

}  // namespace berth::proxy

#endif  // BERTH_PROXY_CLIENT_CONTENT_STORE_H_
