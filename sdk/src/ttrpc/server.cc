// Server and Server::Impl: registration, listening, accepting, stopping.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <future>
#include <string>
#include <utility>

#include "server_internal.h"

namespace berth::ttrpc {
namespace {

std::string Errno(int err) { return std::strerror(err); }

bool FillAddress(const std::string& path, sockaddr_un* addr) {
  *addr = sockaddr_un{};
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) return false;
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

// Whether a server accepts connections on the socket at `path`.
bool SocketAnswers(const sockaddr_un& addr) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool answers = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return answers;
}

int SockOpt(int fd, int option) {
  int value = 0;
  socklen_t len = sizeof(value);
  if (::getsockopt(fd, SOL_SOCKET, option, &value, &len) != 0) return -1;
  return value;
}

}  // namespace

// ---- Responder -------------------------------------------------------------

namespace internal {

PendingAnswer::~PendingAnswer() {
  if (!answered_.load()) Answer(Status::Unknown("ttrpc: handler dropped the call"));
}

void PendingAnswer::Answer(Result<std::string> response) {
  if (answered_.exchange(true)) return;
  boost::asio::post(strand_, [connection = connection_, stream_id = stream_id_,
                              response = std::move(response)]() mutable {
    if (auto c = connection.lock()) c->Answer(stream_id, std::move(response));
  });
}

}  // namespace internal

Responder::Responder(std::shared_ptr<internal::PendingAnswer> answer)
    : answer_(std::move(answer)) {}

void Responder::operator()(Result<std::string> response) const {
  answer_->Answer(std::move(response));
}

void Responder::operator()(const Status& status) const {
  answer_->Answer(status.ok() ? Result<std::string>(std::string()) : Result<std::string>(status));
}

// ---- Server::Impl ----------------------------------------------------------

Server::Impl::Impl(boost::asio::io_context& io, ServerOptions options)
    : strand_(boost::asio::make_strand(io)), options_(options), drain_timer_(strand_) {}

Status Server::Impl::Add(std::string service, std::string method, MethodEntry entry) {
  if (service.empty() || method.empty()) {
    return Status::InvalidArgument("ttrpc: service and method names must not be empty");
  }
  if (!entry.sync && !entry.async) return Status::InvalidArgument("ttrpc: empty handler");
  auto& methods = services_[service];
  if (methods.count(method) != 0) {
    return Status::AlreadyExists("ttrpc: " + service + "/" + method + " is already registered");
  }
  methods.emplace(std::move(method), std::move(entry));
  return Status::Ok();
}

const MethodEntry* Server::Impl::Find(std::string_view service, std::string_view method,
                                      Status* error) const {
  auto s = services_.find(service);
  if (s == services_.end()) {
    *error = Status::NotImplemented("service " + std::string(service));
    return nullptr;
  }
  auto m = s->second.find(method);
  if (m == s->second.end()) {
    *error = Status::NotImplemented("method " + std::string(method));
    return nullptr;
  }
  return &m->second;
}

void Server::Impl::Log(LogLevel level, std::string_view message) const {
  if (options_.logger != nullptr && options_.logger->Enabled(level)) {
    options_.logger->Log(level, message);
  }
}

Status Server::Impl::Listen(const std::string& path) {
  sockaddr_un addr;
  if (path.empty()) return Status::InvalidArgument("ttrpc: socket path must not be empty");
  if (!FillAddress(path, &addr)) {
    return Status::InvalidArgument("ttrpc: socket path " + path +
                                   " is too long for a unix socket (" +
                                   std::to_string(path.size()) + " bytes, at most " +
                                   std::to_string(sizeof(addr.sun_path) - 1) + ")");
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Status::AlreadyExists(path + " exists and is not a socket");
    if (SocketAnswers(addr)) {
      return Status::FailedPrecondition("socket " + path + " is in use by another server");
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::Unknown("remove stale socket " + path + ": " + Errno(errno));
    }
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unknown("socket: " + Errno(errno));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    ::close(fd);
    return Status::Unknown("bind " + path + ": " + Errno(err));
  }
  if (::listen(fd, SOMAXCONN) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return Status::Unknown("listen " + path + ": " + Errno(err));
  }
  Status s = ServeFd(fd);
  if (s.ok()) {
    boost::asio::dispatch(
        strand_, [self = shared_from_this(), path] { self->socket_paths_.push_back(path); });
  } else {
    ::unlink(path.c_str());
  }
  return s;
}

Status Server::Impl::ServeFd(int fd) {
  if (SockOpt(fd, SO_DOMAIN) != AF_UNIX || SockOpt(fd, SO_TYPE) != SOCK_STREAM ||
      SockOpt(fd, SO_ACCEPTCONN) != 1) {
    ::close(fd);
    return Status::InvalidArgument("ttrpc: fd " + std::to_string(fd) +
                                   " is not a listening unix stream socket");
  }
  auto acceptor = std::make_unique<UnixAcceptor>(strand_);
  boost::system::error_code ec;
  acceptor->assign(boost::asio::local::stream_protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    return Status::Unknown("ttrpc: serve fd: " + ec.message());
  }
  boost::asio::dispatch(strand_, [self = shared_from_this(), a = std::move(acceptor)]() mutable {
    if (self->stopping_) return;  // a's destructor closes it
    UnixAcceptor* raw = a.get();
    self->acceptors_.push_back(std::move(a));
    self->Accept(raw);
  });
  return Status::Ok();
}

void Server::Impl::Accept(UnixAcceptor* acceptor) {
  acceptor->async_accept(strand_, [self = shared_from_this(), acceptor](
                                      const boost::system::error_code& ec, UnixSocket socket) {
    if (ec == boost::asio::error::operation_aborted || self->stopping_) return;
    if (ec) {
      self->Log(LogLevel::kWarn, "ttrpc: accept: " + ec.message());
      // Transient (EMFILE, ECONNABORTED): go on; the acceptor stays open.
      if (!acceptor->is_open()) return;
    } else {
      self->OnAccepted(std::move(socket));
    }
    self->Accept(acceptor);
  });
}

void Server::Impl::OnAccepted(UnixSocket socket) {
  // Asio accepts without SOCK_CLOEXEC; a shim forks runc, which must not
  // inherit its clients' connections.
  ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
  ucred peer{};
  socklen_t len = sizeof(peer);
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) {
    Log(LogLevel::kWarn, "ttrpc: refusing connection: SO_PEERCRED: " + Errno(errno));
    return;  // socket closes as it goes out of scope
  }
  if (options_.check_peer_credentials && peer.uid != ::geteuid() && peer.uid != 0) {
    Log(LogLevel::kWarn, "ttrpc: refusing connection from pid " + std::to_string(peer.pid) +
                             " uid " + std::to_string(peer.uid) + ": neither root nor uid " +
                             std::to_string(::geteuid()));
    return;
  }
  auto connection = std::make_shared<Connection>(shared_from_this(), std::move(socket), peer);
  connections_.emplace(connection.get(), connection);
  connection->Start();
}

void Server::Impl::Forget(Connection* connection) {
  connections_.erase(connection);
  CheckStopped();
}

void Server::Impl::Stop(std::chrono::milliseconds drain_limit, std::function<void()> done) {
  boost::asio::dispatch(
      strand_, [self = shared_from_this(), drain_limit, done = std::move(done)]() mutable {
        if (done) self->stop_callbacks_.push_back(std::move(done));
        if (!self->stopping_) {
          self->stopping_ = true;
          for (auto& a : self->acceptors_) {
            boost::system::error_code ignored;
            a->close(ignored);
          }
          for (const std::string& path : self->socket_paths_) ::unlink(path.c_str());
          self->socket_paths_.clear();
          self->drain_timer_.expires_after(drain_limit);
          self->drain_timer_.async_wait([self](const boost::system::error_code& ec) {
            if (ec) return;
            if (!self->connections_.empty()) {
              self->Log(LogLevel::kWarn, "ttrpc: drain limit reached; closing " +
                                             std::to_string(self->connections_.size()) +
                                             " connection(s) with calls in flight");
            }
            self->CloseAll();
          });
          // Copy: Drain may close a connection, which erases it from the map.
          std::vector<std::shared_ptr<Connection>> open;
          for (auto& [raw, weak] : self->connections_) {
            if (auto c = weak.lock()) open.push_back(std::move(c));
          }
          for (auto& c : open) c->Drain();
        }
        self->CheckStopped();
      });
}

void Server::Impl::CloseAll() {
  stopping_ = true;
  for (auto& a : acceptors_) {
    boost::system::error_code ignored;
    a->close(ignored);
  }
  for (const std::string& path : socket_paths_) ::unlink(path.c_str());
  socket_paths_.clear();
  std::vector<std::shared_ptr<Connection>> open;
  for (auto& [raw, weak] : connections_) {
    if (auto c = weak.lock()) open.push_back(std::move(c));
  }
  for (auto& c : open) c->Close("");
  connections_.clear();
  CheckStopped();
}

void Server::Impl::CheckStopped() {
  if (!stopping_ || !connections_.empty()) return;
  drain_timer_.cancel();
  std::vector<std::function<void()>> callbacks;
  callbacks.swap(stop_callbacks_);
  for (auto& cb : callbacks) cb();
}

// ---- Server ----------------------------------------------------------------

Server::Server(boost::asio::io_context& io, ServerOptions options)
    : impl_(std::make_shared<Impl>(io, options)) {}

Server::~Server() {
  boost::asio::dispatch(impl_->strand(), [impl = impl_] { impl->CloseAll(); });
}

Status Server::Register(std::string service, std::string method, Handler handler) {
  return impl_->Add(std::move(service), std::move(method),
                    MethodEntry{.sync = std::move(handler), .async = {}});
}

Status Server::RegisterAsync(std::string service, std::string method, AsyncHandler handler) {
  return impl_->Add(std::move(service), std::move(method),
                    MethodEntry{.sync = {}, .async = std::move(handler)});
}

Status Server::Listen(const std::string& path) { return impl_->Listen(path); }

Status Server::ServeFd(int listening_fd) { return impl_->ServeFd(listening_fd); }

void Server::Stop(std::chrono::milliseconds drain_limit, std::function<void()> done) {
  impl_->Stop(drain_limit, std::move(done));
}

Status Server::StopAndWait(std::chrono::milliseconds drain_limit) {
  if (impl_->strand().running_in_this_thread()) {
    return Status::FailedPrecondition("ttrpc: StopAndWait on the server's io thread");
  }
  std::promise<void> stopped;
  std::future<void> f = stopped.get_future();
  impl_->Stop(drain_limit, [&stopped] { stopped.set_value(); });
  f.wait();
  return Status::Ok();
}

}  // namespace berth::ttrpc
