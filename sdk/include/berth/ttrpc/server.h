// ttrpc server: containerd's ttrpc 1.1.1 on unix sockets, on a Boost.Asio
// io_context the caller runs (the shim runs one, on one thread).
//
//   boost::asio::io_context io;
//   berth::ttrpc::Server server(io, {.logger = &log});
//   (void)server.Register("containerd.task.v2.Task", "State",
//       [](const Context& ctx, std::string_view req) -> Result<std::string> {...});
//   BERTH_RETURN_IF_ERROR(server.Listen("/run/x/shim.sock"));
//   io.run();
//
// Behaviour on the wire, as containerd's server: calls on one connection run
// concurrently and are answered in the order they finish; an unknown service
// or method answers Unimplemented naming it; a frame over 4 MiB answers
// ResourceExhausted on its stream and the connection goes on; an even stream
// id answers InvalidArgument. A frame that cannot be ttrpc (stream id 0, type
// 0, a Request body that is not a Request) closes that connection only.
// ttrpc 1.2 streaming (Request with the remote-open flag, Data frames)
// answers Unimplemented once per stream. Peers are checked on accept with
// SO_PEERCRED: same effective uid as this process, or root; a refusal is
// logged and the connection closed.
//
// Thread-safety: Register* only before Listen/ServeFd. After that every
// method is safe from any thread; all server work runs serialised on a strand
// of the io_context, so handlers never run concurrently with each other.
// A (synchronous) Handler runs on that strand and must not block; work that
// waits (a process exit) takes the AsyncHandler form and answers through its
// Responder, from any thread, whenever it is ready.
//
// Ownership: the Server owns its sockets and handlers. Destroying it closes
// everything at once without draining; Stop() first for a graceful end. The
// io_context must outlive the Server's pending work (run it until Stop's
// callback, or until it returns).
#ifndef BERTH_TTRPC_SERVER_H_
#define BERTH_TTRPC_SERVER_H_

#include <google/protobuf/message_lite.h>
#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "berth/logger.h"
#include "berth/status.h"
#include "berth/ttrpc/metadata.h"

namespace berth::ttrpc {

// What a handler knows about its call. Valid for the handler's call only;
// copy what an async handler keeps.
struct Context {
  std::string service;
  std::string method;
  std::uint32_t stream_id = 0;
  Metadata metadata;
  // From the request's timeout_nano, measured from when the request was read;
  // absent when the client set none. The server does not enforce it: the
  // client gives up on its own, the handler may stop early.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::string ns;  // metadata's containerd-namespace-ttrpc, "" when absent
  pid_t peer_pid = 0;
  uid_t peer_uid = 0;

  bool Expired() const { return deadline && std::chrono::steady_clock::now() >= *deadline; }
};

namespace internal {
class PendingAnswer;
}

// Answers one call. Copyable; the first invocation answers, later ones are
// ignored. Safe to call from any thread. If every copy is destroyed without
// answering, the call is answered Unknown ("handler dropped the call").
// Answering after the connection closed does nothing.
class Responder {
 public:
  explicit Responder(std::shared_ptr<internal::PendingAnswer> answer);
  void operator()(Result<std::string> response) const;
  void operator()(const Status& status) const;  // REQUIRES: !status.ok()

 private:
  std::shared_ptr<internal::PendingAnswer> answer_;
};

// Returns the serialised response message, or the error to answer.
using Handler = std::function<Result<std::string>(const Context&, std::string_view payload)>;
using AsyncHandler = std::function<void(const Context&, std::string payload, Responder)>;

struct ServerOptions {
  // Where refused peers and connection errors are reported; not owned, may be
  // null (silence). Must outlive the Server.
  Logger* logger = nullptr;
  // Check SO_PEERCRED on accept (same euid or root). Default: on.
  bool check_peer_credentials = true;
};

class Server {
 public:
  explicit Server(boost::asio::io_context& io, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // AlreadyExists when (service, method) is taken; InvalidArgument for an
  // empty name or handler. REQUIRES: before Listen/ServeFd.
  [[nodiscard]] Status Register(std::string service, std::string method, Handler handler);
  [[nodiscard]] Status RegisterAsync(std::string service, std::string method, AsyncHandler handler);

  // A handler on typed messages. A request that does not parse answers
  // InvalidArgument.
  template <typename Req, typename Resp>
  [[nodiscard]] Status RegisterTyped(std::string service, std::string method,
                                     std::function<Result<Resp>(const Context&, const Req&)> fn);

  // Binds a unix socket at `path` (a stale socket nobody answers on is
  // replaced) and starts accepting. InvalidArgument when `path` is empty or
  // does not fit sockaddr_un (never truncated); FailedPrecondition when a
  // server already answers there; AlreadyExists when `path` is not a
  // socket; Unknown with errno text for other failures. Stop() removes it.
  [[nodiscard]] Status Listen(const std::string& path);

  // Accepts on `listening_fd`, an already bound and listening unix socket
  // (e.g. inherited from `shim start`). Takes ownership of the fd, also on
  // error. InvalidArgument when it is not a listening unix stream socket.
  [[nodiscard]] Status ServeFd(int listening_fd);

  // Stops accepting and drains: calls in flight are answered (new requests
  // meanwhile answer Unavailable), then each connection closes. After
  // `drain_limit`, remaining connections are closed as they are. `done` runs
  // once on the io_context when every connection is gone. Idempotent; a
  // second call's `done` also runs.
  void Stop(std::chrono::milliseconds drain_limit = std::chrono::seconds(5),
            std::function<void()> done = {});

  // Stop() and wait for `done`. REQUIRES: the io_context runs on another
  // thread (from the io thread this would deadlock: FailedPrecondition).
  [[nodiscard]] Status StopAndWait(std::chrono::milliseconds drain_limit = std::chrono::seconds(5));

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

template <typename Req, typename Resp>
Status Server::RegisterTyped(std::string service, std::string method,
                             std::function<Result<Resp>(const Context&, const Req&)> fn) {
  if (!fn) return Status::InvalidArgument("ttrpc: empty handler");
  return Register(
      std::move(service), std::move(method),
      [fn = std::move(fn)](const Context& ctx, std::string_view payload) -> Result<std::string> {
        Req req;
        if (!req.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
          return Status::InvalidArgument("ttrpc: cannot parse request of " + ctx.service + "/" +
                                         ctx.method);
        }
        Result<Resp> resp = fn(ctx, req);
        if (!resp.ok()) return resp.status();
        return resp->SerializeAsString();
      });
}

}  // namespace berth::ttrpc

#endif  // BERTH_TTRPC_SERVER_H_
