// ProxyChannel: the connection of one proxy plugin to its peer, and the
// rules every proxied call follows.
//
// - The channel dials the unix socket lazily and redials on its own after the
//   peer goes away, with a short reconnect backoff (100 ms, at most 1 s). A
//   call made while the channel backs off probes the socket (one connect(2))
//   and, when something listens there again, cuts the backoff short and
//   waits (at most 1 s) for the new connection, so a peer that appears late
//   or restarts is used from the next call on.
// - Calls never wait for the peer to be ready (wait_for_ready false): while
//   the socket is missing or refuses, a call fails at once with Unavailable.
// - Each unary call has a deadline of `timeout`; a stream bounds each of its
//   steps (start, every message read or written, finish) by `timeout` and is
//   cancelled when a step overruns. A hung peer costs a call at most that.
// - The call context of the calling thread (berth/call_context.h) travels as
//   the `containerd-namespace` and `containerd-lease` headers.
// - Errors come back as the peer's errdefs codes (berth/grpc/status.h);
//   transport failures and overruns name the proxy and its socket.
//
// Thread-safe: the channel is shared by every call of the plugin; each
// ClientContext belongs to one call.
#ifndef BERTH_PROXY_CLIENT_CHANNEL_H_
#define BERTH_PROXY_CLIENT_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "berth/call_context.h"
#include "berth/status.h"

namespace berth::proxy {

inline constexpr std::chrono::milliseconds kDefaultTimeout{30000};

struct ChannelOptions {
  std::string name;                                     // the proxy plugin's id, for messages
  std::string address;                                  // "/path.sock" or "unix:///path.sock"
  std::chrono::milliseconds timeout = kDefaultTimeout;  // per call / step
};

class ProxyChannel {
 public:
  explicit ProxyChannel(ChannelOptions options);

  const ChannelOptions& options() const { return options_; }
  // The socket path, without a "unix://" prefix.
  const std::string& socket_path() const { return socket_path_; }
  std::chrono::milliseconds timeout() const { return options_.timeout; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // A context for a unary call: fail-fast, deadline now + timeout, and the
  // headers of `call` (the calling thread's context by default).
  std::unique_ptr<grpc::ClientContext> UnaryContext(const CallContext& call = CurrentCall()) const;
  // A context for a stream: fail-fast and the headers, no overall deadline
  // (StepQueue bounds each step instead).
  std::unique_ptr<grpc::ClientContext> StreamContext(const CallContext& call = CurrentCall()) const;

  // The SDK status of a finished call. `overran` marks a stream cancelled
  // because a step took longer than the timeout (DeadlineExceeded).
  Status Error(const grpc::Status& status, bool overran = false) const;

  // Starts connecting in the background (if idle).
  void Connect() const;
  // "" when the socket accepts connections now, otherwise why not (missing,
  // not a socket, connection refused). Cheap: one connect(2), no gRPC.
  std::string Probe() const;

 private:
  // Ends the reconnect backoff early when the channel failed but the socket
  // answers now.
  void RecoverEarly() const;

  ChannelOptions options_;
  std::string socket_path_;
  std::shared_ptr<grpc::Channel> channel_;
};

// A completion queue for one streaming call, one operation outstanding at a
// time, each bounded by `timeout`. Not thread-safe (one call's owner).
class StepQueue {
 public:
  explicit StepQueue(std::chrono::milliseconds timeout) : timeout_(timeout) {}
  ~StepQueue();  // REQUIRES: no operation outstanding
  StepQueue(const StepQueue&) = delete;
  StepQueue& operator=(const StepQueue&) = delete;

  grpc::CompletionQueue* cq() { return &cq_; }
  // The tag to give the one outstanding operation.
  void* tag() { return this; }
  // Waits for the outstanding operation; returns its ok flag. When it takes
  // longer than the timeout, cancels `ctx`, waits for the operation to come
  // back (cancelled, promptly) and returns false with overran() set.
  bool Await(grpc::ClientContext& ctx);
  bool overran() const { return overran_; }

 private:
  std::chrono::milliseconds timeout_;
  grpc::CompletionQueue cq_;
  bool overran_ = false;
};

}  // namespace berth::proxy

#endif  // BERTH_PROXY_CLIENT_CHANNEL_H_
