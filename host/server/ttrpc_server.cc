#include "server/ttrpc_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <utility>

#include "berth/runner/log.h"
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

Status TtrpcServer::Listen() {
  BERTH_RETURN_IF_ERROR(server_->Listen(options_.address));
  if (::chmod(options_.address.c_str(), 0660) != 0) {
    return Status::Unknown("chmod " + options_.address + ": " + Errno(errno));
  }
  if (::chown(options_.address.c_str(), static_cast<uid_t>(options_.uid),
              static_cast<gid_t>(options_.gid)) != 0) {
    return Status::Unknown("chown " + options_.address + ": " + Errno(errno));
  }
  return Status::Ok();
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
