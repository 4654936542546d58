#include "services/snapshots_service.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "berth/events.h"
#include "berth/grpc/serve.h"
#include "berth/grpc_service.h"
#include "berth/init_context.h"
#include "berth/locality.h"
#include "berth/metadata.h"
#include "berth/plugin_types.h"
#include "containerd/events/snapshot.pb.h"
#include "events/publish.h"

namespace berth::host {
namespace {

// The resolved snapshotter of one call, publishing containerd's
// /snapshot/prepare, /snapshot/commit and /snapshot/remove in the call's
// namespace after each succeeds (as containerd's snapshots service does).
class PublishingSnapshotter final : public Snapshotter, public RemoteBackend {
 public:
  PublishingSnapshotter(std::shared_ptr<Snapshotter> inner, EventPublisher* events, std::string ns)
      : inner_(std::move(inner)), events_(events), ns_(std::move(ns)) {}

  bool CallsAnotherProcess() const override { return berth::CallsAnotherProcess(*inner_); }

  Result<snapshots::Info> Stat(const std::string& key) override { return inner_->Stat(key); }
  Result<snapshots::Info> Update(const snapshots::Info& info,
                                 const std::vector<std::string>& fieldpaths) override {
    return inner_->Update(info, fieldpaths);
  }
  Result<snapshots::Usage> Usage(const std::string& key) override { return inner_->Usage(key); }
  Result<std::vector<Mount>> Mounts(const std::string& key) override { return inner_->Mounts(key); }
  Result<std::vector<Mount>> Prepare(const std::string& key, const std::string& parent,
                                     const snapshots::Labels& labels) override {
    auto mounts = inner_->Prepare(key, parent, labels);
    if (mounts.ok()) {
      containerd::events::SnapshotPrepare e;
      e.set_key(key);
      e.set_parent(parent);
      PublishEvent(events_, ns_, "/snapshot/prepare", e);
    }
    return mounts;
  }
  Result<std::vector<Mount>> View(const std::string& key, const std::string& parent,
                                  const snapshots::Labels& labels) override {
    return inner_->View(key, parent, labels);
  }
  Status Commit(const std::string& name, const std::string& key,
                const snapshots::Labels& labels) override {
    BERTH_RETURN_IF_ERROR(inner_->Commit(name, key, labels));
    containerd::events::SnapshotCommit e;
    e.set_key(key);
    e.set_name(name);
    PublishEvent(events_, ns_, "/snapshot/commit", e);
    return Status::Ok();
  }
  Status Remove(const std::string& key) override {
    BERTH_RETURN_IF_ERROR(inner_->Remove(key));
    containerd::events::SnapshotRemove e;
    e.set_key(key);
    PublishEvent(events_, ns_, "/snapshot/remove", e);
    return Status::Ok();
  }
  Status Walk(const snapshots::WalkFn& fn, const std::vector<std::string>& filters) override {
    return inner_->Walk(fn, filters);
  }
  Status Cleanup() override { return inner_->Cleanup(); }

 private:
  const std::shared_ptr<Snapshotter> inner_;
  EventPublisher* const events_;
  const std::string ns_;
};

class SnapshotsServicePlugin final : public GrpcServicePlugin {
 public:
  SnapshotsServicePlugin(std::shared_ptr<NamespacedStores> stores,
                         std::shared_ptr<EventPublisher> events)
      : stores_(std::move(stores)),
        events_(std::move(events)),
        server_(
            [stores = stores_.get(), events = events_.get()](
                const CallContext& call,
                const std::string& name) -> Result<std::shared_ptr<Snapshotter>> {
              auto sn = stores->SnapshotterFor(call, name);
              if (!sn.ok() || events == nullptr) return sn;
              return std::shared_ptr<Snapshotter>(
                  std::make_shared<PublishingSnapshotter>(std::move(*sn), events, call.ns));
            },
            grpc_util::CallRules{.namespace_required = true}) {}
  std::vector<grpc::Service*> Services() override { return {server_.service()}; }

 private:
  std::shared_ptr<NamespacedStores> stores_;
  std::shared_ptr<EventPublisher> events_;  // null when no exchange is loaded
  grpc_util::SnapshotsServer server_;
};

}  // namespace

Registration SnapshotsServiceRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "snapshots";
  r.required_types = {std::string(types::kMetadata)};
  r.optional_types = {std::string(types::kEvent)};
  r.init = [](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    auto stores = ctx.GetAs<NamespacedStores>(types::kMetadata);
    if (!stores.ok()) return stores.status();
    auto events = ctx.GetAs<EventPublisher>(types::kEvent);
    return std::shared_ptr<Plugin>(std::make_shared<SnapshotsServicePlugin>(
        std::move(*stores), events.ok() ? std::move(*events) : nullptr));
  };
  return r;
}

}  // namespace berth::host
