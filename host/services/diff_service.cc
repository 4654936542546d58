#include "services/diff_service.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "berth/diff.h"
#include "berth/grpc/call.h"
#include "berth/grpc/convert.h"
#include "berth/grpc_service.h"
#include "berth/init_context.h"
#include "berth/metadata.h"
#include "berth/plugin_types.h"
#include "containerd/services/diff/v1/diff.grpc.pb.h"

namespace berth::host {
namespace {

namespace dpb = containerd::services::diff::v1;

constexpr char kDiffServiceId[] = "diff-service";
constexpr grpc_util::CallRules kRules{.namespace_required = true};

struct DiffServiceConfig : PluginConfig {
  // The differ ids to try, in order of preference. Default ["walking"].
  std::vector<std::string> order{"walking"};

  void Describe(ConfigFields& f) override { f.Field("default", order); }
};

// The diff-service's instance: the ordered differs over the namespaced
// content store.
class DiffService final : public virtual Plugin {
 public:
  DiffService(std::shared_ptr<NamespacedStores> stores,
              std::vector<std::shared_ptr<Differ>> differs)
      : stores_(std::move(stores)), differs_(std::move(differs)) {}

  Result<Descriptor> Apply(const CallContext& call, const Descriptor& desc,
                           const std::vector<Mount>& mounts, const ApplyOptions& opts) {
    return FirstImplemented(call, [&](Differ& d, ContentStore& content) {
      return d.Apply(content, desc, mounts, opts);
    });
  }

  Result<Descriptor> Compare(const CallContext& call, const std::vector<Mount>& lower,
                             const std::vector<Mount>& upper, const DiffOptions& opts) {
    return FirstImplemented(call, [&](Differ& d, ContentStore& content) {
      return d.Compare(content, lower, upper, opts);
    });
  }

 private:
  // The first answer of the differs, in order, that is not NotImplemented;
  // else the last NotImplemented.
  template <typename Fn>
  Result<Descriptor> FirstImplemented(const CallContext& call, Fn fn) {
    auto content = stores_->ContentFor(call);
    if (!content.ok()) return content.status();
    Result<Descriptor> answer = Status::NotImplemented("no differ configured");
    for (const auto& differ : differs_) {
      answer = fn(*differ, **content);
      if (answer.ok() || !answer.status().Is(Code::kNotImplemented)) break;
    }
    return answer;
  }

  const std::shared_ptr<NamespacedStores> stores_;
  const std::vector<std::shared_ptr<Differ>> differs_;
};

// The differ `id`, or the init error containerd gives when it is missing.
Result<std::shared_ptr<Differ>> DifferOf(InitContext& ic, const std::string& id) {
  auto plugin = ic.GetByID(types::kDiffer, id);
  if (!plugin.ok()) {
    const Status& s = plugin.status();
    const std::string uri = std::string(types::kDiffer) + "." + id;
    // A failed or skipped differ's status is its own, prefixed with its URI.
    if (s.Is(Code::kNotFound) && s.message().rfind(uri, 0) != 0) {
      return Status::FailedPrecondition("needed differ not loaded: " + id);
    }
    return Status::FailedPrecondition(
        "could not load required differ due plugin init error: " + id + ": " + s.ToString());
  }
  auto differ = std::dynamic_pointer_cast<Differ>(*plugin);
  if (differ == nullptr) {
    return Status::InvalidArgument("differ does not implement Comparer and Applier interface: " +
                                   id);
  }
  return differ;
}

Result<std::shared_ptr<Plugin>> InitDiffService(InitContext& ic) {
  auto stores = ic.GetAs<NamespacedStores>(types::kMetadata);
  if (!stores.ok()) return stores.status();
  std::vector<std::shared_ptr<Differ>> differs;
  for (const std::string& id : ic.Config<DiffServiceConfig>().order) {
    auto differ = DifferOf(ic, id);
    if (!differ.ok()) return differ.status();
    differs.push_back(std::move(*differ));
  }
  return std::shared_ptr<Plugin>(
      std::make_shared<DiffService>(std::move(*stores), std::move(differs)));
}

ApplyOptions ApplyOptionsOf(const dpb::ApplyRequest& req) {
  ApplyOptions opts;
  // A payload travels to its processor as the serialised Any, as containerd
  // hands processors the Any itself.
  for (const auto& [id, any] : req.payloads()) {
    opts.processor_payloads[id] = any.SerializeAsString();
  }
  return opts;
}

DiffOptions DiffOptionsOf(const dpb::DiffRequest& req) {
  DiffOptions opts;
  opts.media_type = req.media_type();
  opts.ref = req.ref();
  opts.labels = grpc_util::FromProto(req.labels());
  return opts;
}

class DiffGrpcService final : public dpb::Diff::CallbackService {
 public:
  explicit DiffGrpcService(DiffService* local) : local_(local) {}

  grpc::ServerUnaryReactor* Apply(grpc::CallbackServerContext* ctx, const dpb::ApplyRequest* req,
                                  dpb::ApplyResponse* resp) override {
    return grpc_util::ServeUnary(ctx, kRules, [this, req, resp](const CallContext& call) -> Status {
      auto applied = local_->Apply(call, grpc_util::FromProto(req->diff()),
                                   grpc_util::FromProto(req->mounts()), ApplyOptionsOf(*req));
      if (!applied.ok()) return applied.status();
      grpc_util::ToProto(*applied, resp->mutable_applied());
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Diff(grpc::CallbackServerContext* ctx, const dpb::DiffRequest* req,
                                 dpb::DiffResponse* resp) override {
    return grpc_util::ServeUnary(ctx, kRules, [this, req, resp](const CallContext& call) -> Status {
      auto diff = local_->Compare(call, grpc_util::FromProto(req->left()),
                                  grpc_util::FromProto(req->right()), DiffOptionsOf(*req));
      if (!diff.ok()) return diff.status();
      grpc_util::ToProto(*diff, resp->mutable_diff());
      return Status::Ok();
    });
  }

 private:
  DiffService* const local_;
};

class DiffGrpcServicePlugin final : public GrpcServicePlugin {
 public:
  explicit DiffGrpcServicePlugin(std::shared_ptr<DiffService> local)
      : local_(std::move(local)), service_(local_.get()) {}
  std::vector<grpc::Service*> Services() override { return {&service_}; }

 private:
  const std::shared_ptr<DiffService> local_;
  DiffGrpcService service_;
};

Result<std::shared_ptr<Plugin>> InitDiffGrpcService(InitContext& ic) {
  auto local = ic.GetByIDAs<DiffService>(types::kService, kDiffServiceId);
  if (!local.ok()) {
    if (local.status().Is(Code::kNotFound)) return Status::NotFound("diff service not found");
    return Status::FailedPrecondition(local.status().ToString());
  }
  return std::shared_ptr<Plugin>(std::make_shared<DiffGrpcServicePlugin>(std::move(*local)));
}

}  // namespace

Registration DiffServiceRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kService);
  r.id = kDiffServiceId;
  r.required_types = {std::string(types::kMetadata)};
  r.optional_types = {std::string(types::kDiffer)};
  r.config = [] { return std::make_unique<DiffServiceConfig>(); };
  r.init = InitDiffService;
  return r;
}

Registration DiffGrpcServiceRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "diff";
  r.required_types = {std::string(types::kService)};
  r.init = InitDiffGrpcService;
  return r;
}

}  // namespace berth::host
