// The streaming calls of the content service: List, Read and Write.
#include <algorithm>
#include <deque>
#include <memory>
#include <string>

#include "berth/call_context.h"
#include "berth/grpc/batched_list.h"
#include "berth/grpc/convert.h"
#include "server/blocking_pool.h"
#include "services/content_service.h"
#include "services/grpc_status.h"

namespace berth::host {
namespace {

using grpc_util::ToProto;

constexpr std::int64_t kReadChunk = 1 << 20;
constexpr std::size_t kListBatchBytes = 1 << 20;

// Collects a namespace's content infos into responses of about 1 MiB each.
berth::Status CollectContent(grpc::CallbackServerContext* ctx,
                             metadata::NamespacedContentStore* store,
                             const content_pb::ListContentRequest* req,
                             std::deque<content_pb::ListContentResponse>& batches) {
  auto ns = NamespaceOf(*ctx);
  if (!ns.ok()) return ns.status();
  CallScope scope({*ns, LeaseOf(*ctx)});
  auto filter = filters::ParseAll({req->filters().begin(), req->filters().end()});
  if (!filter.ok()) return filter.status();
  std::size_t bytes = 0;
  return store->Walk(*ns, *filter, [&](const ContentInfo& info) {
    if (batches.empty() || bytes >= kListBatchBytes) {
      batches.emplace_back();
      bytes = 0;
    }
    content_pb::Info* out = batches.back().add_info();
    ToProto(info, out);
    bytes += out->ByteSizeLong();
    return berth::Status::Ok();
  });
}

class ReadReactor final
    : public grpc::ServerWriteReactor<content_pb::ReadContentResponse> {
 public:
  ReadReactor(grpc::CallbackServerContext* ctx,
              metadata::NamespacedContentStore* store,
              const content_pb::ReadContentRequest* req) {
    grpc::Status s = Open(ctx, store, req);
    if (!s.ok()) {
      Finish(s);
      return;
    }
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  grpc::Status Open(grpc::CallbackServerContext* ctx,
                    metadata::NamespacedContentStore* store,
                    const content_pb::ReadContentRequest* req) {
    auto ns = NamespaceOf(*ctx);
    if (!ns.ok()) return ToGrpc(ns.status());
    CallScope scope({*ns, LeaseOf(*ctx)});
    auto info = store->Info(*ns, req->digest());
    if (!info.ok()) return ToGrpc(info.status());
    auto reader = store->ReaderAt(*ns, req->digest());
    if (!reader.ok()) return ToGrpc(reader.status());
    reader_ = std::move(*reader);
    std::int64_t size = reader_->Size();
    offset_ = std::max<std::int64_t>(req->offset(), 0);
    if (offset_ > size) {
      return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                          "read past object length " + std::to_string(size) +
                              " bytes");
    }
    remaining_ = size - offset_;
    if (req->size() > 0 && req->size() < remaining_) remaining_ = req->size();
    return grpc::Status::OK;
  }
  void Next() {
    if (remaining_ == 0) {
      Finish(grpc::Status::OK);
      return;
    }
    std::string* data = resp_.mutable_data();
    // Same-size resizes keep the buffer; pread fills it in place.
    data->resize(static_cast<std::size_t>(std::min(kReadChunk, remaining_)));
    auto n = reader_->ReadAt(data->data(), data->size(), offset_);
    if (!n.ok()) {
      Finish(ToGrpc(n.status()));
      return;
    }
    if (*n == 0) {
      Finish(grpc::Status(grpc::StatusCode::DATA_LOSS, "blob shorter than its size"));
      return;
    }
    data->resize(*n);
    resp_.set_offset(offset_);
    offset_ += static_cast<std::int64_t>(*n);
    remaining_ -= static_cast<std::int64_t>(*n);
    StartWrite(&resp_);
  }

  std::unique_ptr<ContentReader> reader_;
  std::int64_t offset_ = 0;
  std::int64_t remaining_ = 0;
  content_pb::ReadContentResponse resp_;
};

// containerd's write protocol: the first request names the ref (and may
// declare total and expected); each request gets one response carrying the
// writer's offset; WRITE appends at the current offset (offset 0 on a
// non-empty ingest restarts it); COMMIT optionally writes, then commits and
// ends the stream. The writer (and its ref lock) is released when the stream
// ends, however it ends; the ingest stays for a later resume.
class WriteReactor final
    : public grpc::ServerBidiReactor<content_pb::WriteContentRequest,
                                     content_pb::WriteContentResponse> {
 public:
  WriteReactor(grpc::CallbackServerContext* ctx,
               metadata::NamespacedContentStore* store)
      : store_(store) {
    auto ns = NamespaceOf(*ctx);
    if (!ns.ok()) {
      Finish(ToGrpc(ns.status()));
      return;
    }
    call_ = CallContext{*ns, LeaseOf(*ctx)};
    ns_ = *ns;
    StartRead(&req_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {  // the client closed its side (or went away)
      End(grpc::Status::OK);
      return;
    }
    grpc::Status s;
    {
      CallScope scope(call_);
      s = Handle();
    }
    if (!s.ok()) {
      End(s);
      return;
    }
    StartWrite(&resp_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      End(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    if (committed_) {
      End(grpc::Status::OK);
      return;
    }
    StartRead(&req_);
  }
  void OnDone() override { delete this; }

 private:
  // Releases the writer (and its ref lock) before the client can learn that
  // the stream ended, so a client may reopen the ref right away.
  void End(const grpc::Status& status) {
    writer_.reset();
    Finish(status);
  }

  grpc::Status Open() {
    if (req_.ref().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "first message must have a reference");
    }
    ref_ = req_.ref();
    total_ = req_.total();
    expected_ = req_.expected();
    auto w = store_->Writer(ns_, WriterOptions{ref_, total_, expected_}, call_.lease);
    if (!w.ok()) return ToGrpc(w.status());
    writer_ = std::move(*w);
    return grpc::Status::OK;
  }

  grpc::Status Handle() {
    if (!writer_) {
      grpc::Status s = Open();
      if (!s.ok()) return s;
    }
    resp_.set_action(req_.action());
    auto st = writer_->Stat();
    if (!st.ok()) return ToGrpc(st.status());
    resp_.set_offset(st->offset);
    if (!req_.expected().empty()) {
      expected_ = req_.expected();
      if (store_->Info(ns_, expected_).ok()) {
        writer_.reset();
        (void)store_->Abort(ns_, ref_);
        return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                            "blob with expected digest " + expected_ + " exists");
      }
    }
    if (req_.total() > 0) total_ = req_.total();
    switch (req_.action()) {
      case content_pb::STAT:
        resp_.set_digest(writer_->Digest());
        ToProto(st->started_at, resp_.mutable_started_at());
        ToProto(st->updated_at, resp_.mutable_updated_at());
        resp_.set_total(total_);
        return grpc::Status::OK;
      case content_pb::WRITE:
      case content_pb::COMMIT:
        return WriteOrCommit(st->offset);
      default:
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "unknown write action " + std::to_string(req_.action()));
    }
  }

  grpc::Status WriteOrCommit(std::int64_t offset) {
    if (req_.offset() > 0 && req_.offset() != offset) {
      return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                          "write @" + std::to_string(req_.offset()) +
                              " must occur at current offset " +
                              std::to_string(offset));
    }
    if (req_.offset() == 0 && offset > 0) {
      berth::Status s = writer_->Truncate(0);
      if (!s.ok()) return ToGrpc(s.Annotate("truncate failed"));
      resp_.set_offset(0);
    }
    if (!req_.data().empty()) {
      berth::Status s = writer_->Write(req_.data().data(), req_.data().size());
      if (!s.ok()) return ToGrpc(s);
      resp_.set_offset(writer_->Offset());
    }
    if (req_.action() == content_pb::COMMIT) {
      Labels labels(req_.labels().begin(), req_.labels().end());
      berth::Status s = writer_->Commit(total_, expected_, labels);
      if (!s.ok()) return ToGrpc(s);
      committed_ = true;
    }
    resp_.set_digest(writer_->Digest());
    return grpc::Status::OK;
  }

  metadata::NamespacedContentStore* store_;
  CallContext call_;  // the call's namespace and lease, for the backend
  std::string ns_;
  std::string ref_;
  std::int64_t total_ = 0;
  std::string expected_;
  std::unique_ptr<ContentWriter> writer_;
  bool committed_ = false;
  content_pb::WriteContentRequest req_;
  content_pb::WriteContentResponse resp_;
};

}  // namespace

grpc::ServerWriteReactor<content_pb::ListContentResponse>* ContentService::List(
    grpc::CallbackServerContext* ctx, const content_pb::ListContentRequest* req) {
  return new grpc_util::BatchedListReactor<content_pb::ListContentResponse>(
      [this, ctx, req](std::deque<content_pb::ListContentResponse>& batches) {
        return CollectContent(ctx, store_, req, batches);
      },
      RunOnPool);
}

grpc::ServerWriteReactor<content_pb::ReadContentResponse>* ContentService::Read(
    grpc::CallbackServerContext* ctx, const content_pb::ReadContentRequest* req) {
  return new ReadReactor(ctx, store_, req);
}

grpc::ServerBidiReactor<content_pb::WriteContentRequest,
                        content_pb::WriteContentResponse>*
ContentService::Write(grpc::CallbackServerContext* ctx) {
  return new WriteReactor(ctx, store_);
}

}  // namespace berth::host
