// Internals of berth/ttrpc/server.h shared by server.cc and
// server_connection.cc. Everything here runs on the server's strand unless
// said otherwise.
#ifndef BERTH_SDK_SRC_TTRPC_SERVER_INTERNAL_H_
#define BERTH_SDK_SRC_TTRPC_SERVER_INTERNAL_H_

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "berth/ttrpc/frame.h"
#include "berth/ttrpc/server.h"

namespace berth::ttrpc {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
using UnixSocket = boost::asio::local::stream_protocol::socket;
using UnixAcceptor = boost::asio::local::stream_protocol::acceptor;

class Connection;

struct MethodEntry {
  Handler sync;  // one of the two is set
  AsyncHandler async;
};

class Server::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(boost::asio::io_context& io, ServerOptions options);

  Status Add(std::string service, std::string method, MethodEntry entry);
  Status Listen(const std::string& path);
  Status ServeFd(int fd);
  void Stop(std::chrono::milliseconds drain_limit, std::function<void()> done);
  void CloseAll();

  // The method for (service, method), or null with `*error` set to the
  // Unimplemented answer naming what is missing.
  const MethodEntry* Find(std::string_view service, std::string_view method, Status* error) const;
  void Log(LogLevel level, std::string_view message) const;
  bool stopping() const { return stopping_; }
  Strand& strand() { return strand_; }
  // Called once by each connection when it closes.
  void Forget(Connection* connection);

 private:
  void Accept(UnixAcceptor* acceptor);
  void OnAccepted(UnixSocket socket);
  void CheckStopped();

  Strand strand_;
  ServerOptions options_;
  std::map<std::string, std::map<std::string, MethodEntry, std::less<>>, std::less<>> services_;
  std::vector<std::unique_ptr<UnixAcceptor>> acceptors_;
  std::vector<std::string> socket_paths_;  // unlinked at Stop
  std::map<Connection*, std::weak_ptr<Connection>> connections_;
  bool stopping_ = false;
  boost::asio::steady_timer drain_timer_;
  std::vector<std::function<void()>> stop_callbacks_;
};

namespace internal {

// The answer slot shared by a Responder's copies. Answer may run on any
// thread; the frame is sent on the strand.
class PendingAnswer {
 public:
  PendingAnswer(Strand strand, std::weak_ptr<Connection> connection, std::uint32_t stream_id)
      : strand_(std::move(strand)), connection_(std::move(connection)), stream_id_(stream_id) {}
  ~PendingAnswer();
  PendingAnswer(const PendingAnswer&) = delete;
  PendingAnswer& operator=(const PendingAnswer&) = delete;

  void Answer(Result<std::string> response);

 private:
  Strand strand_;
  std::weak_ptr<Connection> connection_;
  std::uint32_t stream_id_;
  std::atomic<bool> answered_{false};
};

}  // namespace internal

// One accepted connection: reads frames, dispatches requests, writes
// answers in the order they become ready.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Server::Impl> server, UnixSocket socket, const ucred& peer);
  ~Connection();

  void Start();
  // Stop taking new calls; close once those in flight are answered.
  void Drain();
  void Close(std::string_view why);
  // The answer of a dispatched call.
  void Answer(std::uint32_t stream_id, Result<std::string> response);

 private:
  void ReadHeader();
  void OnHeader();
  void ReadBody();
  void Discard();
  // False when the connection was closed.
  bool HandleRequest();
  void HandleData();
  void Send(std::uint32_t stream_id, const Result<std::string>& response);
  void Flush();
  void MaybeFinishDrain();
  void ShrinkBody();

  std::shared_ptr<Server::Impl> server_;
  UnixSocket socket_;
  ucred peer_;
  std::array<std::uint8_t, kFrameHeaderSize> header_buf_{};
  FrameHeader header_;
  std::string body_;
  std::uint32_t discard_left_ = 0;
  std::deque<std::string> out_;
  bool writing_ = false;
  bool open_ = true;
  bool draining_ = false;
  std::size_t in_flight_ = 0;
  std::unordered_set<std::uint32_t> refused_streams_;  // 1.2 streams answered Unimplemented
};

}  // namespace berth::ttrpc

#endif  // BERTH_SDK_SRC_TTRPC_SERVER_INTERNAL_H_
