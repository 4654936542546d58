#include "server/grpc_server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "berth/grpc/unserved.h"
#include "berth/unix_socket.h"
#include "server/metrics.h"

namespace berth::host {
namespace {

std::string Errno(int err) { return std::strerror(err); }

int ClampSize(std::int64_t bytes) {
  if (bytes <= 0) return -1;  // gRPC's "unlimited"
  return static_cast<int>(std::min<std::int64_t>(bytes, INT_MAX));
}

// Creates `dir` and missing parents with `mode` (not narrowed by the umask).
Status MakeDirs(const std::filesystem::path& dir, mode_t mode) {
  if (dir.empty()) return Status::Ok();
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return Status::AlreadyExists(dir.string() +
                                 " exists and is not a directory");
  }
  if (dir.has_parent_path() && dir.parent_path() != dir) {
    BERTH_RETURN_IF_ERROR(MakeDirs(dir.parent_path(), mode));
  }
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return Status::Unknown("mkdir " + dir.string() + ": " + Errno(errno));
  }
  if (::chmod(dir.c_str(), mode) != 0) {
    return Status::Unknown("chmod " + dir.string() + ": " + Errno(errno));
  }
  return Status::Ok();
}

}  // namespace

Status PrepareSocketPath(const std::string& path) {
  if (path.empty())
    return Status::InvalidArgument("grpc address cannot be empty");
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Status::InvalidArgument("address " + path +
                                   " is too long for a unix socket");
  }
  std::filesystem::path p(path);
  BERTH_RETURN_IF_ERROR(MakeDirs(p.parent_path(), 0711));

  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::Unknown("stat " + path + ": " + Errno(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Status::AlreadyExists("address " + path +
                                 " exists and is not a socket");
  }
  if (SocketAnswers(path)) {
    return Status::FailedPrecondition("address " + path + " is in use");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::Unknown("remove stale socket " + path + ": " + Errno(errno));
  }
  return Status::Ok();
}

GrpcServer::GrpcServer(GrpcServerOptions options)
    : options_(std::move(options)) {
  if (!options_.address.empty()) {
    options_.address =
        std::filesystem::absolute(options_.address).lexically_normal();
  }
}

GrpcServer::~GrpcServer() { Stop(std::chrono::milliseconds(0)); }

Status GrpcServer::Start(const std::vector<grpc::Service*>& services) {
  BERTH_RETURN_IF_ERROR(PrepareSocketPath(options_.address));

  // Process-wide switch read by the builder's constructor.
  grpc::EnableDefaultHealthCheckService(options_.health_check);
  // The socket gets its mode and owner before anyone can connect
  // (PublishSocket): gRPC binds it in a private folder, then it is moved
  // into place. Binding under a narrowed umask would do too, but the umask
  // is process-wide and other threads (plugins) already create files.
  Status published = PublishSocket(
      options_.address, 0660, static_cast<uid_t>(options_.uid), static_cast<gid_t>(options_.gid),
      [&](const std::string& private_path) -> Status {
        grpc::ServerBuilder builder;
        builder.AddListeningPort("unix:" + private_path, grpc::InsecureServerCredentials());
        builder.SetMaxReceiveMessageSize(ClampSize(options_.max_recv_message_size));
        builder.SetMaxSendMessageSize(ClampSize(options_.max_send_message_size));
        for (grpc::Service* service : services) builder.RegisterService(service);
        unserved_ = std::make_unique<grpc_util::UnservedRequests>();
        // The metrics interceptor goes after, so that it counts the codes
        // UnservedRequests answers.
        std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> after;
        if (options_.metrics != nullptr) after.push_back(options_.metrics->NewInterceptorFactory());
        unserved_->AddTo(builder, std::move(after));
        server_ = builder.BuildAndStart();
        if (!server_) return Status::Unavailable("failed to serve gRPC on " + options_.address);
        return Status::Ok();
      });
  if (!published.ok()) {
    Stop(std::chrono::milliseconds(0));
    return published;
  }
  if (options_.health_check && server_->GetHealthCheckService() != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(true);
  }
  return Status::Ok();
}

void GrpcServer::Stop(std::chrono::milliseconds drain) {
  if (!server_) return;
  if (server_->GetHealthCheckService() != nullptr) {
    server_->GetHealthCheckService()->Shutdown();
  }
  server_->Shutdown(std::chrono::system_clock::now() + drain);
  server_->Wait();
  server_.reset();
  unserved_.reset();
  ::unlink(options_.address.c_str());
}

}  // namespace berth::host
