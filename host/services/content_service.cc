#include "services/content_service.h"

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
#include "containerd/events/content.pb.h"
#include "events/publish.h"

namespace berth::host {
namespace {

// The resolved content store of one call, publishing containerd's
// /content/delete in the call's namespace after a delete succeeds.
class PublishingContentStore final : public ContentStore, public RemoteBackend {
 public:
  PublishingContentStore(std::shared_ptr<ContentStore> inner, EventPublisher* events,
                         std::string ns)
      : inner_(std::move(inner)), events_(events), ns_(std::move(ns)) {}

  bool CallsAnotherProcess() const override { return berth::CallsAnotherProcess(*inner_); }

  Result<ContentInfo> Info(std::string_view digest) override { return inner_->Info(digest); }
  Result<ContentInfo> Update(const ContentInfo& info,
                             const std::vector<std::string>& fieldpaths) override {
    return inner_->Update(info, fieldpaths);
  }
  Status Walk(const filters::Filter& filter,
              const std::function<Status(const ContentInfo&)>& fn) override {
    return inner_->Walk(filter, fn);
  }
  Status Delete(std::string_view digest) override {
    BERTH_RETURN_IF_ERROR(inner_->Delete(digest));
    containerd::events::ContentDelete e;
    e.set_digest(std::string(digest));
    PublishEvent(events_, ns_, "/content/delete", e);
    return Status::Ok();
  }
  Result<std::unique_ptr<ContentReader>> ReaderAt(std::string_view digest) override {
    return inner_->ReaderAt(digest);
  }
  Result<std::unique_ptr<ContentWriter>> Writer(const WriterOptions& options) override {
    return inner_->Writer(options);
  }
  Result<IngestStatus> GetStatus(std::string_view ref) override { return inner_->GetStatus(ref); }
  Result<std::vector<IngestStatus>> ListStatuses(const filters::Filter& filter) override {
    return inner_->ListStatuses(filter);
  }
  Status Abort(std::string_view ref) override { return inner_->Abort(ref); }

 private:
  const std::shared_ptr<ContentStore> inner_;
  EventPublisher* const events_;
  const std::string ns_;
};

class ContentServicePlugin final : public GrpcServicePlugin {
 public:
  ContentServicePlugin(std::shared_ptr<NamespacedStores> stores,
                       std::shared_ptr<EventPublisher> events)
      : stores_(std::move(stores)),
        events_(std::move(events)),
        server_(
            [stores = stores_.get(), events = events_.get()](
                const CallContext& call) -> Result<std::shared_ptr<ContentStore>> {
              auto store = stores->ContentFor(call);
              if (!store.ok() || events == nullptr) return store;
              return std::shared_ptr<ContentStore>(
                  std::make_shared<PublishingContentStore>(std::move(*store), events, call.ns));
            },
            grpc_util::CallRules{.namespace_required = true}) {}
  std::vector<grpc::Service*> Services() override { return {server_.service()}; }

 private:
  std::shared_ptr<NamespacedStores> stores_;
  std::shared_ptr<EventPublisher> events_;  // null when no exchange is loaded
  grpc_util::ContentServer server_;
};

}  // namespace

Registration ContentServiceRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "content";
  r.required_types = {std::string(types::kMetadata)};
  r.optional_types = {std::string(types::kEvent)};
  r.init = [](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    auto stores = ctx.GetAs<NamespacedStores>(types::kMetadata);
    if (!stores.ok()) return stores.status();
    auto events = ctx.GetAs<EventPublisher>(types::kEvent);
    return std::shared_ptr<Plugin>(std::make_shared<ContentServicePlugin>(
        std::move(*stores), events.ok() ? std::move(*events) : nullptr));
  };
  return r;
}

}  // namespace berth::host
