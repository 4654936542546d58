// berth-snapshotter: serves one snapshotter plugin library over containerd's
// snapshots gRPC API on a unix socket, so that containerd (through a
// [proxy_plugins] entry of type "snapshot") or berthd can use it.
//
//   berth-snapshotter --plugin snapshot-overlay --root /var/lib/snap --address /run/snap.sock
//
// Logs to stderr. SIGTERM or SIGINT: stop serving (running calls drain),
// close the plugin, remove the socket, exit 0. Any startup error exits 1.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "berth/grpc/serve.h"
#include "berth/plugin_types.h"
#include "berth/runner/loader.h"
#include "berth/runner/log.h"
#include "berth/runner/standalone.h"
#include "berth/snapshotter.h"
#include "berth/unix_socket.h"

namespace {

namespace po = boost::program_options;
using berth::Status;

struct Flags {
  std::string plugin;
  std::string id;
  std::string root;
  std::string state;
  std::string address;
  std::string config;
  std::string log_level = "info";
  bool help = false;
};

po::options_description Options() {
  po::options_description opts("Options");
  opts.add_options()("help,h", "print this help")(
      "plugin", po::value<std::string>(),
      "plugin library: a path, or a name in berth's plugin folder (e.g. snapshot-overlay)")(
      "id", po::value<std::string>(),
      "the snapshotter's id, when the library registers several (e.g. overlayfs)")(
      "root", po::value<std::string>(), "the snapshotter's root folder")(
      "state", po::value<std::string>(), "the snapshotter's state folder (default: --root)")(
      "address", po::value<std::string>(), "the unix socket to serve on")(
      "config", po::value<std::string>(),
      "TOML file: the plugin's config table, or a config.toml with [plugins.\"<uri>\"]")(
      "log-level", po::value<std::string>(), "trace, debug, info, warn or error (default info)");
  return opts;
}

berth::Result<Flags> ParseFlags(int argc, char** argv) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(Options()).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return Status::InvalidArgument(e.what());
  }
  Flags f;
  auto get = [&vm](const char* name, std::string& out) {
    if (vm.count(name)) out = vm[name].as<std::string>();
  };
  get("plugin", f.plugin);
  get("id", f.id);
  get("root", f.root);
  get("state", f.state);
  get("address", f.address);
  get("config", f.config);
  get("log-level", f.log_level);
  f.help = vm.count("help") > 0;
  if (f.help) return f;
  for (const auto& [name, value] : {std::pair{"--plugin", &f.plugin}, std::pair{"--root", &f.root},
                                    std::pair{"--address", &f.address}}) {
    if (value->empty()) return Status::InvalidArgument(std::string(name) + " is required");
  }
  return f;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "berth-snapshotter: %s\n", message.c_str());
  return 1;
}

// Serves the plugin's snapshotter until a stop signal arrives. The service
// and every reference to the instance die here, before the caller closes
// the plugin and unloads its library.
int ServeUntilSignal(berth::runner::StandalonePlugin& plugin, const std::string& address,
                     const sigset_t& stop_signals) {
  auto snapshotter = std::dynamic_pointer_cast<berth::Snapshotter>(plugin.instance());
  if (!snapshotter) return Fail(plugin.uri() + " is not a berth::Snapshotter");
  berth::grpc_util::SnapshotsServer service(snapshotter);
  auto server = berth::grpc_util::UnixServer::Start(address, {service.service()});
  if (!server.ok()) return Fail(server.status().ToString());
  berth::log::Info("serving snapshotter", {{"plugin", plugin.uri()},
                                                 {"library", plugin.library_path()},
                                                 {"address", (*server)->path()}});
  int signal = 0;
  sigwait(&stop_signals, &signal);
  berth::log::Info("stopping", {{"signal", strsignal(signal)}});
  (*server)->Shutdown();
  return 0;  // `server` goes first: it removes the socket
}

int Serve(const Flags& flags, const sigset_t& stop_signals) {
  auto library = berth::runner::ResolveLibrary(flags.plugin, berth::runner::OwnPluginDir());
  if (!library.ok()) return Fail(library.status().message());
  std::string address = std::filesystem::absolute(flags.address).lexically_normal().string();
  // Checked before the plugin opens its root so that a second instance says
  // why it cannot start.
  if (berth::SocketAnswers(address)) {
    return Fail("socket " + address + " is in use by another server");
  }

  berth::runner::StandaloneOptions options;
  options.library = *library;
  options.type = std::string(berth::types::kSnapshotter);
  options.id = flags.id;
  options.root = std::filesystem::absolute(flags.root).lexically_normal().string();
  options.state = flags.state.empty() ? "" : std::filesystem::absolute(flags.state).string();
  options.address = address;
  options.config_file = flags.config;
  auto plugin = berth::runner::StandalonePlugin::Start(options);
  if (!plugin.ok()) {
    if (plugin.status().Is(berth::Code::kSkipPlugin)) {
      return Fail("the plugin skipped itself: " + plugin.status().ToString());
    }
    return Fail(plugin.status().ToString());
  }
  for (const std::string& w : (*plugin)->warnings()) berth::log::Warn(w);
  int code = ServeUntilSignal(**plugin, address, stop_signals);
  // Every reference to the instance is gone: close it, then let the library go.
  Status closed = (*plugin)->Close();
  if (!closed.ok()) berth::log::Error("close failed: " + closed.ToString());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  auto flags = ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::cerr << "berth-snapshotter: " << flags.status().message() << "\n\n" << Options();
    return 1;
  }
  if (flags->help) {
    std::cout << "berth-snapshotter: serve a snapshotter plugin over containerd's API\n\n"
              << "Usage: berth-snapshotter --plugin LIB [--id ID] --root DIR --address SOCK"
                 " [--config FILE]\n\n"
              << Options();
    return 0;
  }
  if (Status s = berth::log::Configure(flags->log_level, "text"); !s.ok()) {
    return Fail(s.message());
  }
  // Blocked before any thread starts, so that every thread inherits the mask
  // and only sigwait() sees the stop signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  return Serve(*flags, stop_signals);
}
