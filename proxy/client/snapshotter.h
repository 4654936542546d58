// ProxySnapshotter: a berth::Snapshotter that is a client of an external
// snapshotter speaking containerd.services.snapshots.v1.Snapshots (a
// [proxy_plugins] entry of type "snapshot"), as containerd's
// snapshots/proxy is.
//
// Every request names the proxy in its `snapshotter` field; keys, parents,
// labels and filters pass through unchanged; the namespace and lease of the
// calling thread's CallContext travel as headers. Failures follow
// ProxyChannel: Unavailable while the peer is away, DeadlineExceeded when
// it overruns the timeout, the peer's own errdefs code otherwise.
//
// Thread-safe: holds no lock; every call has its own gRPC context.
#ifndef BERTH_PROXY_CLIENT_SNAPSHOTTER_H_
#define BERTH_PROXY_CLIENT_SNAPSHOTTER_H_

#include <memory>
#include <string>
#include <vector>

#include "berth/locality.h"
#include "berth/snapshotter.h"
#include "channel.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"

namespace berth::proxy {

class ProxySnapshotter final : public Snapshotter, public RemoteBackend {
 public:
  bool CallsAnotherProcess() const override { return true; }
  explicit ProxySnapshotter(std::shared_ptr<ProxyChannel> channel);

  Result<snapshots::Info> Stat(const std::string& key) override;
  Result<snapshots::Info> Update(const snapshots::Info& info,
                                 const std::vector<std::string>& fieldpaths) override;
  Result<snapshots::Usage> Usage(const std::string& key) override;
  Result<std::vector<Mount>> Mounts(const std::string& key) override;
  Result<std::vector<Mount>> Prepare(const std::string& key, const std::string& parent,
                                     const snapshots::Labels& labels) override;
  Result<std::vector<Mount>> View(const std::string& key, const std::string& parent,
                                  const snapshots::Labels& labels) override;
  Status Commit(const std::string& name, const std::string& key,
                const snapshots::Labels& labels) override;
  Status Remove(const std::string& key) override;
  // Streams the peer's List, one message at a time; `fn` runs between
  // messages (and may call back into this snapshotter).
  Status Walk(const snapshots::WalkFn& fn, const std::vector<std::string>& filters) override;
  // The peer's Cleanup; NotImplemented when the peer has none.
  Status Cleanup() override;

  const ProxyChannel& channel() const { return *channel_; }

 private:
  const std::string& name() const { return channel_->options().name; }

  std::shared_ptr<ProxyChannel> channel_;
  std::unique_ptr<containerd::services::snapshots::v1::Snapshots::Stub> stub_;
};

}  // namespace berth::proxy

#endif  // BERTH_PROXY_CLIENT_SNAPSHOTTER_H_
