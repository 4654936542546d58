#include "services/namespaces_service.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "berth/events.h"
#include "berth/grpc/call.h"
#include "berth/grpc_service.h"
#include "berth/init_context.h"
#include "berth/metadata.h"
#include "berth/plugin_types.h"
#include "containerd/events/namespace.pb.h"
#include "containerd/services/namespaces/v1/namespace.grpc.pb.h"
#include "events/publish.h"

namespace berth::host {
namespace {

namespace ns_pb = containerd::services::namespaces::v1;

// Namespaces are named by the request, not by the containerd-namespace header.
constexpr grpc_util::CallRules kRules{.namespace_required = false};

void ToProto(const Namespace& r, ns_pb::Namespace* out) {
  out->set_name(r.name);
  for (const auto& [k, v] : r.labels) (*out->mutable_labels())[k] = v;
}

Namespace FromProto(const ns_pb::Namespace& pb) {
  return Namespace{pb.name(), Labels(pb.labels().begin(), pb.labels().end())};
}

template <typename Event>
Event NamespaceEvent(const Namespace& r) {
  Event e;
  e.set_name(r.name);
  for (const auto& [k, v] : r.labels) (*e.mutable_labels())[k] = v;
  return e;
}

// A read of the local metadata store only (never another process).
grpc::ServerUnaryReactor* ServeLocalRead(grpc::CallbackServerContext* ctx,
                                         grpc_util::UnaryBody body) {
  auto call = grpc_util::CallContextOf(*ctx, kRules);
  if (!call.ok()) return grpc_util::FinishNow(ctx, call.status());
  return grpc_util::ServeRead(ctx, *call, kRules, /*local=*/true, std::move(body));
}

class NamespacesService final : public ns_pb::Namespaces::CallbackService {
 public:
  NamespacesService(NamespaceStore* store, EventPublisher* events)
      : store_(store), events_(events) {}

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx,
                                const ns_pb::GetNamespaceRequest* req,
                                ns_pb::GetNamespaceResponse* resp) override {
    // A lookup in the local metadata store: served on gRPC's thread.
    return ServeLocalRead(ctx, [this, req, resp](const CallContext&) -> Status {
      auto r = store_->GetNamespace(req->name());
      if (!r.ok()) return r.status();
      ToProto(*r, resp->mutable_namespace_());
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* ctx,
                                 const ns_pb::ListNamespacesRequest*,
                                 ns_pb::ListNamespacesResponse* resp) override {
    return grpc_util::ServeUnary(ctx, kRules, [this, resp](const CallContext&) -> Status {
      auto list = store_->ListNamespaces();
      if (!list.ok()) return list.status();
      for (const auto& r : *list) ToProto(r, resp->add_namespaces());
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Create(grpc::CallbackServerContext* ctx,
                                   const ns_pb::CreateNamespaceRequest* req,
                                   ns_pb::CreateNamespaceResponse* resp) override {
    return grpc_util::ServeUnary(ctx, kRules, [this, req, resp](const CallContext& call) -> Status {
      Namespace r = FromProto(req->namespace_());
      BERTH_RETURN_IF_ERROR(store_->CreateNamespace(r));
      ToProto(r, resp->mutable_namespace_());
      PublishEvent(events_, call.ns, "/namespaces/create",
                   NamespaceEvent<containerd::events::NamespaceCreate>(r));
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* ctx,
                                   const ns_pb::UpdateNamespaceRequest* req,
                                   ns_pb::UpdateNamespaceResponse* resp) override {
    return grpc_util::ServeUnary(ctx, kRules, [this, req, resp](const CallContext& call) -> Status {
      std::vector<std::string> paths(req->update_mask().paths().begin(),
                                     req->update_mask().paths().end());
      auto r = store_->UpdateNamespace(FromProto(req->namespace_()), paths);
      if (!r.ok()) return r.status();
      ToProto(*r, resp->mutable_namespace_());
      PublishEvent(events_, call.ns, "/namespaces/update",
                   NamespaceEvent<containerd::events::NamespaceUpdate>(*r));
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const ns_pb::DeleteNamespaceRequest* req,
                                   google::protobuf::Empty*) override {
    return grpc_util::ServeUnary(ctx, kRules, [this, req](const CallContext& call) -> Status {
      BERTH_RETURN_IF_ERROR(store_->DeleteNamespace(req->name()));
      containerd::events::NamespaceDelete e;
      e.set_name(req->name());
      PublishEvent(events_, call.ns, "/namespaces/delete", e);
      return Status::Ok();
    });
  }

 private:
  NamespaceStore* store_;
  EventPublisher* events_;  // may be null: no exchange loaded
};

class NamespacesServicePlugin final : public GrpcServicePlugin {
 public:
  NamespacesServicePlugin(std::shared_ptr<NamespaceStore> store,
                          std::shared_ptr<EventPublisher> events)
      : store_(std::move(store)),
        events_(std::move(events)),
        service_(store_.get(), events_.get()) {}
  std::vector<grpc::Service*> Services() override { return {&service_}; }

 private:
  std::shared_ptr<NamespaceStore> store_;
  std::shared_ptr<EventPublisher> events_;
  NamespacesService service_;
};

}  // namespace

Registration NamespacesServiceRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "namespaces";
  r.required_types = {std::string(types::kMetadata)};
  r.optional_types = {std::string(types::kEvent)};
  r.init = [](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    auto store = ctx.GetAs<NamespaceStore>(types::kMetadata);
    if (!store.ok()) return store.status();
    auto events = ctx.GetAs<EventPublisher>(types::kEvent);
    return std::shared_ptr<Plugin>(std::make_shared<NamespacesServicePlugin>(
        std::move(*store), events.ok() ? std::move(*events) : nullptr));
  };
  return r;
}

}  // namespace berth::host
