// HttpServer: a small HTTP/1.1 server (Boost.Beast over Boost.Asio) for the
// daemon's plain-HTTP endpoints: `[metrics] address` (TCP "host:port") and
// `[debug] address` (a unix socket).
//
// One request per connection (the answer carries "Connection: close"). GET
// only: 405 for other methods, 404 for a path no handler serves. The query
// string is ignored when routing. A connection that sends no complete request
// within 10 s is closed. Handlers run on the server's single thread, one at a
// time; a handler that throws gives 500.
//
// Thread-safety: Handle, ListenTcp/ListenUnix and Stop are called from one
// thread (the daemon's); the server's own thread only reads the handler table,
// which does not change after listening starts. No member needs a lock.
#ifndef BERTH_HOST_SERVER_HTTP_SERVER_H_
#define BERTH_HOST_SERVER_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "berth/status.h"

namespace berth::host {

struct HttpResponse {
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Builds the answer to a GET of one path.
using HttpHandler = std::function<HttpResponse()>;

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();  // Stop()s.
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves GET `path` (exact match, e.g. "/v1/metrics") with `handler`.
  // REQUIRES: not listening yet.
  void Handle(const std::string& path, HttpHandler handler);

  // Listens on "host:port": an IPv4 or IPv6 literal ("[::1]:9090"), a host
  // name ("localhost:9090"), or no host (":9090", every interface). Port 0
  // picks a free port (see port()). InvalidArgument for a malformed address;
  // Unavailable when the address cannot be resolved or bound.
  // REQUIRES: not listening yet.
  Status ListenTcp(const std::string& host_port);

  // Listens on the unix socket `path` (made absolute; its folder is created),
  // which has mode 0660 and owner uid:gid before anyone can connect. A stale
  // socket is removed first; Stop() removes the socket. Errors: those of
  // PrepareSocketPath and PublishSocket (server/grpc_server.h,
  // berth/unix_socket.h); Unavailable when it cannot bind.
  // REQUIRES: not listening yet.
  Status ListenUnix(const std::string& path, std::int64_t uid, std::int64_t gid);

  // Stops and joins the server's thread, then closes the listener and every
  // open connection (a request not answered yet gets no answer) and removes
  // the unix socket. Idempotent.
  void Stop();

  // The bound TCP port (0 for a unix socket or before listening).
  std::uint16_t port() const;
  // What it listens on: "host:port" with the bound port, or the socket path.
  const std::string& address() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::host

#endif  // BERTH_HOST_SERVER_HTTP_SERVER_H_
