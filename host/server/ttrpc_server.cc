#include "server/ttrpc_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <utility>

#include "berth/runner/log.h"
#include "berth/unix_socket.h"
#include "server/grpc_server.h"

namespace berth::host {
namespace {

// The ttrpc library's reports (refused peers, broken connections) in the
// daemon's log.
class TtrpcLog final : public Logger {
 public:
  void Log(LogLevel level, std::string_view message) override {
    log::Write(level, message, {{"server", "ttrpc"}});
  }
  bool Enabled(LogLevel level) const override { return log::Enabled(level); }
};

std::string Errno(int err) { return std::strerror(err); }

}  // namespace

TtrpcServer::TtrpcServer(TtrpcServerOptions options)
    : options_(std::move(options)), logger_(std::make_unique<TtrpcLog>()) {
  if (!options_.address.empty()) {
    options_.address = std::filesystem::absolute(options_.address).lexically_normal();
  }
}

TtrpcServer::~TtrpcServer() { Stop(std::chrono::milliseconds(0)); }

Status TtrpcServer::Start(const std::vector<TtrpcServicePlugin*>& plugins) {
  if (options_.address.empty()) return Status::InvalidArgument("ttrpc address cannot be empty");
  BERTH_RETURN_IF_ERROR(PrepareSocketPath(options_.address));
  server_ = std::make_unique<ttrpc::Server>(io_, ttrpc::ServerOptions{.logger = logger_.get()});
  for (TtrpcServicePlugin* plugin : plugins) {
    Status s = plugin->RegisterTtrpc(*server_);
    if (!s.ok()) {
      server_.reset();
      return s;
    }
  }
  Status listening = Listen();
  if (!listening.ok()) {
    server_.reset();
    ::unlink(options_.address.c_str());
    return listening;
  }
  thread_ = std::thread([this] {
    auto work = boost::asio::make_work_guard(io_);
    io_.run();
  });
  return Status::Ok();
}

// The socket gets its mode and owner before anyone can connect
// (PublishSocket); it is bound and listening in a private folder, then moved
// into place and handed to the server.
Status TtrpcServer::Listen() {
  int fd = -1;
  Status s = PublishSocket(
      options_.address, 0660, static_cast<uid_t>(options_.uid), static_cast<gid_t>(options_.gid),
      [&fd](const std::string& private_path) -> Status {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, private_path.data(), private_path.size());
        fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return Status::Unknown("socket: " + Errno(errno));
        if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
          return Status::Unknown("bind " + private_path + ": " + Errno(errno));
        }
        if (::listen(fd, SOMAXCONN) != 0) {
          return Status::Unknown("listen " + private_path + ": " + Errno(errno));
        }
        return Status::Ok();
      });
  if (!s.ok()) {
    if (fd >= 0) ::close(fd);
    return s;
  }
  s = server_->ServeFd(fd);  // owns fd from here, on success or not
  return s;
}

void TtrpcServer::Stop(std::chrono::milliseconds drain) {
  if (!server_) return;
  if (thread_.joinable()) {
    Status s = server_->StopAndWait(drain);
    if (!s.ok()) log::Warn("stopping ttrpc server", {{"error", s.ToString()}});
    io_.stop();
    thread_.join();
  }
  server_.reset();
  ::unlink(options_.address.c_str());
}

}  // namespace berth::host
