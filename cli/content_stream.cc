#include "content_stream.h"

namespace berth::cli {

ContentWriteStream::ContentWriteStream(
    content_pb::Content::Stub& stub, std::unique_ptr<grpc::ClientContext> context)
    : context_(std::move(context)), stream_(stub.Write(context_.get())) {}

ContentWriteStream::~ContentWriteStream() {
  if (!finished_) {
    context_->TryCancel();
    (void)Finish();
  }
}

grpc::Status ContentWriteStream::Open(const std::string& ref, std::int64_t total,
                                      const std::string& expected) {
  content_pb::WriteContentRequest req;
  req.set_action(content_pb::STAT);
  req.set_ref(ref);
  req.set_total(total);
  req.set_expected(expected);
  content_pb::WriteContentResponse resp;
  if (!stream_->Write(req) || !stream_->Read(&resp)) return Finish();
  offset_ = resp.offset();
  StartDrain();
  return grpc::Status::OK;
}

void ContentWriteStream::StartDrain() {
  drain_ = std::thread([this] {
    content_pb::WriteContentResponse resp;
    while (stream_->Read(&resp)) last_.Swap(&resp);
  });
}

bool ContentWriteStream::Write(std::string_view data) {
  if (finished_) return false;
  req_.set_action(content_pb::WRITE);
  req_.set_offset(offset_);
  req_.mutable_data()->assign(data.data(), data.size());
  if (!stream_->Write(req_)) return false;
  offset_ += static_cast<std::int64_t>(data.size());
  return true;
}

grpc::Status ContentWriteStream::Commit(
    std::int64_t total, const std::string& expected,
    const std::map<std::string, std::string>& labels, std::string* digest) {
  if (finished_) return grpc::Status(grpc::StatusCode::INTERNAL, "stream ended");
  content_pb::WriteContentRequest req;
  req.set_action(content_pb::COMMIT);
  req.set_offset(offset_);
  req.set_total(total);
  req.set_expected(expected);
  req.mutable_labels()->insert(labels.begin(), labels.end());
  (void)stream_->Write(req);
  grpc::Status s = Finish();
  if (s.ok() && digest != nullptr) *digest = last_.digest();
  if (s.ok() && last_.action() != content_pb::COMMIT) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "stream ended before the commit answer");
  }
  return s;
}

grpc::Status ContentWriteStream::Close() {
  if (finished_) return grpc::Status::OK;
  return Finish();
}

grpc::Status ContentWriteStream::Finish() {
  finished_ = true;
  (void)stream_->WritesDone();
  if (drain_.joinable()) drain_.join();
  return stream_->Finish();
}

grpc::Status ReadContent(content_pb::Content::Stub& stub,
                         grpc::ClientContext& context, const std::string& digest,
                         std::int64_t offset,
                         const std::function<bool(std::string_view)>& sink) {
  content_pb::ReadContentRequest req;
  req.set_digest(digest);
  req.set_offset(offset);
  auto reader = stub.Read(&context, req);
  content_pb::ReadContentResponse resp;
  while (reader->Read(&resp)) {
    if (!sink(resp.data())) {
      context.TryCancel();
      while (reader->Read(&resp)) {
      }
      break;
    }
  }
  return reader->Finish();
}

}  // namespace berth::cli
