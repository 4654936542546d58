// TtrpcServicePlugin: a plugin that adds services to the daemon's ttrpc
// server (`[ttrpc] address`, "<grpc address>.ttrpc" by default), as
// containerd's plugins that implement RegisterTTRPC. The host calls
// RegisterTtrpc on every such plugin, in init order, before it starts
// serving; a plugin may also be a GrpcServicePlugin (the events service is
// both).
//
// Handlers run on the ttrpc server's one io thread and must not block (see
// berth/ttrpc/server.h: waiting work takes the AsyncHandler form). What they
// capture is owned by the plugin and must outlive the server; the host stops
// the server before it closes any plugin. Link libberth-ttrpc to implement it.
#ifndef BERTH_TTRPC_SERVICE_H_
#define BERTH_TTRPC_SERVICE_H_

#include "berth/plugin.h"
#include "berth/status.h"

namespace berth {

namespace ttrpc {
class Server;
}  // namespace ttrpc

class TtrpcServicePlugin : public virtual Plugin {
 public:
  ~TtrpcServicePlugin() override;
  // Registers the plugin's methods (Server::Register*). An error fails the
  // daemon's startup, naming the plugin.
  virtual Status RegisterTtrpc(ttrpc::Server& server) = 0;
};

}  // namespace berth

#endif  // BERTH_TTRPC_SERVICE_H_
