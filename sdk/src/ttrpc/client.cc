// Client and Client::Impl: unary ttrpc calls on one unix connection.
#include "berth/ttrpc/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <string>
#include <utility>

#include "berth/ttrpc/frame.h"
#include "berth/ttrpc/status.h"
#include "ttrpc_wire.pb.h"

namespace berth::ttrpc {
namespace {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
using UnixSocket = boost::asio::local::stream_protocol::socket;
constexpr std::uint32_t kDiscardChunk = 64 << 10;
constexpr std::size_t kKeepBodyCapacity = 64 << 10;

}  // namespace

class Client::Impl : public std::enable_shared_from_this<Impl> {
 public:
  explicit Impl(boost::asio::io_context& io)
      : io_executor_(io.get_executor()), strand_(boost::asio::make_strand(io)), socket_(strand_) {}

  Status Connect(const std::string& path);
  void Start() {
    boost::asio::dispatch(strand_, [self = shared_from_this()] { self->ReadHeader(); });
  }
  void Call(std::string service, std::string method, std::string request, CallOptions options,
            Callback done) {
    boost::asio::post(strand_, [self = shared_from_this(), service = std::move(service),
                                method = std::move(method), request = std::move(request),
                                options = std::move(options), done = std::move(done)]() mutable {
      self->StartCall(service, method, std::move(request), options, std::move(done));
    });
  }
  void Close(Status why) {
    boost::asio::dispatch(
        strand_, [self = shared_from_this(), why = std::move(why)] { self->CloseNow(why); });
  }
  bool connected() const { return connected_.load(); }
  // Whether the calling thread runs the io_context (a blocking call there
  // could never be answered).
  bool OnIoThread() const { return io_executor_.running_in_this_thread(); }

 private:
  struct Pending {
    Callback done;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };

  void StartCall(const std::string& service, const std::string& method, std::string request,
                 const CallOptions& options, Callback done);
  void Finish(std::uint32_t id, Result<std::string> result);
  void CloseNow(const Status& why);
  void ReadHeader();
  void OnBody();
  void Discard();
  void Flush();

  boost::asio::io_context::executor_type io_executor_;
  Strand strand_;
  UnixSocket socket_;
  std::atomic<bool> connected_{false};
  bool open_ = false;
  Status closed_ = Status::Unavailable("ttrpc: closed");
  std::uint32_t next_id_ = 1;  // odd: client-initiated
  std::map<std::uint32_t, Pending> pending_;
  std::array<std::uint8_t, kFrameHeaderSize> header_buf_{};
  FrameHeader header_;
  std::string body_;
  std::uint32_t discard_left_ = 0;
  std::deque<std::string> out_;
  bool writing_ = false;
};

Status Client::Impl::Connect(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("ttrpc: socket path must not be empty");
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Status::InvalidArgument("ttrpc: socket path " + path + " is too long for a unix socket");
  }
  // The socket is made here, not by asio, to be close-on-exec from the start.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unknown(std::string("ttrpc: socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno;
    ::close(fd);
    std::string what = "ttrpc: connect " + path + ": " + std::strerror(err);
    if (err == ENOENT) return Status::NotFound(what);
    return Status::Unavailable(what);
  }
  boost::system::error_code ec;
  socket_.assign(boost::asio::local::stream_protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    return Status::Unknown("ttrpc: connect " + path + ": " + ec.message());
  }
  open_ = true;
  connected_ = true;
  return Status::Ok();
}

void Client::Impl::StartCall(const std::string& service, const std::string& method,
                             std::string request, const CallOptions& options, Callback done) {
  if (!open_) {
    done(closed_);
    return;
  }
  wire::Request req;
  req.set_service(service);
  req.set_method(method);
  req.set_payload(std::move(request));
  if (options.timeout.count() > 0) req.set_timeout_nano(options.timeout.count());
  for (const auto& [key, value] : options.metadata) {
    wire::KeyValue* kv = req.add_metadata();
    kv->set_key(key);
    kv->set_value(value);
  }
  const std::uint32_t id = next_id_;
  Result<std::string> frame = EncodeFrame(id, MessageType::kRequest, 0, req.SerializeAsString());
  if (!frame.ok()) {
    done(frame.status().Annotate("ttrpc: request " + service + "/" + method));
    return;
  }
  next_id_ += 2;
  Pending& p = pending_[id];
  p.done = std::move(done);
  if (options.timeout.count() > 0) {
    p.timer = std::make_unique<boost::asio::steady_timer>(strand_);
    p.timer->expires_after(options.timeout);
    p.timer->async_wait([self = shared_from_this(), id,
                         what = service + "/" + method](const boost::system::error_code& ec) {
      if (ec) return;
      self->Finish(id, Status::DeadlineExceeded("ttrpc: " + what));
    });
  }
  out_.push_back(std::move(*frame));
  Flush();
}

void Client::Impl::Finish(std::uint32_t id, Result<std::string> result) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // timed out already, or unknown: dropped
  Callback done = std::move(it->second.done);
  pending_.erase(it);  // cancels the timer
  done(std::move(result));
}

void Client::Impl::CloseNow(const Status& why) {
  if (!open_) return;
  open_ = false;
  connected_ = false;
  closed_ = why;
  boost::system::error_code ignored;
  socket_.shutdown(UnixSocket::shutdown_both, ignored);
  socket_.close(ignored);
  std::map<std::uint32_t, Pending> failed;
  failed.swap(pending_);
  for (auto& [id, p] : failed) p.done(why);
}

void Client::Impl::ReadHeader() {
  if (!open_) return;
  boost::asio::async_read(
      socket_, boost::asio::buffer(header_buf_),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (ec) {
          self->CloseNow(ec == boost::asio::error::eof
                             ? Status::Unavailable("ttrpc: closed")
                             : Status::Unavailable("ttrpc: connection lost: " + ec.message()));
          return;
        }
        self->header_ = DecodeFrameHeader(self->header_buf_.data());
        if (self->header_.length > kMaxMessageSize) {
          self->discard_left_ = self->header_.length;
          self->Discard();
          return;
        }
        self->body_.resize(self->header_.length);
        boost::asio::async_read(
            self->socket_, boost::asio::buffer(self->body_),
            [self](const boost::system::error_code& ec, std::size_t) {
              if (ec) {
                self->CloseNow(Status::Unavailable("ttrpc: connection lost: " + ec.message()));
                return;
              }
              self->OnBody();
            });
      });
}

void Client::Impl::OnBody() {
  if (header_.type == static_cast<std::uint8_t>(MessageType::kResponse)) {
    wire::Response resp;
    if (!resp.ParseFromString(body_)) {
      CloseNow(Status::Unavailable("ttrpc: malformed response on stream " +
                                   std::to_string(header_.stream_id)));
      return;
    }
    if (resp.has_status() && resp.status().code() != 0) {
      Finish(header_.stream_id,
             FromWire(resp.status().code(), std::move(*resp.mutable_status()->mutable_message())));
    } else {
      Finish(header_.stream_id, std::move(*resp.mutable_payload()));
    }
  }
  // Other types (1.2 Data) are not ours to answer; ignored.
  if (body_.capacity() > kKeepBodyCapacity) {
    std::string().swap(body_);
  } else {
    body_.clear();
  }
  ReadHeader();
}

void Client::Impl::Discard() {
  body_.resize(std::min(discard_left_, kDiscardChunk));
  boost::asio::async_read(
      socket_, boost::asio::buffer(body_),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        if (ec) {
          self->CloseNow(Status::Unavailable("ttrpc: connection lost: " + ec.message()));
          return;
        }
        self->discard_left_ -= static_cast<std::uint32_t>(n);
        if (self->discard_left_ > 0) {
          self->Discard();
          return;
        }
        std::string().swap(self->body_);
        self->Finish(self->header_.stream_id,
                     Status::ResourceExhausted(
                         "message length " + std::to_string(self->header_.length) +
                         " exceed maximum message size of " + std::to_string(kMaxMessageSize)));
        self->ReadHeader();
      });
}

void Client::Impl::Flush() {
  if (writing_ || out_.empty() || !open_) return;
  writing_ = true;
  boost::asio::async_write(
      socket_, boost::asio::buffer(out_.front()),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        self->writing_ = false;
        if (!self->out_.empty()) self->out_.pop_front();
        if (ec) {
          self->CloseNow(Status::Unavailable("ttrpc: connection lost: " + ec.message()));
          return;
        }
        self->Flush();
      });
}

// ---- Client ----------------------------------------------------------------

Client::Client(std::unique_ptr<boost::asio::io_context> own_io, std::shared_ptr<Impl> impl)
    : own_io_(std::move(own_io)), impl_(std::move(impl)) {
  if (own_io_) {
    thread_ = std::thread([io = own_io_.get()] {
      auto guard = boost::asio::make_work_guard(*io);
      io->run();
    });
  }
}

Client::~Client() {
  impl_->Close(Status::Unavailable("ttrpc: client closed"));
  if (own_io_) {
    // After Close runs, no work is left but the guard: stop ends run().
    std::promise<void> closed;
    boost::asio::post(own_io_->get_executor(), [&closed] { closed.set_value(); });
    closed.get_future().wait();
    own_io_->stop();
    thread_.join();
  }
  impl_.reset();
}

Result<std::unique_ptr<Client>> Client::Connect(const std::string& path) {
  auto io = std::make_unique<boost::asio::io_context>(1);
  auto impl = std::make_shared<Impl>(*io);
  BERTH_RETURN_IF_ERROR(impl->Connect(path));
  impl->Start();
  return std::unique_ptr<Client>(new Client(std::move(io), std::move(impl)));
}

Result<std::unique_ptr<Client>> Client::Connect(boost::asio::io_context& io,
                                                const std::string& path) {
  auto impl = std::make_shared<Impl>(io);
  BERTH_RETURN_IF_ERROR(impl->Connect(path));
  impl->Start();
  return std::unique_ptr<Client>(new Client(nullptr, std::move(impl)));
}

void Client::CallAsync(std::string service, std::string method, std::string request,
                       CallOptions options, Callback done) {
  impl_->Call(std::move(service), std::move(method), std::move(request), std::move(options),
              std::move(done));
}

Result<std::string> Client::Call(std::string service, std::string method, std::string request,
                                 CallOptions options) {
  if (impl_->OnIoThread()) {
    return Status::FailedPrecondition("ttrpc: blocking Call on the client's io thread");
  }
  std::promise<Result<std::string>> answer;
  std::future<Result<std::string>> f = answer.get_future();
  impl_->Call(std::move(service), std::move(method), std::move(request), std::move(options),
              [&answer](Result<std::string> r) { answer.set_value(std::move(r)); });
  return f.get();
}

void Client::Close() { impl_->Close(Status::Unavailable("ttrpc: client closed")); }

bool Client::connected() const { return impl_->connected(); }

}  // namespace berth::ttrpc
