// TtrpcServer: the daemon's ttrpc endpoint on a unix socket (`[ttrpc]
// address`), where shims call back into the daemon (Events/Forward).
//
// Start() prepares the socket path as the gRPC server does (folder 0711, a
// stale socket replaced, a live one or a non-socket refused, a path longer
// than sun_path refused), lets each service plugin register its methods,
// listens on a socket that has mode 0660 and the configured owner before
// anyone can reach it (PublishSocket in berth/unix_socket.h), and runs
// the server on a thread of its own: ttrpc work never runs on gRPC's
// threads, and gRPC's never wait for it. Stop() stops accepting, drains the
// calls in flight (bounded), joins the thread and removes the socket.
//
// The plugins must outlive the server (until Stop() returns). Start and Stop
// are called from one thread.
#ifndef BERTH_HOST_SERVER_TTRPC_SERVER_H_
#define BERTH_HOST_SERVER_TTRPC_SERVER_H_

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "berth/logger.h"
#include "berth/status.h"
#include "berth/ttrpc/server.h"
#include "berth/ttrpc_service.h"

namespace berth::host {

struct TtrpcServerOptions {
  std::string address;   // socket path; made absolute
  std::int64_t uid = 0;  // socket owner
  std::int64_t gid = 0;
};

class TtrpcServer {
 public:
  explicit TtrpcServer(TtrpcServerOptions options);
  ~TtrpcServer();  // Stop()s with no drain time if still running.
  TtrpcServer(const TtrpcServer&) = delete;
  TtrpcServer& operator=(const TtrpcServer&) = delete;

  // Errors: those of PrepareSocketPath (InvalidArgument "address <path> is
  // too long for a unix socket", ...); a plugin's registration error; the
  // Listen error; Unknown when the socket's mode or owner cannot be set.
  // REQUIRES: not started.
  Status Start(const std::vector<TtrpcServicePlugin*>& plugins);

  // Drains for at most `drain`, then closes what is left. Idempotent.
  void Stop(std::chrono::milliseconds drain);

  // The absolute socket path.
  const std::string& address() const { return options_.address; }

 private:
  Status Listen();

  TtrpcServerOptions options_;
  std::unique_ptr<Logger> logger_;
  boost::asio::io_context io_;
  std::unique_ptr<ttrpc::Server> server_;
  std::thread thread_;  // runs io_ while serving
};

}  // namespace berth::host

#endif  // BERTH_HOST_SERVER_TTRPC_SERVER_H_
