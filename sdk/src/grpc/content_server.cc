// ContentServer: containerd.services.content.v1.Content over the content
// stores a resolver picks, as containerd's services/content/contentserver
// serves one. List streams batches; Read streams chunks of at most 1 MiB,
// one write in flight at a time (the client's pace sets the server's); Write
// runs containerd's STAT / WRITE / COMMIT protocol, one request then one
// response. Every step that touches the store runs on the executor, with
// the call's CallScope open.
#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "berth/digest.h"
#include "berth/grpc/convert.h"
#include "berth/grpc/serve.h"
#include "berth/grpc/unserved.h"
#include "berth/locality.h"
#include "containerd/services/content/v1/content.grpc.pb.h"
#include "server_util.h"

namespace berth::grpc_util {

namespace {

constexpr std::int64_t kReadChunk = 1 << 20;
// A List message holds at most this many infos (containerd's block size) and
// about this many bytes, well under the 16 MiB message limit.
constexpr int kListBatch = 100;
constexpr std::size_t kListBatchBytes = 1 << 20;

Status CollectContent(ContentStore& store, const content_pb::ListContentRequest& req,
                      std::deque<content_pb::ListContentResponse>& batches) {
  auto filter = filters::ParseAll({req.filters().begin(), req.filters().end()});
  if (!filter.ok()) return filter.status();
  std::size_t bytes = 0;
  return store.Walk(*filter, [&](const ContentInfo& info) {
    if (batches.empty() || bytes >= kListBatchBytes || batches.back().info_size() >= kListBatch) {
      batches.emplace_back();
      bytes = 0;
    }
    content_pb::Info* out = batches.back().add_info();
    ToProto(info, out);
    bytes += out->ByteSizeLong();
    return Status::Ok();
  });
}

class ReadReactor final : public grpc::ServerWriteReactor<content_pb::ReadContentResponse> {
 public:
  ReadReactor(CallContext call, Executor& executor, const ContentResolver& resolve,
              const content_pb::ReadContentRequest& req)
      : call_(std::move(call)), executor_(executor) {
    executor_.Submit([this, &resolve, &req] {
      CallScope scope(call_);
      grpc::Status s = Open(resolve, req);
      if (!s.ok()) {
        Finish(s);
        return;
      }
      Next();
    });
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    executor_.Submit([this] {
      CallScope scope(call_);
      Next();
    });
  }
  void OnDone() override {
    reader_.reset();
    store_.reset();
    delete this;
  }

 private:
  grpc::Status Open(const ContentResolver& resolve, const content_pb::ReadContentRequest& req) {
    if (Status s = ValidateLookupDigest(req.digest()); !s.ok()) return ToGrpc(s);
    auto store = Guard([&] { return resolve(call_); });
    if (!store.ok()) return ToGrpc(store.status());
    auto info = Guard([&] { return (*store)->Info(req.digest()); });
    if (!info.ok()) return ToGrpc(info.status());
    auto reader = Guard([&] { return (*store)->ReaderAt(req.digest()); });
    if (!reader.ok()) return ToGrpc(reader.status());
    reader_ = std::move(*reader);
    store_ = std::move(*store);
    std::int64_t size = reader_->Size();
    offset_ = std::max<std::int64_t>(req.offset(), 0);
    if (offset_ > size) {
      return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                          "read past object length " + std::to_string(size) + " bytes");
    }
    remaining_ = size - offset_;
    if (req.size() > 0 && req.size() < remaining_) remaining_ = req.size();
    return grpc::Status::OK;
  }

  void Next() {
    if (remaining_ == 0) {
      Finish(grpc::Status::OK);
      return;
    }
    std::string* data = resp_.mutable_data();
    data->resize(static_cast<std::size_t>(std::min(kReadChunk, remaining_)));
    auto n = Guard([&] { return reader_->ReadAt(data->data(), data->size(), offset_); });
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

  const CallContext call_;
  Executor& executor_;
  std::shared_ptr<ContentStore> store_;  // what the reader came from
  std::unique_ptr<ContentReader> reader_;
  std::int64_t offset_ = 0;
  std::int64_t remaining_ = 0;
  content_pb::ReadContentResponse resp_;
};

// containerd's write protocol: the first request names the ref (and may
// declare total and expected); each request gets one response carrying the
// writer's offset; WRITE appends at the current offset (offset 0 on a
// non-empty ingest restarts it); COMMIT optionally writes, then commits and
// ends the stream. A declared `expected` that is already stored aborts the
// ingest with AlreadyExists. The writer (and its ref lock) is released when
// the stream ends, however it ends; the ingest stays for a later resume.
//
// Messages travel raw and are parsed here (ParseRequest): gRPC reports a
// message that fails to parse to a typed reactor exactly as a clean end of
// the stream, so the client would see OK. One that fails to parse ends the
// stream with Internal "error unmarshalling request" (or InvalidArgument
// naming a field with invalid UTF-8); the ingest stays, resumable.
class WriteReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  WriteReactor(CallContext call, Executor& executor, const ContentResolver& resolve)
      : call_(std::move(call)), executor_(executor), resolve_(resolve) {
    StartRead(&raw_req_);
  }

  void OnReadDone(bool ok) override {
    executor_.Submit([this, ok] {
      CallScope scope(call_);
      if (!ok) {  // the client closed its side (or went away)
        End(grpc::Status::OK);
        return;
      }
      req_.Clear();
      grpc::Status s = ParseRequest(raw_req_, &req_);
      raw_req_.Clear();
      if (s.ok()) s = Handle();
      if (s.ok()) s = SerializeResponse(resp_, &raw_resp_);
      if (!s.ok()) {
        End(s);
        return;
      }
      StartWrite(&raw_resp_);
    });
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Release(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    if (committed_) {
      Release(grpc::Status::OK);
      return;
    }
    StartRead(&raw_req_);
  }
  void OnDone() override {
    writer_.reset();
    store_.reset();
    delete this;
  }

 private:
  // Ends the call from a reaction: the writer is released on the executor
  // (closing it may touch the disk or another process).
  void Release(const grpc::Status& status) {
    executor_.Submit([this, status] {
      CallScope scope(call_);
      End(status);
    });
  }
  // Releases the writer, and with it the ref, before the client can learn
  // that the stream ended, so that it may reopen the ref right away.
  // REQUIRES: on the executor.
  void End(const grpc::Status& status) {
    writer_.reset();
    Finish(status);
  }

  grpc::Status Open() {
    if (req_.ref().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "first message must have a reference");
    }
    auto store = Guard([&] { return resolve_(call_); });
    if (!store.ok()) return ToGrpc(store.status());
    store_ = std::move(*store);
    ref_ = req_.ref();
    total_ = req_.total();
    expected_ = req_.expected();
    auto w = Guard([&] { return store_->Writer(WriterOptions{ref_, total_, expected_}); });
    if (!w.ok()) return ToGrpc(w.status());
    writer_ = std::move(*w);
    return grpc::Status::OK;
  }
  grpc::Status Handle() {
    if (!writer_) {
      grpc::Status s = Open();
      if (!s.ok()) return s;
    }
    resp_.Clear();
    resp_.set_action(req_.action());
    auto st = Guard([&] { return writer_->Stat(); });
    if (!st.ok()) return ToGrpc(st.status());
    resp_.set_offset(st->offset);
    if (!req_.expected().empty()) {
      expected_ = req_.expected();
      if (Guard([&] { return store_->Info(expected_); }).ok()) {
        writer_.reset();
        (void)Guard([&] { return store_->Abort(ref_); });
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
                              " must occur at current offset " + std::to_string(offset));
    }
    if (req_.offset() == 0 && offset > 0) {
      Status s = Guard([&] { return writer_->Truncate(0); });
      if (!s.ok()) return ToGrpc(s.Annotate("truncate failed"));
      resp_.set_offset(0);
    }
    if (!req_.data().empty()) {
      Status s = Guard([&] { return writer_->Write(req_.data().data(), req_.data().size()); });
      if (!s.ok()) return ToGrpc(s);
      resp_.set_offset(writer_->Offset());
    }
    if (req_.action() == content_pb::COMMIT) {
      Status s =
          Guard([&] { return writer_->Commit(total_, expected_, FromProto(req_.labels())); });
      if (!s.ok()) return ToGrpc(s);
      committed_ = true;
    }
    resp_.set_digest(writer_->Digest());
    return grpc::Status::OK;
  }

  const CallContext call_;
  Executor& executor_;
  const ContentResolver& resolve_;
  std::shared_ptr<ContentStore> store_;
  std::string ref_;
  std::int64_t total_ = 0;
  std::string expected_;
  std::unique_ptr<ContentWriter> writer_;
  bool committed_ = false;
  grpc::ByteBuffer raw_req_;
  grpc::ByteBuffer raw_resp_;
  content_pb::WriteContentRequest req_;
  content_pb::WriteContentResponse resp_;
};

// Content's callback service with Write taking raw messages (WriteReactor).
using ContentService = content_pb::Content::WithCallbackMethod_Info<
    content_pb::Content::WithCallbackMethod_Update<content_pb::Content::WithCallbackMethod_List<
        content_pb::Content::WithCallbackMethod_Delete<content_pb::Content::WithCallbackMethod_Read<
            content_pb::Content::WithCallbackMethod_Status<
                content_pb::Content::WithCallbackMethod_ListStatuses<
                    content_pb::Content::WithRawCallbackMethod_Write<
                        content_pb::Content::WithCallbackMethod_Abort<
                            content_pb::Content::Service>>>>>>>>>;

}  // namespace

class ContentServer::Impl final : public ContentService {
 public:
  Impl(ContentResolver resolve, CallRules rules) : resolve_(std::move(resolve)), rules_(rules) {}

  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* ctx,
                                 const content_pb::InfoRequest* req,
                                 content_pb::InfoResponse* resp) override {
    if (berth::Status s = ValidateLookupDigest(req->digest()); !s.ok()) return FinishNow(ctx, s);
    return Read(ctx, [=](ContentStore& store) {
      auto info = store.Info(req->digest());
      if (!info.ok()) return info.status();
      ToProto(*info, resp->mutable_info());
      return berth::Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* ctx,
                                   const content_pb::UpdateRequest* req,
                                   content_pb::UpdateResponse* resp) override {
    return Serve(ctx, [=](ContentStore& store) {
      std::vector<std::string> paths(req->update_mask().paths().begin(),
                                     req->update_mask().paths().end());
      auto info = store.Update(FromProto(req->info()), paths);
      if (!info.ok()) return info.status();
      ToProto(*info, resp->mutable_info());
      return berth::Status::Ok();
    });
  }

  grpc::ServerWriteReactor<content_pb::ListContentResponse>* List(
      grpc::CallbackServerContext* ctx, const content_pb::ListContentRequest* req) override {
    return new BatchedListReactor<content_pb::ListContentResponse>(
        [this, ctx, req](std::deque<content_pb::ListContentResponse>& batches) -> berth::Status {
          auto call = CallContextOf(*ctx, rules_);
          if (!call.ok()) return call.status();
          CallScope scope(*call);
          auto store = resolve_(*call);
          if (!store.ok()) return store.status();
          return CollectContent(**store, *req, batches);
        },
        internal::RunnerOf(rules_));
  }

  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const content_pb::DeleteContentRequest* req,
                                   google::protobuf::Empty*) override {
    if (berth::Status s = ValidateLookupDigest(req->digest()); !s.ok()) return FinishNow(ctx, s);
    return Serve(ctx, [=](ContentStore& store) { return store.Delete(req->digest()); });
  }

  grpc::ServerWriteReactor<content_pb::ReadContentResponse>* Read(
      grpc::CallbackServerContext* ctx, const content_pb::ReadContentRequest* req) override {
    auto call = CallContextOf(*ctx, rules_);
    if (!call.ok()) return new FailedStream<content_pb::ReadContentResponse>(call.status());
    return new ReadReactor(std::move(*call), rules_.RunOn(), resolve_, *req);
  }

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx,
                                   const content_pb::StatusRequest* req,
                                   content_pb::StatusResponse* resp) override {
    return Read(ctx, [=](ContentStore& store) {
      auto st = store.GetStatus(req->ref());
      if (!st.ok()) return st.status();
      ToProto(*st, resp->mutable_status());
      return berth::Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* ListStatuses(grpc::CallbackServerContext* ctx,
                                         const content_pb::ListStatusesRequest* req,
                                         content_pb::ListStatusesResponse* resp) override {
    auto filter = filters::ParseAll({req->filters().begin(), req->filters().end()});
    if (!filter.ok()) return FinishNow(ctx, filter.status());
    return Serve(ctx, [=, filter = std::move(*filter)](ContentStore& store) {
      auto list = store.ListStatuses(filter);
      if (!list.ok()) return list.status();
      for (const IngestStatus& st : *list) ToProto(st, resp->add_statuses());
      return berth::Status::Ok();
    });
  }

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Write(
      grpc::CallbackServerContext* ctx) override {
    auto call = CallContextOf(*ctx, rules_);
    if (!call.ok()) return new FailedBidi<grpc::ByteBuffer, grpc::ByteBuffer>(call.status());
    return new WriteReactor(std::move(*call), rules_.RunOn(), resolve_);
  }

  grpc::ServerUnaryReactor* Abort(grpc::CallbackServerContext* ctx,
                                  const content_pb::AbortRequest* req,
                                  google::protobuf::Empty*) override {
    return Serve(ctx, [=](ContentStore& store) { return store.Abort(req->ref()); });
  }

 private:
  template <typename Body>
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* ctx, Body body) {
    return ServeUnary(ctx, rules_, [this, body](const CallContext& call) -> berth::Status {
      auto store = resolve_(call);
      if (!store.ok()) return store.status();
      return body(**store);
    });
  }

  // Serves a cheap read: inline when the resolved store is local
  // (berth/locality.h), on the executor otherwise.
  template <typename Body>
  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* ctx, Body body) {
    auto call = CallContextOf(*ctx, rules_);
    if (!call.ok()) return FinishNow(ctx, call.status());
    auto store = Guard([&] { return resolve_(*call); });
    if (!store.ok()) return FinishNow(ctx, store.status());
    const bool local = !CallsAnotherProcess(**store);
    return ServeRead(ctx, *call, rules_, local,
                     [store = std::move(*store), body](const CallContext&) { return body(*store); });
  }

  ContentResolver resolve_;
  CallRules rules_;
};

ContentServer::ContentServer(ContentResolver resolve, CallRules rules)
    : impl_(std::make_unique<Impl>(std::move(resolve), rules)) {}

ContentServer::ContentServer(std::shared_ptr<ContentStore> backend)
    : ContentServer(
          [backend = std::move(backend)](const CallContext&) -> Result<std::shared_ptr<ContentStore>> {
            return backend;
          },
          CallRules{.namespace_required = false}) {}

ContentServer::~ContentServer() = default;
grpc::Service* ContentServer::service() { return impl_.get(); }

}  // namespace berth::grpc_util
