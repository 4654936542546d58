// ContentServer: containerd.services.content.v1.Content over one
// ContentStore, as containerd's services/content/contentserver serves one.
// List streams batches; Read streams chunks of at most 1 MiB, one write in
// flight at a time (the client's pace sets the server's); Write runs
// containerd's STAT / WRITE / COMMIT protocol, one request then one response.
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
#include "containerd/services/content/v1/content.grpc.pb.h"
#include "server_util.h"

namespace berth::grpc_util {

using internal::Done;
using internal::Guarded;

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
  ReadReactor(ContentStore& store, const content_pb::ReadContentRequest& req) {
    grpc::Status s = Open(store, req);
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
  void OnDone() override {
    reader_.reset();
    delete this;
  }

 private:
  grpc::Status Open(ContentStore& store, const content_pb::ReadContentRequest& req) {
    if (Status s = ValidateDigest(req.digest()); !s.ok()) return ToGrpc(s);
    auto info = Guarded([&] { return store.Info(req.digest()); });
    if (!info.ok()) return ToGrpc(info.status());
    auto reader = Guarded([&] { return store.ReaderAt(req.digest()); });
    if (!reader.ok()) return ToGrpc(reader.status());
    reader_ = std::move(*reader);
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
    auto n = Guarded([&] { return reader_->ReadAt(data->data(), data->size(), offset_); });
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
// ends the stream. A declared `expected` that is already stored aborts the
// ingest with AlreadyExists. The writer (and its ref lock) is released when
// the stream ends, however it ends; the ingest stays for a later resume.
class WriteReactor final : public grpc::ServerBidiReactor<content_pb::WriteContentRequest,
                                                          content_pb::WriteContentResponse> {
 public:
  explicit WriteReactor(ContentStore& store) : store_(store) { StartRead(&req_); }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client closed its side (or went away)
      End(grpc::Status::OK);
      return;
    }
    grpc::Status s = Handle();
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
  void OnDone() override {
    writer_.reset();
    delete this;
  }

 private:
  // Releases the writer before the client can learn that the stream ended,
  // so that it may reopen the ref right away.
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
    auto w = Guarded([&] { return store_.Writer(WriterOptions{ref_, total_, expected_}); });
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
    auto st = Guarded([&] { return writer_->Stat(); });
    if (!st.ok()) return ToGrpc(st.status());
    resp_.set_offset(st->offset);
    if (!req_.expected().empty()) {
      expected_ = req_.expected();
      if (Guarded([&] { return store_.Info(expected_); }).ok()) {
        writer_.reset();
        (void)Guarded([&] { return store_.Abort(ref_); });
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
      Status s = Guarded([&] { return writer_->Truncate(0); });
      if (!s.ok()) return ToGrpc(s.Annotate("truncate failed"));
      resp_.set_offset(0);
    }
    if (!req_.data().empty()) {
      Status s = Guarded([&] { return writer_->Write(req_.data().data(), req_.data().size()); });
      if (!s.ok()) return ToGrpc(s);
      resp_.set_offset(writer_->Offset());
    }
    if (req_.action() == content_pb::COMMIT) {
      Status s =
          Guarded([&] { return writer_->Commit(total_, expected_, FromProto(req_.labels())); });
      if (!s.ok()) return ToGrpc(s);
      committed_ = true;
    }
    resp_.set_digest(writer_->Digest());
    return grpc::Status::OK;
  }

  ContentStore& store_;
  std::string ref_;
  std::int64_t total_ = 0;
  std::string expected_;
  std::unique_ptr<ContentWriter> writer_;
  bool committed_ = false;
  content_pb::WriteContentRequest req_;
  content_pb::WriteContentResponse resp_;
};

}  // namespace

class ContentServer::Impl final : public content_pb::Content::CallbackService {
 public:
  explicit Impl(std::shared_ptr<ContentStore> backend) : store_(std::move(backend)) {}

  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* ctx,
                                 const content_pb::InfoRequest* req,
                                 content_pb::InfoResponse* resp) override {
    if (berth::Status s = ValidateDigest(req->digest()); !s.ok()) return Done(ctx, s);
    auto info = Guarded([&] { return store_->Info(req->digest()); });
    if (!info.ok()) return Done(ctx, info.status());
    ToProto(*info, resp->mutable_info());
    return Done(ctx, berth::Status::Ok());
  }

  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* ctx,
                                   const content_pb::UpdateRequest* req,
                                   content_pb::UpdateResponse* resp) override {
    std::vector<std::string> paths(req->update_mask().paths().begin(),
                                   req->update_mask().paths().end());
    auto info = Guarded([&] { return store_->Update(FromProto(req->info()), paths); });
    if (!info.ok()) return Done(ctx, info.status());
    ToProto(*info, resp->mutable_info());
    return Done(ctx, berth::Status::Ok());
  }

  grpc::ServerWriteReactor<content_pb::ListContentResponse>* List(
      grpc::CallbackServerContext*, const content_pb::ListContentRequest* req) override {
    return new internal::BatchedListReactor<content_pb::ListContentResponse>(
        [&](std::deque<content_pb::ListContentResponse>& batches) {
          return CollectContent(*store_, *req, batches);
        });
  }

  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const content_pb::DeleteContentRequest* req,
                                   google::protobuf::Empty*) override {
    if (berth::Status s = ValidateDigest(req->digest()); !s.ok()) return Done(ctx, s);
    return Done(ctx, Guarded([&] { return store_->Delete(req->digest()); }));
  }

  grpc::ServerWriteReactor<content_pb::ReadContentResponse>* Read(
      grpc::CallbackServerContext*, const content_pb::ReadContentRequest* req) override {
    return new ReadReactor(*store_, *req);
  }

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx,
                                   const content_pb::StatusRequest* req,
                                   content_pb::StatusResponse* resp) override {
    auto st = Guarded([&] { return store_->GetStatus(req->ref()); });
    if (!st.ok()) return Done(ctx, st.status());
    ToProto(*st, resp->mutable_status());
    return Done(ctx, berth::Status::Ok());
  }

  grpc::ServerUnaryReactor* ListStatuses(grpc::CallbackServerContext* ctx,
                                         const content_pb::ListStatusesRequest* req,
                                         content_pb::ListStatusesResponse* resp) override {
    auto filter = filters::ParseAll({req->filters().begin(), req->filters().end()});
    if (!filter.ok()) return Done(ctx, filter.status());
    auto list = Guarded([&] { return store_->ListStatuses(*filter); });
    if (!list.ok()) return Done(ctx, list.status());
    for (const IngestStatus& st : *list) ToProto(st, resp->add_statuses());
    return Done(ctx, berth::Status::Ok());
  }

  grpc::ServerBidiReactor<content_pb::WriteContentRequest, content_pb::WriteContentResponse>* Write(
      grpc::CallbackServerContext*) override {
    return new WriteReactor(*store_);
  }

  grpc::ServerUnaryReactor* Abort(grpc::CallbackServerContext* ctx,
                                  const content_pb::AbortRequest* req,
                                  google::protobuf::Empty*) override {
    return Done(ctx, Guarded([&] { return store_->Abort(req->ref()); }));
  }

 private:
  std::shared_ptr<ContentStore> store_;
};

ContentServer::ContentServer(std::shared_ptr<ContentStore> backend)
    : impl_(std::make_unique<Impl>(std::move(backend))) {}
ContentServer::~ContentServer() = default;
grpc::Service* ContentServer::service() { return impl_.get(); }

}  // namespace berth::grpc_util
