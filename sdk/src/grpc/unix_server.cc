// UnixServer: a gRPC server on a unix socket for the services of serve.h.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>

#include "berth/grpc/serve.h"
#include "berth/grpc/unserved.h"
#include "berth/unix_socket.h"

namespace berth::grpc_util {
namespace {

// containerd's default message size limits, both ways.
constexpr int kMaxMessageSize = 16 << 20;
// How long Shutdown lets running calls finish before cancelling them.
constexpr std::chrono::seconds kDrainTime(5);

std::string Errno(int err) { return std::strerror(err); }

// Creates `dir` and its missing parents with mode 0711.
Status MakeDirs(const std::filesystem::path& dir) {
  if (dir.empty()) return Status::Ok();
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return Status::AlreadyExists(dir.string() + " exists and is not a directory");
  }
  if (dir.has_parent_path() && dir.parent_path() != dir) {
    BERTH_RETURN_IF_ERROR(MakeDirs(dir.parent_path()));
  }
  if (::mkdir(dir.c_str(), 0711) != 0 && errno != EEXIST) {
    return Status::Unknown("mkdir " + dir.string() + ": " + Errno(errno));
  }
  return Status::Ok();
}

// Makes `path` ready to bind: its folder exists, a stale socket is gone.
// FailedPrecondition when a server answers there; AlreadyExists when the path
// is something other than a socket.
Status PrepareSocketPath(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("socket path must not be empty");
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Status::InvalidArgument("socket path " + path + " is too long for a unix socket");
  }
  BERTH_RETURN_IF_ERROR(MakeDirs(std::filesystem::path(path).parent_path()));
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::Unknown("stat " + path + ": " + Errno(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Status::AlreadyExists(path + " exists and is not a socket");
  }
  if (SocketAnswers(path)) {
    return Status::FailedPrecondition("socket " + path + " is in use by another server");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::Unknown("remove stale socket " + path + ": " + Errno(errno));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<UnixServer>> UnixServer::Start(const std::string& socket_path,
                                                      const std::vector<grpc::Service*>& services) {
  std::string path =
      socket_path.empty() ? "" : std::filesystem::absolute(socket_path).lexically_normal().string();
  if (services.empty()) return Status::InvalidArgument("no services to serve on " + path);
  BERTH_RETURN_IF_ERROR(PrepareSocketPath(path));

  // The socket has mode 0660 before anyone can connect (PublishSocket).
  auto unserved = std::make_unique<UnservedRequests>();
  std::unique_ptr<grpc::Server> server;
  Status published =
      PublishSocket(path, 0660, ::geteuid(), ::getegid(), [&](const std::string& private_path) {
        grpc::ServerBuilder builder;
        builder.AddListeningPort("unix:" + private_path, grpc::InsecureServerCredentials());
        builder.SetMaxReceiveMessageSize(kMaxMessageSize);
        builder.SetMaxSendMessageSize(kMaxMessageSize);
        for (grpc::Service* service : services) builder.RegisterService(service);
        unserved->AddTo(builder);
        server = builder.BuildAndStart();
        if (!server) return Status::Unavailable("cannot serve gRPC on " + path);
        return Status::Ok();
      });
  if (!published.ok()) {
    if (server) {
      server->Shutdown(std::chrono::system_clock::now());
      server->Wait();
    }
    return published;
  }
  return std::unique_ptr<UnixServer>(
      new UnixServer(path, std::move(unserved), std::move(server)));
}

UnixServer::UnixServer(std::string path, std::unique_ptr<UnservedRequests> unserved,
                       std::unique_ptr<grpc::Server> server)
    : path_(std::move(path)), unserved_(std::move(unserved)), server_(std::move(server)) {}

UnixServer::~UnixServer() {
  Shutdown();
  server_->Wait();
  server_.reset();
  ::unlink(path_.c_str());
}

void UnixServer::Wait() { server_->Wait(); }

void UnixServer::Shutdown() { server_->Shutdown(std::chrono::system_clock::now() + kDrainTime); }

}  // namespace berth::grpc_util
