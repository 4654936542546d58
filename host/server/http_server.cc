#include "server/http_server.h"

#include <sys/types.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <exception>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>
#include <utility>

#include "berth/unix_socket.h"
#include "server/grpc_server.h"

namespace berth::host {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;

constexpr std::chrono::seconds kRequestTimeout{10};

using Handlers = std::map<std::string, HttpHandler, std::less<>>;

http::response<http::string_body> Answer(const http::request<http::string_body>& req,
                                         const Handlers& handlers) {
  http::response<http::string_body> res;
  res.version(req.version());
  res.keep_alive(false);
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  std::string_view target(req.target().data(), req.target().size());
  target = target.substr(0, target.find('?'));
  auto it = handlers.find(target);
  if (req.method() != http::verb::get) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET");
    res.body() = "method not allowed\n";
  } else if (it == handlers.end()) {
    res.result(http::status::not_found);
    res.body() = "404 page not found\n";  // Go's net/http text
  } else {
    try {
      HttpResponse answer = it->second();
      res.result(http::status::ok);
      res.set(http::field::content_type, answer.content_type);
      res.body() = std::move(answer.body);
    } catch (const std::exception& e) {
      res.result(http::status::internal_server_error);
      res.body() = std::string(e.what()) + "\n";
    }
  }
  res.prepare_payload();
  return res;
}

// One connection: read a request, write the answer, close. Owned by the
// pending asynchronous operations (shared_from_this).
template <typename Socket>
class Session : public std::enable_shared_from_this<Session<Socket>> {
 public:
  Session(Socket socket, const Handlers& handlers)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), handlers_(handlers) {}

  void Run() {
    auto self = this->shared_from_this();
    timer_.expires_after(kRequestTimeout);
    timer_.async_wait([self](error_code ec) {
      if (!ec) self->Close();
    });
    http::async_read(socket_, buffer_, request_,
                     [self](error_code ec, std::size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(error_code ec) {
    if (ec) {
      Close();
      return;
    }
    response_ = Answer(request_, handlers_);
    auto self = this->shared_from_this();
    http::async_write(socket_, response_, [self](error_code, std::size_t) { self->Close(); });
  }

  void Close() {
    timer_.cancel();
    error_code ignored;
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  Socket socket_;
  asio::steady_timer timer_;
  const Handlers& handlers_;
  boost::beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

template <typename Acceptor>
void Accept(Acceptor& acceptor, const Handlers& handlers) {
  acceptor.async_accept(
      [&acceptor, &handlers](error_code ec, typename Acceptor::protocol_type::socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
        if (!ec) {
          std::make_shared<Session<typename Acceptor::protocol_type::socket>>(std::move(socket),
                                                                              handlers)
              ->Run();
        }
        Accept(acceptor, handlers);  // a failed accept (EMFILE, ...) is retried
      });
}

// Splits "host:port" / "[v6]:port" / ":port". nullopt when malformed.
std::optional<std::pair<std::string, std::uint16_t>> SplitHostPort(const std::string& address) {
  std::size_t colon = address.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = address.substr(0, colon);
  std::string port_text = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return std::nullopt;  // an IPv6 literal needs brackets
  }
  unsigned port = 0;
  const char* end = port_text.data() + port_text.size();
  auto [ptr, err] = std::from_chars(port_text.data(), end, port);
  if (port_text.empty() || err != std::errc() || ptr != end || port > 65535) return std::nullopt;
  return std::make_pair(host, static_cast<std::uint16_t>(port));
}

bool LooksNumeric(const std::string& host) {
  return !host.empty() && host.find_first_not_of("0123456789.") == std::string::npos;
}

}  // namespace

struct HttpServer::Impl {
  Handlers handlers;
  // Reset at Stop: that destroys the pending operations, and with them the
  // sessions and their connections.
  std::optional<asio::io_context> io{std::in_place, 1};
  std::optional<tcp::acceptor> tcp_acceptor;
  std::optional<local::acceptor> unix_acceptor;
  std::string address;
  std::string socket_path;  // to remove at Stop
  std::uint16_t port = 0;
  std::thread thread;
  bool stopped = false;

  void Run() {
    thread = std::thread([this] {
      auto guard = asio::make_work_guard(*io);
      io->run();
    });
  }

  Status BindTcp(const tcp::endpoint& endpoint, const std::string& shown) {
    tcp::acceptor acceptor(*io);
    error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec && endpoint.address().is_v6() && endpoint.address().is_unspecified()) {
      acceptor.set_option(asio::ip::v6_only(false), ec);  // ":port": v4 too
      ec.clear();
    }
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::Unavailable("listen tcp " + shown + ": " + ec.message());
    tcp::endpoint bound = acceptor.local_endpoint(ec);
    if (ec) return Status::Unavailable("listen tcp " + shown + ": " + ec.message());
    port = bound.port();
    std::string host = bound.address().to_string();
    address = bound.address().is_v6() ? "[" + host + "]:" + std::to_string(port)
                                      : host + ":" + std::to_string(port);
    tcp_acceptor.emplace(std::move(acceptor));
    return Status::Ok();
  }
};

HttpServer::HttpServer() : impl_(std::make_unique<Impl>()) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(const std::string& path, HttpHandler handler) {
  impl_->handlers[path] = std::move(handler);
}

Status HttpServer::ListenTcp(const std::string& host_port) {
  auto split = SplitHostPort(host_port);
  if (!split) {
    return Status::InvalidArgument("address " + host_port + ": not host:port");
  }
  const auto& [host, port] = *split;
  error_code ec;
  Status bound = Status::Unavailable("listen tcp " + host_port + ": no address");
  if (host.empty()) {
    bound = impl_->BindTcp(tcp::endpoint(tcp::v6(), port), host_port);
    if (!bound.ok()) bound = impl_->BindTcp(tcp::endpoint(tcp::v4(), port), host_port);
  } else if (asio::ip::address ip = asio::ip::make_address(host, ec); !ec) {
    bound = impl_->BindTcp(tcp::endpoint(ip, port), host_port);
  } else if (LooksNumeric(host)) {
    return Status::InvalidArgument("address " + host_port + ": " + host + " is no IP address");
  } else {
    tcp::resolver resolver(*impl_->io);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return Status::Unavailable("listen tcp " + host_port + ": " + ec.message());
    for (const auto& entry : results) {  // the first that binds
      bound = impl_->BindTcp(entry.endpoint(), host_port);
      if (bound.ok()) break;
    }
  }
  if (!bound.ok()) return bound;
  Accept(*impl_->tcp_acceptor, impl_->handlers);
  impl_->Run();
  return Status::Ok();
}

Status HttpServer::ListenUnix(const std::string& path, std::int64_t uid, std::int64_t gid) {
  std::string absolute =
      path.empty() ? path : std::filesystem::absolute(path).lexically_normal().string();
  BERTH_RETURN_IF_ERROR(PrepareSocketPath(absolute));
  Status published =
      PublishSocket(absolute, 0660, static_cast<uid_t>(uid), static_cast<gid_t>(gid),
                    [&](const std::string& private_path) -> Status {
                      local::acceptor acceptor(*impl_->io);
                      error_code ec;
                      acceptor.open(local(), ec);
                      if (!ec) acceptor.bind(local::endpoint(private_path), ec);
                      if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
                      if (ec)
                        return Status::Unavailable("listen unix " + absolute + ": " + ec.message());
                      impl_->unix_acceptor.emplace(std::move(acceptor));
                      return Status::Ok();
                    });
  if (!published.ok()) {
    impl_->unix_acceptor.reset();
    return published;
  }
  impl_->address = absolute;
  impl_->socket_path = absolute;
  Accept(*impl_->unix_acceptor, impl_->handlers);
  impl_->Run();
  return Status::Ok();
}

void HttpServer::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->io->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->tcp_acceptor.reset();
  impl_->unix_acceptor.reset();
  impl_->io.reset();
  if (!impl_->socket_path.empty()) ::unlink(impl_->socket_path.c_str());
}

std::uint16_t HttpServer::port() const { return impl_->port; }

const std::string& HttpServer::address() const { return impl_->address; }

}  // namespace berth::host
