// Serving berth snapshotters and content stores over containerd's gRPC API:
// the C++ counterpart of containerd's contrib/snapshotservice. An external
// snapshotter author wraps any berth::Snapshotter (or ContentStore) in these
// services and serves them on a unix socket; containerd (through a
// [proxy_plugins] entry) or berthd then use it as a snapshotter.
//
//   auto sn = std::make_shared<MySnapshotter>(...);
//   berth::grpc_util::SnapshotsServer service(sn);
//   auto server = berth::grpc_util::UnixServer::Start("/run/my.sock", {service.service()});
//   if (!server.ok()) ...;
//   (*server)->Wait();   // until another thread (say, one in sigwait) calls Shutdown()
//
// These are the only implementations of the two protocols: berthd serves
// its namespaced views through them (with resolvers), berth-snapshotter and
// external snapshotters one plugin. Errors travel as containerd's errdefs
// codes (status.h); an exception thrown by the backend becomes Unknown. List calls collect the backend's walk first and
// then stream it in batches (100 entries, as containerd does), so no backend
// walk stays open while a slow client reads; Read streams 1 MiB chunks, one
// in flight at a time; Write runs containerd's STAT/WRITE/COMMIT protocol.
// Content calls check digests (InvalidArgument) before the backend sees them.
// Part of libberth-grpc.
//
// Ownership: a service shares what its resolver hands out; the service
// objects must outlive the UnixServer serving them. Thread-safe: bodies run
// on an executor (berth/executor.h), never on gRPC's callback threads,
// against thread-safe backends; no lock is held across backend calls.
#ifndef BERTH_GRPC_SERVE_H_
#define BERTH_GRPC_SERVE_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "berth/call_context.h"
#include "berth/content.h"
#include "berth/grpc/call.h"
#include "berth/snapshotter.h"
#include "berth/status.h"

namespace berth::grpc_util {

class UnservedRequests;  // berth/grpc/unserved.h

// Which backend serves a call: berthd resolves the call's namespace and
// lease to its namespaced, leased views; a standalone server answers every
// call with its one plugin. The snapshots resolver also gets the request's
// `snapshotter` field. A non-OK Result ends the call with that Status.
// Resolvers must be cheap and never block (a lookup and a small object):
// the cheap reads (Stat, Mounts, content Info and Status) resolve on gRPC's
// thread, and run there too when the backend is local (berth/locality.h).
using SnapshotterResolver = std::function<Result<std::shared_ptr<Snapshotter>>(
    const CallContext& call, const std::string& snapshotter)>;
using ContentResolver =
    std::function<Result<std::shared_ptr<ContentStore>>(const CallContext& call)>;

// containerd.services.snapshots.v1.Snapshots over the snapshotters `resolve`
// picks. Every body runs on the rules' executor (call.h).
class SnapshotsServer {
 public:
  SnapshotsServer(SnapshotterResolver resolve, CallRules rules);
  // One backend for every call, whatever its `snapshotter` field and
  // namespace (which may be absent).
  explicit SnapshotsServer(std::shared_ptr<Snapshotter> backend);
  ~SnapshotsServer();
  SnapshotsServer(const SnapshotsServer&) = delete;
  SnapshotsServer& operator=(const SnapshotsServer&) = delete;
  grpc::Service* service();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// containerd.services.content.v1.Content over the stores `resolve` picks.
// Every unary body and every stream step (List's collection, each Read
// chunk, each Write request) runs on the rules' executor.
class ContentServer {
 public:
  ContentServer(ContentResolver resolve, CallRules rules);
  // One store for every call, whatever its namespace (which may be absent).
  explicit ContentServer(std::shared_ptr<ContentStore> backend);
  ~ContentServer();
  ContentServer(const ContentServer&) = delete;
  ContentServer& operator=(const ContentServer&) = delete;
  grpc::Service* service();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// A gRPC server on a unix socket. Start creates the parent directory (0711)
// when missing, removes a stale socket file (one nobody answers on), listens
// with containerd's message size limits (16 MiB both ways) on a socket that
// has mode 0660 before anyone can connect to it (PublishSocket in
// berth/unix_socket.h).
class UnixServer {
 public:
  // REQUIRES: the services outlive the server. Errors: InvalidArgument for
  // no services, an empty path or one too long for a unix socket; FailedPrecondition "socket <path>
  // is in use by another server" when a server answers there; AlreadyExists when the path exists
  // and is not a socket; Unavailable when gRPC cannot listen; Unknown for a failed mkdir,
  // chmod or rename.
  static Result<std::unique_ptr<UnixServer>> Start(const std::string& socket_path,
                                                   const std::vector<grpc::Service*>& services);
  ~UnixServer();  // Shutdown(), then removes the socket file
  // Blocks until Shutdown.
  void Wait();
  // Stops accepting calls and lets running ones finish for up to 5 seconds,
  // then cancels the rest; returns when all have ended. Idempotent; callable
  // from any thread but not from a signal handler.
  void Shutdown();
  // The absolute socket path.
  const std::string& path() const { return path_; }

 private:
  UnixServer(std::string path, std::unique_ptr<UnservedRequests> unserved,
             std::unique_ptr<grpc::Server> server);
  std::string path_;
  std::unique_ptr<UnservedRequests> unserved_;  // outlives server_
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace berth::grpc_util

#endif  // BERTH_GRPC_SERVE_H_
