#include "services/containers_service.h"

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "berth/containers.h"
#include "berth/events.h"
#include "berth/grpc/batched_list.h"
#include "berth/grpc/call.h"
#include "berth/grpc_service.h"
#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "containerd/events/container.pb.h"
#include "containerd/services/containers/v1/containers.grpc.pb.h"
#include "events/publish.h"
#include "metadata/containers.h"

namespace berth::host {
namespace {

namespace cpb = containerd::services::containers::v1;

constexpr grpc_util::CallRules kRules{.namespace_required = true};

Result<filters::Filter> FiltersOf(const cpb::ListContainersRequest& req) {
  return filters::ParseAll({req.filters().begin(), req.filters().end()});
}

// The events containerd publishes after a change, from the stored container.
containerd::events::ContainerCreate CreateEvent(const Container& c) {
  containerd::events::ContainerCreate e;
  e.set_id(c.id);
  e.set_image(c.image);
  auto* runtime = e.mutable_runtime();
  runtime->set_name(c.runtime.name);
  if (!c.runtime.options.empty()) {
    runtime->mutable_options()->set_type_url(c.runtime.options.type_url);
    runtime->mutable_options()->set_value(c.runtime.options.value);
  }
  return e;
}

containerd::events::ContainerUpdate UpdateEvent(const Container& c) {
  containerd::events::ContainerUpdate e;
  e.set_id(c.id);
  e.set_image(c.image);
  for (const auto& [k, v] : c.labels) (*e.mutable_labels())[k] = v;
  e.set_snapshot_key(c.snapshot_key);
  return e;
}

class ContainersService final : public cpb::Containers::CallbackService {
 public:
  ContainersService(ContainerStore* store, EventPublisher* events)
      : store_(store), events_(events) {}

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx,
                                const cpb::GetContainerRequest* req,
                                cpb::GetContainerResponse* resp) override {
    return grpc_util::ServeUnary(ctx, kRules, [this, req, resp](const CallContext& call) -> Status {
      auto c = store_->GetContainer(call.ns, req->id());
      if (!c.ok()) return c.status();
      metadata::ToProto(*c, resp->mutable_container());
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* ctx,
                                 const cpb::ListContainersRequest* req,
                                 cpb::ListContainersResponse* resp) override {
    return grpc_util::ServeUnary(ctx, kRules, [this, req, resp](const CallContext& call) -> Status {
      auto filter = FiltersOf(*req);
      if (!filter.ok()) return filter.status();
      auto list = store_->ListContainers(call.ns, *filter);
      if (!list.ok()) return list.status();
      for (const Container& c : *list) metadata::ToProto(c, resp->add_containers());
      return Status::Ok();
    });
  }

  grpc::ServerWriteReactor<cpb::ListContainerMessage>* ListStream(
      grpc::CallbackServerContext* ctx, const cpb::ListContainersRequest* req) override {
    using Batches = std::deque<cpb::ListContainerMessage>;
    Executor* executor = &kRules.RunOn();
    return new grpc_util::BatchedListReactor<cpb::ListContainerMessage>(
        [this, ctx, req](Batches& batches) -> Status {
          auto call = grpc_util::CallContextOf(*ctx, kRules);
          if (!call.ok()) return call.status();
          CallScope scope(*call);
          auto filter = FiltersOf(*req);
          if (!filter.ok()) return filter.status();
          auto list = store_->ListContainers(call->ns, *filter);
          if (!list.ok()) return list.status();
          for (const Container& c : *list) {
            metadata::ToProto(c, batches.emplace_back().mutable_container());
          }
          return Status::Ok();
        },
        [executor](std::function<void()> task) { executor->Submit(std::move(task)); });
  }

  grpc::ServerUnaryReactor* Create(grpc::CallbackServerContext* ctx,
                                   const cpb::CreateContainerRequest* req,
                                   cpb::CreateContainerResponse* resp) override {
    return grpc_util::ServeUnary(ctx, kRules, [this, req, resp](const CallContext& call) -> Status {
      auto c = store_->CreateContainer(call.ns, metadata::FromProto(req->container()));
      if (!c.ok()) return c.status();
      metadata::ToProto(*c, resp->mutable_container());
      PublishEvent(events_, call.ns, "/containers/create", CreateEvent(*c));
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* ctx,
                                   const cpb::UpdateContainerRequest* req,
                                   cpb::UpdateContainerResponse* resp) override {
    if (req->container().id().empty()) {
      return grpc_util::FinishNow(ctx, Status::InvalidArgument("Container.ID required"));
    }
    return grpc_util::ServeUnary(ctx, kRules, [this, req, resp](const CallContext& call) -> Status {
      std::vector<std::string> paths(req->update_mask().paths().begin(),
                                     req->update_mask().paths().end());
      auto c = store_->UpdateContainer(call.ns, metadata::FromProto(req->container()), paths);
      if (!c.ok()) return c.status();
      metadata::ToProto(*c, resp->mutable_container());
      PublishEvent(events_, call.ns, "/containers/update", UpdateEvent(*c));
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const cpb::DeleteContainerRequest* req,
                                   google::protobuf::Empty*) override {
    return grpc_util::ServeUnary(ctx, kRules, [this, req](const CallContext& call) -> Status {
      BERTH_RETURN_IF_ERROR(store_->DeleteContainer(call.ns, req->id()));
      containerd::events::ContainerDelete e;
      e.set_id(req->id());
      PublishEvent(events_, call.ns, "/containers/delete", e);
      return Status::Ok();
    });
  }

 private:
  ContainerStore* store_;
  EventPublisher* events_;  // may be null: no exchange loaded
};

class ContainersServicePlugin final : public GrpcServicePlugin {
 public:
  ContainersServicePlugin(std::shared_ptr<ContainerStore> store,
                          std::shared_ptr<EventPublisher> events)
      : store_(std::move(store)),
        events_(std::move(events)),
        service_(store_.get(), events_.get()) {}
  std::vector<grpc::Service*> Services() override { return {&service_}; }

 private:
  std::shared_ptr<ContainerStore> store_;
  std::shared_ptr<EventPublisher> events_;
  ContainersService service_;
};

}  // namespace

Registration ContainersServiceRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "containers";
  r.required_types = {std::string(types::kMetadata)};
  r.optional_types = {std::string(types::kEvent)};
  r.init = [](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    auto store = ctx.GetAs<ContainerStore>(types::kMetadata);
    if (!store.ok()) return store.status();
    auto events = ctx.GetAs<EventPublisher>(types::kEvent);
    return std::shared_ptr<Plugin>(std::make_shared<ContainersServicePlugin>(
        std::move(*store), events.ok() ? std::move(*events) : nullptr));
  };
  return r;
}

}  // namespace berth::host
