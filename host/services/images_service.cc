#include "services/images_service.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "berth/events.h"
#include "berth/gc.h"
#include "berth/grpc/call.h"
#include "berth/grpc_service.h"
#include "berth/images.h"
#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "containerd/events/image.pb.h"
#include "containerd/services/images/v1/images.grpc.pb.h"
#include "events/publish.h"
#include "metadata/images.h"
#include "services/gc_service.h"

namespace berth::host {
namespace {

namespace ipb = containerd::services::images::v1;

constexpr grpc_util::CallRules kRules{.namespace_required = true};

// The payload of /images/create and /images/update: the image's name and
// labels as stored.
template <typename Event>
Event ImageEvent(const ipb::Image& image) {
  Event e;
  e.set_name(image.name());
  *e.mutable_labels() = image.labels();
  return e;
}

class ImagesService final : public ipb::Images::CallbackService {
 public:
  ImagesService(HostEnv env, ImageStore* store, GarbageCollector* collector, EventPublisher* events)
      : env_(env), store_(store), collector_(collector), events_(events) {}

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const ipb::GetImageRequest* req,
                                ipb::GetImageResponse* resp) override {
    return grpc_util::ServeUnary(ctx, kRules, [this, req, resp](const CallContext& call) -> Status {
      auto image = store_->GetImage(call.ns, req->name());
      if (!image.ok()) return image.status();
      metadata::ToProto(*image, resp->mutable_image());
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* ctx,
                                 const ipb::ListImagesRequest* req,
                                 ipb::ListImagesResponse* resp) override {
    return grpc_util::ServeUnary(ctx, kRules, [this, req, resp](const CallContext& call) -> Status {
      auto filter = filters::ParseAll({req->filters().begin(), req->filters().end()});
      if (!filter.ok()) return filter.status();
      auto list = store_->ListImages(call.ns, *filter);
      if (!list.ok()) return list.status();
      for (const Image& image : *list) metadata::ToProto(image, resp->add_images());
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Create(grpc::CallbackServerContext* ctx,
                                   const ipb::CreateImageRequest* req,
                                   ipb::CreateImageResponse* resp) override {
    if (req->image().name().empty()) {
      return grpc_util::FinishNow(ctx, Status::InvalidArgument("Image.Name required"));
    }
    return grpc_util::ServeUnary(ctx, kRules, [this, req, resp](const CallContext& call) -> Status {
      auto image = store_->CreateImage(call.ns, metadata::FromProto(req->image()));
      if (!image.ok()) return image.status();
      metadata::ToProto(*image, resp->mutable_image());
      PublishEvent(events_, call.ns, "/images/create", ImageEvent<ipb::ImageCreate>(resp->image()));
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* ctx,
                                   const ipb::UpdateImageRequest* req,
                                   ipb::UpdateImageResponse* resp) override {
    if (req->image().name().empty()) {
      return grpc_util::FinishNow(ctx, Status::InvalidArgument("Image.Name required"));
    }
    return grpc_util::ServeUnary(ctx, kRules, [this, req, resp](const CallContext& call) -> Status {
      std::vector<std::string> paths(req->update_mask().paths().begin(),
                                     req->update_mask().paths().end());
      auto image = store_->UpdateImage(call.ns, metadata::FromProto(req->image()), paths);
      if (!image.ok()) return image.status();
      metadata::ToProto(*image, resp->mutable_image());
      PublishEvent(events_, call.ns, "/images/update", ImageEvent<ipb::ImageUpdate>(resp->image()));
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const ipb::DeleteImageRequest* req,
                                   google::protobuf::Empty*) override {
    return grpc_util::ServeUnary(ctx, kRules, [this, req](const CallContext& call) -> Status {
      BERTH_RETURN_IF_ERROR(store_->DeleteImage(call.ns, req->name()));
      ipb::ImageDelete e;
      e.set_name(req->name());
      PublishEvent(events_, call.ns, "/images/delete", e);
      if (!req->sync()) return Status::Ok();
      auto stats = CollectNow(env_, *collector_);
      return stats.ok() ? Status::Ok() : stats.status().Annotate("garbage collection");
    });
  }

 private:
  HostEnv env_;
  ImageStore* store_;
  GarbageCollector* collector_;
  EventPublisher* events_;  // may be null: no exchange loaded
};

class ImagesServicePlugin final : public GrpcServicePlugin {
 public:
  ImagesServicePlugin(HostEnv env, std::shared_ptr<ImageStore> store,
                      std::shared_ptr<GarbageCollector> collector,
                      std::shared_ptr<EventPublisher> events)
      : store_(std::move(store)),
        collector_(std::move(collector)),
        events_(std::move(events)),
        service_(env, store_.get(), collector_.get(), events_.get()) {}
  std::vector<grpc::Service*> Services() override { return {&service_}; }

 private:
  std::shared_ptr<ImageStore> store_;
  std::shared_ptr<GarbageCollector> collector_;
  std::shared_ptr<EventPublisher> events_;
  ImagesService service_;
};

}  // namespace

Registration ImagesServiceRegistration(HostEnv env) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "images";
  r.required_types = {std::string(types::kMetadata)};
  r.optional_types = {std::string(types::kEvent)};
  r.init = [env](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    auto store = ctx.GetAs<ImageStore>(types::kMetadata);
    if (!store.ok()) return store.status();
    auto collector = ctx.GetAs<GarbageCollector>(types::kMetadata);
    if (!collector.ok()) return collector.status();
    auto events = ctx.GetAs<EventPublisher>(types::kEvent);
    return std::shared_ptr<Plugin>(std::make_shared<ImagesServicePlugin>(
        env, std::move(*store), std::move(*collector), events.ok() ? std::move(*events) : nullptr));
  };
  return r;
}

}  // namespace berth::host
