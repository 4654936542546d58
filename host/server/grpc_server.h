// GrpcServer: the daemon's gRPC endpoint on a unix socket.
//
// Start() prepares the socket path (makes its folder, clears a stale socket,
// refuses one a live server answers on), enables grpc.health.v1.Health when
// asked, registers the given services in order, and serves on a socket that
// has mode 0660 and the configured owner before it can be reached
// (PublishSocket in berth/unix_socket.h). Requests that do not parse and
// unknown methods get containerd's answers (berth/grpc/unserved.h). Stop() stops accepting,
// drains in-flight calls until a deadline (then cancels the rest), marks
// health NOT_SERVING, and removes the socket.
//
// The services must outlive the server (until Stop() returns). Start and Stop
// are called from one thread; the server's own threads run the services.
#ifndef BERTH_HOST_SERVER_GRPC_SERVER_H_
#define BERTH_HOST_SERVER_GRPC_SERVER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "berth/status.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace berth::grpc_util {
class UnservedRequests;
}  // namespace berth::grpc_util

namespace berth::host {

class GrpcMetrics;

struct GrpcServerOptions {
  std::string address;   // socket path; made absolute
  std::int64_t uid = 0;  // socket owner
  std::int64_t gid = 0;
  std::int64_t max_recv_message_size = 16 << 20;  // bytes
  std::int64_t max_send_message_size = 16 << 20;  // bytes
  bool health_check = true;                       // serve grpc.health.v1
  // Counts every RPC (server/metrics.h); null = not counted. Must outlive
  // the server.
  GrpcMetrics* metrics = nullptr;
};

// Makes `path` ready to bind: creates its folder (0711) when missing; removes
// a socket nobody answers on. FailedPrecondition "address <path> is in use"
// when a server answers; AlreadyExists when the path is not a socket.
Status PrepareSocketPath(const std::string& path);

class GrpcServer {
 public:
  explicit GrpcServer(GrpcServerOptions options);
  ~GrpcServer();  // Stop()s with no drain time if still running.
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Errors: those of PrepareSocketPath; Unavailable when gRPC cannot listen;
  // Unknown when the socket's mode or owner cannot be set.
  // REQUIRES: not started.
  Status Start(const std::vector<grpc::Service*>& services);

  // Drains for at most `drain`, then cancels what is left. Idempotent.
  void Stop(std::chrono::milliseconds drain);

  // The absolute socket path.
  const std::string& address() const { return options_.address; }

 private:
  GrpcServerOptions options_;
  // Answers unparsable requests and unknown methods; outlives server_.
  std::unique_ptr<grpc_util::UnservedRequests> unserved_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace berth::host

#endif  // BERTH_HOST_SERVER_GRPC_SERVER_H_
