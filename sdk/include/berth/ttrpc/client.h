// ttrpc client: unary calls to containerd's ttrpc 1.1.1 servers over a unix
// socket (a shim's task API, the daemon's Events/Forward).
//
//   auto client = berth::ttrpc::Client::Connect("/run/x/shim.sock");
//   if (!client.ok()) return client.status();
//   Result<std::string> r = (*client)->Call("containerd.task.v2.Task", "State",
//                                          req.SerializeAsString(),
//                                          {.timeout = std::chrono::seconds(5)});
//
// Calls on one connection run concurrently, each on its own odd stream id,
// answered in any order. A call fails with: DeadlineExceeded when its timeout
// passes first (the late answer is dropped); Unavailable when the
// connection is lost or closed (every pending call fails so, at once);
// ResourceExhausted when the request or the answer exceeds 4 MiB; the
// server's Status (berth codes, errdefs messages) otherwise.
//
// Thread-safety: every method is safe from any thread. Callbacks of
// CallAsync run on the client's io thread (or the caller's io_context), one
// at a time; they must not block, and may start new calls.
//
// Ownership: a Client made without an io_context owns one and a thread that
// runs it. One made on the caller's io_context needs that io_context to
// outlive it and to keep running while calls are pending. Destroying a
// Client closes it; pending calls fail with Unavailable.
#ifndef BERTH_TTRPC_CLIENT_H_
#define BERTH_TTRPC_CLIENT_H_

#include <google/protobuf/message_lite.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "berth/status.h"
#include "berth/ttrpc/metadata.h"

namespace berth::ttrpc {

struct CallOptions {
  Metadata metadata = {};
  // Zero: no deadline. Sent as the request's timeout_nano, and enforced here.
  std::chrono::nanoseconds timeout{0};
};

class Client {
 public:
  using Callback = std::function<void(Result<std::string>)>;

  // Connects to the unix socket at `path`, with a private io thread.
  // InvalidArgument when `path` does not fit sockaddr_un; Unavailable when
  // nothing answers there (NotFound when no such file).
  [[nodiscard]] static Result<std::unique_ptr<Client>> Connect(const std::string& path);
  // The same on the caller's io_context (e.g. a single-threaded shim). The
  // connect itself is synchronous (unix sockets connect at once).
  [[nodiscard]] static Result<std::unique_ptr<Client>> Connect(boost::asio::io_context& io,
                                                               const std::string& path);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Starts a call; `done` runs exactly once with the response payload or the
  // error, on the io thread (never inside CallAsync).
  void CallAsync(std::string service, std::string method, std::string request, CallOptions options,
                 Callback done);

  // Blocks until the call ends. FailedPrecondition when called on the io
  // thread the client runs on (it could never answer).
  [[nodiscard]] Result<std::string> Call(std::string service, std::string method,
                                         std::string request, CallOptions options = {});

  // Typed form: InvalidArgument when the response does not parse as Resp.
  template <typename Resp>
  [[nodiscard]] Result<Resp> Call(std::string service, std::string method,
                                  const google::protobuf::MessageLite& request,
                                  CallOptions options = {});

  // Closes the connection; pending and later calls fail with Unavailable.
  // Idempotent.
  void Close();

  // False once the connection is lost or closed.
  bool connected() const;

  class Impl;

 private:
  Client(std::unique_ptr<boost::asio::io_context> own_io, std::shared_ptr<Impl> impl);

  std::unique_ptr<boost::asio::io_context> own_io_;  // null on a caller's io_context
  std::shared_ptr<Impl> impl_;
  std::thread thread_;  // runs own_io_
};

template <typename Resp>
Result<Resp> Client::Call(std::string service, std::string method,
                          const google::protobuf::MessageLite& request, CallOptions options) {
  std::string what = service + "/" + method;
  Result<std::string> raw =
      Call(std::move(service), std::move(method), request.SerializeAsString(), std::move(options));
  if (!raw.ok()) return raw.status();
  Resp resp;
  if (!resp.ParseFromString(*raw)) {
    return Status::InvalidArgument("ttrpc: cannot parse response of " + what);
  }
  return resp;
}

}  // namespace berth::ttrpc

#endif  // BERTH_TTRPC_CLIENT_H_
