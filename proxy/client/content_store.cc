#include "content_store.h"

#include <utility>

#include "berth/grpc/content_client.h"
#include "berth/grpc/convert.h"
#include "read_stream.h"

namespace berth::proxy {
namespace {

namespace pb = containerd::services::content::v1;
using grpc_util::FromProto;
using grpc_util::ToProto;

// Reads and writes bound each step by the channel's timeout and fail as its
// other calls do.
grpc_util::ContentClientOptions ClientOptions(const std::shared_ptr<ProxyChannel>& channel) {
  grpc_util::ContentClientOptions options;
  options.step_timeout = channel->timeout();
  options.peer = "proxy " + channel->options().name;
  options.error = [channel](const grpc::Status& status, bool overran) {
    return channel->Error(status, overran);
  };
  return options;
}

}  // namespace

ProxyContentStore::ProxyContentStore(std::shared_ptr<ProxyChannel> channel)
    : channel_(std::move(channel)), stub_(pb::Content::NewStub(channel_->channel())) {}

Result<ContentInfo> ProxyContentStore::Info(std::string_view digest) {
  pb::InfoRequest req;
  req.set_digest(std::string(digest));
  pb::InfoResponse resp;
  auto ctx = channel_->UnaryContext();
  grpc::Status s = stub_->Info(ctx.get(), req, &resp);
  if (!s.ok()) return channel_->Error(s);
  return FromProto(resp.info());
}

Result<ContentInfo> ProxyContentStore::Update(const ContentInfo& info,
                                              const std::vector<std::string>& fieldpaths) {
  pb::UpdateRequest req;
  ToProto(info, req.mutable_info());
  for (const std::string& path : fieldpaths) req.mutable_update_mask()->add_paths(path);
  pb::UpdateResponse resp;
  auto ctx = channel_->UnaryContext();
  grpc::Status s = stub_->Update(ctx.get(), req, &resp);
  if (!s.ok()) return channel_->Error(s);
  return FromProto(resp.info());
}

Status ProxyContentStore::Walk(const filters::Filter& filter,
                               const std::function<Status(const ContentInfo&)>& fn) {
  pb::ListContentRequest req;
  ReadStream<pb::ListContentResponse> stream(
      *channel_, [&](grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
        return stub_->PrepareAsyncList(ctx, req, cq);
      });
  pb::ListContentResponse resp;
  while (stream.Next(resp)) {
    for (const pb::Info& proto : resp.info()) {
      ContentInfo info = FromProto(proto);
      if (!filter.Match(AdaptContentInfo(info))) continue;
      Status s = fn(info);
      if (!s.ok()) {
        stream.Cancel();
        return s;
      }
    }
  }
  return stream.status();
}

Status ProxyContentStore::Delete(std::string_view digest) {
  pb::DeleteContentRequest req;
  req.set_digest(std::string(digest));
  google::protobuf::Empty resp;
  auto ctx = channel_->UnaryContext();
  grpc::Status s = stub_->Delete(ctx.get(), req, &resp);
  return s.ok() ? Status::Ok() : channel_->Error(s);
}

Result<std::unique_ptr<ContentReader>> ProxyContentStore::ReaderAt(std::string_view digest) {
  auto info = Info(digest);
  if (!info.ok()) return info.status();
  // Later reads carry this call's headers, whichever thread makes them.
  grpc_util::ContextFactory context = [channel = channel_, call = CurrentCall()] {
    return channel->StreamContext(call);
  };
  return grpc_util::NewContentReader(stub_, std::move(context), std::string(digest), info->size,
                                     ClientOptions(channel_));
}

Result<std::unique_ptr<ContentWriter>> ProxyContentStore::Writer(const WriterOptions& options) {
  BERTH_RETURN_IF_ERROR(ValidateRef(options.ref));
  return grpc_util::OpenContentWriter(stub_, channel_->StreamContext(), options,
                                      ClientOptions(channel_));
}

Result<IngestStatus> ProxyContentStore::GetStatus(std::string_view ref) {
  pb::StatusRequest req;
  req.set_ref(std::string(ref));
  pb::StatusResponse resp;
  auto ctx = channel_->UnaryContext();
  grpc::Status s = stub_->Status(ctx.get(), req, &resp);
  if (!s.ok()) return channel_->Error(s);
  return FromProto(resp.status());
}

Result<std::vector<IngestStatus>> ProxyContentStore::ListStatuses(const filters::Filter& filter) {
  pb::ListStatusesRequest req;
  pb::ListStatusesResponse resp;
  auto ctx = channel_->UnaryContext();
  grpc::Status s = stub_->ListStatuses(ctx.get(), req, &resp);
  if (!s.ok()) return channel_->Error(s);
  std::vector<IngestStatus> out;
  for (const pb::Status& proto : resp.statuses()) {
    IngestStatus status = FromProto(proto);
    if (filter.Match(AdaptIngestStatus(status))) out.push_back(std::move(status));
  }
  return out;
}

Status ProxyContentStore::Abort(std::string_view ref) {
  pb::AbortRequest req;
  req.set_ref(std::string(ref));
  google::protobuf::Empty resp;
  auto ctx = channel_->UnaryContext();
  grpc::Status s = stub_->Abort(ctx.get(), req, &resp);
  return s.ok() ? Status::Ok() : channel_->Error(s);
}

}  // namespace berth::proxy
