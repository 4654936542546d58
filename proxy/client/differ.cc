#include "differ.h"

#include <google/protobuf/any.pb.h>

#include <utility>

#include "berth/grpc/convert.h"

namespace berth::proxy {
namespace {

namespace pb = containerd::services::diff::v1;
using grpc_util::FromProto;
using grpc_util::ToProto;

}  // namespace

ProxyDiffer::ProxyDiffer(std::shared_ptr<ProxyChannel> channel)
    : channel_(std::move(channel)), stub_(pb::Diff::NewStub(channel_->channel())) {}

std::unique_ptr<grpc::ClientContext> ProxyDiffer::Context() const {
  // Unlike containerd's diff proxy, which sends neither header (containerd
  // issue 12328), this one forwards the caller's namespace and lease like the
  // snapshot and content proxies do: a namespaced peer (another berthd, a
  // containerd) needs the namespace to find the layer blob, and the lease
  // keeps what it writes from being collected before the client uses it.
  const CallContext& call = CurrentCall();
  auto ctx = channel_->UnaryContext(call);
  if (call.deadline < ctx->deadline()) ctx->set_deadline(call.deadline);
  return ctx;
}

Result<Descriptor> ProxyDiffer::Answer(const grpc::Status& status, bool has_descriptor,
                                       const containerd::types::Descriptor& desc) const {
  if (!status.ok()) return channel_->Error(status);
  if (!has_descriptor) {
    return Status::Unknown("proxy " + channel_->options().name + " (" + channel_->socket_path() +
                           "): the peer answered without a descriptor");
  }
  return FromProto(desc);
}

Result<Descriptor> ProxyDiffer::Apply(ContentStore& /*content*/, const Descriptor& desc,
                                      const std::vector<Mount>& mounts, const ApplyOptions& opts) {
  pb::ApplyRequest req;
  ToProto(desc, req.mutable_diff());
  ToProto(mounts, req.mutable_mounts());
  for (const auto& [id, payload] : opts.processor_payloads) {
    google::protobuf::Any any;
    if (!any.ParseFromString(payload)) {
      return Status::InvalidArgument("processor payload " + id +
                                     " is not a serialised google.protobuf.Any");
    }
    (*req.mutable_payloads())[id] = std::move(any);
  }
  pb::ApplyResponse resp;
  auto ctx = Context();
  grpc::Status s = stub_->Apply(ctx.get(), req, &resp);
  return Answer(s, resp.has_applied(), resp.applied());
}

Result<Descriptor> ProxyDiffer::Compare(ContentStore& /*content*/, const std::vector<Mount>& lower,
                                        const std::vector<Mount>& upper, const DiffOptions& opts) {
  pb::DiffRequest req;
  ToProto(lower, req.mutable_left());
  ToProto(upper, req.mutable_right());
  req.set_media_type(opts.media_type);
  req.set_ref(opts.ref);
  ToProto(opts.labels, req.mutable_labels());
  pb::DiffResponse resp;
  auto ctx = Context();
  grpc::Status s = stub_->Diff(ctx.get(), req, &resp);
  return Answer(s, resp.has_diff(), resp.diff());
}

}  // namespace berth::proxy
