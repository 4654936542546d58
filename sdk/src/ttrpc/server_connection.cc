// Connection: one accepted ttrpc connection of a Server.
#include <algorithm>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <exception>
#include <string>
#include <utility>

#include "berth/ttrpc/status.h"
#include "server_internal.h"
#include "ttrpc_wire.pb.h"

namespace berth::ttrpc {
namespace {

// Bodies larger than this are not kept between frames (the shim's memory).
constexpr std::size_t kKeepBodyCapacity = 64 << 10;
// Oversized bodies are skipped in chunks of this size.
constexpr std::uint32_t kDiscardChunk = 64 << 10;
// A peer cannot grow the set of refused 1.2 streams without bound.
constexpr std::size_t kMaxRefusedStreams = 1024;

std::string StreamText(std::uint32_t id) { return "stream " + std::to_string(id); }

}  // namespace

Connection::Connection(std::shared_ptr<Server::Impl> server, UnixSocket socket, const ucred& peer)
    : server_(std::move(server)), socket_(std::move(socket)), peer_(peer) {}

Connection::~Connection() {
  if (open_) server_->Forget(this);
}

void Connection::Start() { ReadHeader(); }

void Connection::Close(std::string_view why) {
  if (!open_) return;
  open_ = false;
  if (!why.empty()) {
    server_->Log(LogLevel::kWarn, "ttrpc: closing connection from pid " +
                                      std::to_string(peer_.pid) + ": " + std::string(why));
  }
  boost::system::error_code ignored;
  socket_.shutdown(UnixSocket::shutdown_both, ignored);
  socket_.close(ignored);
  server_->Forget(this);
}

void Connection::Drain() {
  draining_ = true;
  MaybeFinishDrain();
}

void Connection::MaybeFinishDrain() {
  if (draining_ && open_ && in_flight_ == 0 && out_.empty() && !writing_) Close("");
}

void Connection::ShrinkBody() {
  if (body_.capacity() > kKeepBodyCapacity) {
    std::string().swap(body_);
  } else {
    body_.clear();
  }
}

void Connection::ReadHeader() {
  if (!open_) return;
  boost::asio::async_read(
      socket_, boost::asio::buffer(header_buf_),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (ec) {
          // EOF between frames is the peer's normal goodbye.
          bool quiet = ec == boost::asio::error::eof ||
                       ec == boost::asio::error::operation_aborted ||
                       ec == boost::asio::error::connection_reset;
          self->Close(quiet ? "" : "read: " + ec.message());
          return;
        }
        self->OnHeader();
      });
}

void Connection::OnHeader() {
  header_ = DecodeFrameHeader(header_buf_.data());
  if (header_.stream_id == 0 || header_.type == 0) {
    Close("malformed frame header (stream id " + std::to_string(header_.stream_id) + ", type " +
          std::to_string(header_.type) + ")");
    return;
  }
  if (header_.length > kMaxMessageSize) {
    discard_left_ = header_.length;
    Discard();
    return;
  }
  ReadBody();
}

void Connection::ReadBody() {
  body_.resize(header_.length);
  boost::asio::async_read(
      socket_, boost::asio::buffer(body_),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (ec) {
          self->Close(ec == boost::asio::error::operation_aborted
                          ? ""
                          : "truncated frame on " + StreamText(self->header_.stream_id) + ": " +
                                ec.message());
          return;
        }
        bool go_on = true;
        switch (static_cast<MessageType>(self->header_.type)) {
          case MessageType::kRequest:
            go_on = self->HandleRequest();
            break;
          case MessageType::kData:
            self->HandleData();
            break;
          default:
            break;  // Responses and unknown types are ignored, as containerd does.
        }
        self->ShrinkBody();
        if (go_on) self->ReadHeader();
      });
}

void Connection::Discard() {
  std::uint32_t chunk = std::min(discard_left_, kDiscardChunk);
  body_.resize(chunk);
  boost::asio::async_read(
      socket_, boost::asio::buffer(body_),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        if (ec) {
          self->Close(ec == boost::asio::error::operation_aborted
                          ? ""
                          : "truncated oversized frame: " + ec.message());
          return;
        }
        self->discard_left_ -= static_cast<std::uint32_t>(n);
        if (self->discard_left_ > 0) {
          self->Discard();
          return;
        }
        self->ShrinkBody();
        auto type = static_cast<MessageType>(self->header_.type);
        if (type == MessageType::kRequest || type == MessageType::kData) {
          self->Send(self->header_.stream_id,
                     Status::ResourceExhausted(
                         "message length " + std::to_string(self->header_.length) +
                         " exceed maximum message size of " + std::to_string(kMaxMessageSize)));
        }
        self->ReadHeader();
      });
}

bool Connection::HandleRequest() {
  const std::uint32_t stream = header_.stream_id;
  wire::Request req;
  if (!req.ParseFromString(body_)) {
    Close("malformed request on " + StreamText(stream));
    return false;
  }
  if (stream % 2 != 1) {
    Send(stream, Status::InvalidArgument("StreamID must be odd for client initiated streams"));
    return true;
  }
  if ((header_.flags & kFlagRemoteOpen) != 0) {
    if (refused_streams_.size() >= kMaxRefusedStreams) refused_streams_.clear();
    refused_streams_.insert(stream);
    Send(stream, Status::NotImplemented("ttrpc: streaming call " + req.service() + "/" +
                                        req.method() + " is not supported (ttrpc 1.1)"));
    return true;
  }
  if (draining_ || server_->stopping()) {
    Send(stream, Status::Unavailable("ttrpc: server closed"));
    return true;
  }
  Status missing;
  const MethodEntry* entry = server_->Find(req.service(), req.method(), &missing);
  if (entry == nullptr) {
    Send(stream, missing);
    return true;
  }

  Context ctx;
  ctx.service = req.service();
  ctx.method = req.method();
  ctx.stream_id = stream;
  for (const auto& kv : req.metadata()) ctx.metadata.emplace(kv.key(), kv.value());
  if (req.timeout_nano() > 0) {
    ctx.deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(req.timeout_nano());
  }
  ctx.ns = FirstValue(ctx.metadata, kNamespaceKey).value_or("");
  ctx.peer_pid = peer_.pid;
  ctx.peer_uid = peer_.uid;

  ++in_flight_;
  if (entry->sync) {
    Result<std::string> response = Status::Unknown("ttrpc: handler did not answer");
    try {
      response = entry->sync(ctx, req.payload());
    } catch (const std::exception& e) {
      response = Status::Unknown("ttrpc: handler of " + ctx.service + "/" + ctx.method +
                                 " threw: " + e.what());
    } catch (...) {
      response = Status::Unknown("ttrpc: handler of " + ctx.service + "/" + ctx.method + " threw");
    }
    Answer(stream, std::move(response));
    return open_;
  }
  Responder responder(
      std::make_shared<internal::PendingAnswer>(server_->strand(), weak_from_this(), stream));
  try {
    entry->async(ctx, std::move(*req.mutable_payload()), responder);
  } catch (const std::exception& e) {
    responder(Status::Unknown("ttrpc: handler of " + ctx.service + "/" + ctx.method +
                              " threw: " + e.what()));
  } catch (...) {
    responder(Status::Unknown("ttrpc: handler of " + ctx.service + "/" + ctx.method + " threw"));
  }
  return open_;
}

void Connection::HandleData() {
  const std::uint32_t stream = header_.stream_id;
  const bool closing = (header_.flags & kFlagRemoteClosed) != 0;
  if (refused_streams_.count(stream) != 0) {
    if (closing) refused_streams_.erase(stream);
    return;
  }
  Send(stream, Status::NotImplemented("ttrpc: stream data on " + StreamText(stream) +
                                      " is not supported (ttrpc 1.1)"));
  if (!closing) {
    if (refused_streams_.size() >= kMaxRefusedStreams) refused_streams_.clear();
    refused_streams_.insert(stream);
  }
}

void Connection::Answer(std::uint32_t stream_id, Result<std::string> response) {
  if (in_flight_ > 0) --in_flight_;
  Send(stream_id, response);
  MaybeFinishDrain();
}

void Connection::Send(std::uint32_t stream_id, const Result<std::string>& response) {
  if (!open_) return;
  wire::Response resp;
  wire::Status* status = resp.mutable_status();  // containerd always sets it
  if (response.ok()) {
    resp.set_payload(*response);
  } else {
    status->set_code(ToGrpcCode(response.status().code()));
    status->set_message(WireMessage(response.status()));
  }
  std::string data = resp.SerializeAsString();
  Result<std::string> frame = EncodeFrame(stream_id, MessageType::kResponse, 0, data);
  if (!frame.ok()) {
    wire::Response too_big;
    too_big.mutable_status()->set_code(ToGrpcCode(Code::kResourceExhausted));
    too_big.mutable_status()->set_message(WireMessage(
        Status::ResourceExhausted("ttrpc: response of " + std::to_string(data.size()) +
                                  " bytes exceeds " + std::to_string(kMaxMessageSize))));
    frame = EncodeFrame(stream_id, MessageType::kResponse, 0, too_big.SerializeAsString());
  }
  out_.push_back(std::move(*frame));
  Flush();
}

void Connection::Flush() {
  if (writing_ || out_.empty() || !open_) return;
  writing_ = true;
  boost::asio::async_write(
      socket_, boost::asio::buffer(out_.front()),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        self->writing_ = false;
        if (ec) {
          self->Close(ec == boost::asio::error::operation_aborted ? "" : "write: " + ec.message());
          return;
        }
        if (!self->out_.empty()) self->out_.pop_front();
        self->Flush();
        self->MaybeFinishDrain();
      });
}

}  // namespace berth::ttrpc
