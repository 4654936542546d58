// ProxyDiffer: a berth::Differ that is a client of an external differ
// speaking containerd.services.diff.v1.Diff (a [proxy_plugins] entry of type
// "diff"), as containerd's diff/proxy is.
//
// - Apply sends the descriptor, the mounts and the processor payloads (each
//   the serialised Any the diff service received); Compare sends both mount
//   sets and the media type, ref and labels. Answers come back unchanged.
// - The local ContentStore argument is ignored: a remote differ reads the
//   layer blob from (and writes a new one to) the content store on its own
//   side, as containerd's remote differs do. The peer must therefore see the
//   same content as berthd's clients, e.g. a differ inside the daemon that
//   also serves berthd's content proxy, or one reading berthd's own socket.
// - The namespace and lease of the calling thread's CallContext travel as
//   the containerd-namespace and containerd-lease headers; the call ends at
//   the earlier of the proxy's `timeout` and the CallContext's deadline.
// Failures follow ProxyChannel: Unavailable while the peer is away,
// DeadlineExceeded when the deadline passes, the peer's errdefs code
// otherwise (NotImplemented lets the diff service try its next differ).
//
// Thread-safe: holds no lock; every call has its own gRPC context.
#ifndef BERTH_PROXY_CLIENT_DIFFER_H_
#define BERTH_PROXY_CLIENT_DIFFER_H_

#include <memory>
#include <vector>

#include "berth/diff.h"
#include "berth/locality.h"
#include "channel.h"
#include "containerd/services/diff/v1/diff.grpc.pb.h"

namespace berth::proxy {

class ProxyDiffer final : public Differ, public RemoteBackend {
 public:
  explicit ProxyDiffer(std::shared_ptr<ProxyChannel> channel);

  bool CallsAnotherProcess() const override { return true; }

  // `content` is not used (see above). InvalidArgument when a processor
  // payload is not a serialised google.protobuf.Any.
  Result<Descriptor> Apply(ContentStore& content, const Descriptor& desc,
                           const std::vector<Mount>& mounts, const ApplyOptions& opts) override;
  // `content` is not used (see above).
  Result<Descriptor> Compare(ContentStore& content, const std::vector<Mount>& lower,
                             const std::vector<Mount>& upper, const DiffOptions& opts) override;

  const ProxyChannel& channel() const { return *channel_; }

 private:
  // A unary context with the calling thread's headers and deadline.
  std::unique_ptr<grpc::ClientContext> Context() const;
  // Unknown when the peer answered OK without a descriptor.
  Result<Descriptor> Answer(const grpc::Status& status, bool has_descriptor,
                            const containerd::types::Descriptor& desc) const;

  std::shared_ptr<ProxyChannel> channel_;
  std::unique_ptr<containerd::services::diff::v1::Diff::Stub> stub_;
};

}  // namespace berth::proxy

#endif  // BERTH_PROXY_CLIENT_DIFFER_H_
