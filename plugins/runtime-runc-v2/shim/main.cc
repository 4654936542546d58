// containerd-shim-berth-v2: containerd's runtime v2 shim for runc (or crun),
// in C++ on one thread. `start` and `delete` are one-shot actions
// (start.h); without an action the process is the serving shim: the
// subreaper of its container, answering containerd's task API on the socket
// `start` handed it as fd 3, and publishing task events to TTRPC_ADDRESS.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "berth/ttrpc/server.h"
#include "command.h"
#include "events.h"
#include "log.h"
#include "process.h"
#include "reaper.h"
#include "service.h"
#include "start.h"

namespace berth::shim {
namespace {

int Serve(const Flags& flags) {
  signal(SIGPIPE, SIG_IGN);
  ShimLogger log(flags.debug);
  std::error_code ec;
  std::string bundle =
      flags.bundle.empty() ? std::filesystem::current_path(ec).string() : flags.bundle;
  log.OpenFifo(bundle);
  log.set_fields(" runtime=io.containerd.berth.v2 namespace=" + flags.ns + " id=" + flags.id +
                 " pid=" + std::to_string(getpid()));
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    log.Error("cannot become a subreaper");
    return 1;
  }

  boost::asio::io_context io(1);
  Reaper reaper(io, log);
  reaper.Start();
  CommandRunner runner(io, reaper, log);
  const char* ttrpc_address = std::getenv("TTRPC_ADDRESS");
  EventForwarder events(io, ttrpc_address ? ttrpc_address : "", flags.ns, log);
  ttrpc::Server server(io, {.logger = &log});

  bool stopping = false;
  auto shutdown = [&] {
    if (stopping) return;
    stopping = true;
    log.Info("shutting down");
    server.Stop(std::chrono::seconds(2),
                [&] { events.Flush(std::chrono::seconds(5), [&] { io.stop(); }); });
  };
  TaskService service(io, reaper, runner, events, log, flags.ns, shutdown);
  if (Status s = service.Register(server); !s.ok()) {
    log.Error("register task service: " + s.ToString());
    return 1;
  }
  Status served = flags.socket.empty() ? server.ServeFd(3) : server.Listen(flags.socket);
  if (!served.ok()) {
    log.Error("serve: " + served.ToString());
    return 1;
  }
  boost::asio::signal_set exit_signals(io, SIGTERM, SIGINT);
  exit_signals.async_wait([&](const boost::system::error_code& e, int) {
    if (!e) shutdown();
  });
  log.Info("serving task api");
  io.run();

  // The socket goes with the shim (containerd's shim removes it too).
  Result<std::string> address = ReadWholeFile(bundle + "/address");
  if (address.ok()) unlink(SocketPathOf(*address).c_str());
  if (!flags.socket.empty()) unlink(flags.socket.c_str());
  return 0;
}

}  // namespace
}  // namespace berth::shim

int main(int argc, char** argv) {
  using namespace berth::shim;
  berth::Result<Flags> flags = ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::fprintf(stderr, "%s\n", flags.status().message().c_str());
    return 2;
  }
  if (flags->version) {
    std::printf("%s:\n  Version:  %s\n", argv[0], BERTH_SHIM_VERSION);
    return 0;
  }
  if (flags->ns.empty()) {
    std::fprintf(stderr, "containerd-shim-berth-v2: shim namespace cannot be empty\n");
    return 1;
  }
  if (flags->action == "start") return RunStart(*flags, argc, argv);
  if (flags->action == "delete") return RunDelete(*flags);
  if (!flags->action.empty()) {
    std::fprintf(stderr, "containerd-shim-berth-v2: unknown action %s\n", flags->action.c_str());
    return 1;
  }
  return Serve(*flags);
}
