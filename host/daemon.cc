// berthd's lifecycle (see daemon.h).
#include "daemon.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "berth/grpc/unserved.h"
#include "berth/grpc_service.h"
#include "berth/runner/log.h"
#include "berth/ttrpc_service.h"
#include "build_info.h"
#include "core/plugin_set.h"
#include "server/grpc_server.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/notify.h"
#include "server/root_lock.h"
#include "server/thread_dump.h"
#include "server/ttrpc_server.h"
#include "services/healthcheck.h"

namespace berth::host {
namespace {

constexpr std::chrono::seconds kDrainTime{10};

sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGUSR1, SIGHUP, SIGPIPE})
    sigaddset(&set, sig);
  return set;
}

// Go's names for the signals, as containerd logs them.
const char* SignalName(int sig) {
  switch (sig) {
    case SIGTERM:
      return "terminated";
    case SIGINT:
      return "interrupt";
    case SIGUSR1:
      return "user defined signal 1";
    case SIGHUP:
      return "hangup";
    case SIGPIPE:
      return "broken pipe";
    default:
      return "unknown";
  }
}

// Creates `dir` and its missing parents with `mode`; an existing folder is
// left as it is.
Status MakeDirectory(const std::string& dir, mode_t mode) {
  std::filesystem::path p(dir);
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) return Status::Ok();
  if (p.has_parent_path() && p.parent_path() != p) {
    BERTH_RETURN_IF_ERROR(MakeDirectory(p.parent_path().string(), mode));
  }
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return Status::Unknown("mkdir " + dir + ": " + std::strerror(errno));
  }
  if (::chmod(dir.c_str(), mode) != 0) {
    return Status::Unknown("chmod " + dir + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

void LogWarnings(const std::vector<ConfigWarning>& warnings) {
  for (const ConfigWarning& w : warnings) log::Warn(w.ToString());
}

void SetOomScore(std::int64_t score) {
  if (score == 0) return;
  std::ofstream out("/proc/self/oom_score_adj");
  out << score;
  out.flush();
  if (!out) {
    log::Warn("failed to set oom score", {{"score", std::to_string(score)}});
  }
}

// Owns everything the running daemon holds. Members are destroyed in reverse
// order: the servers before the plugins, the plugins before their libraries,
// the root lock last.
class Daemon {
 public:
  explicit Daemon(const Config& config) : config_(config) {}
  ~Daemon() { Shutdown(); }

  // Everything up to serving. Non-OK: the daemon must exit 1.
  Status Start(std::vector<ConfigWarning>* warnings);
  // Stops serving and closes the plugins. Idempotent.
  void Shutdown();
  const std::string& address() const { return config_.grpc.address; }
  const std::string& ttrpc_address() const { return ttrpc_.address; }

 private:
  Status InitPlugins(std::vector<ConfigWarning>* warnings);
  Status ServeTtrpc();
  Status ServeGrpc();
  // [metrics] and [debug] addresses; a failure is logged, not fatal.
  void ServeHttp();
  std::vector<grpc::Service*> ServicesOf() const;
  std::vector<TtrpcServicePlugin*> TtrpcPluginsOf() const;

  const Config& config_;
  std::unique_ptr<RootLock> lock_;
  PluginLoader loader_;
  PluginSet plugins_;
  bool plugins_initialised_ = false;
  const TtrpcConfig ttrpc_ = EffectiveTtrpc(config_);
  std::unique_ptr<TtrpcServer> ttrpc_server_;
  GrpcMetrics grpc_metrics_;  // outlives server_
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<HttpServer> metrics_server_;
  std::unique_ptr<HttpServer> debug_server_;
};

Status Daemon::Start(std::vector<ConfigWarning>* warnings) {
  BERTH_RETURN_IF_ERROR(MakeDirectory(config_.root, 0700));
  BERTH_RETURN_IF_ERROR(MakeDirectory(config_.state, 0711));
  Result<std::unique_ptr<RootLock>> lock = RootLock::Acquire(config_.root);
  if (!lock.ok()) return lock.status();
  lock_ = std::move(lock).value();
  SetOomScore(config_.oom_score);

  BERTH_RETURN_IF_ERROR(InitPlugins(warnings));
  // As containerd: ttrpc first, then gRPC, each logged as it serves.
  BERTH_RETURN_IF_ERROR(ServeTtrpc());
  BERTH_RETURN_IF_ERROR(ServeGrpc());
  ServeHttp();
  return Status::Ok();
}

Status Daemon::ServeTtrpc() {
  ttrpc_server_ = std::make_unique<TtrpcServer>(
      TtrpcServerOptions{.address = ttrpc_.address, .uid = ttrpc_.uid, .gid = ttrpc_.gid});
  Status s = ttrpc_server_->Start(TtrpcPluginsOf());
  if (!s.ok()) return s.Annotate("failed to get listener for main ttrpc endpoint");
  log::Info("serving...", {{"address", ttrpc_server_->address()}});
  return Status::Ok();
}

Status Daemon::ServeGrpc() {
  const PluginRecord* health = plugins_.Find(kHealthcheckUri);
  GrpcServerOptions options;
  options.address = config_.grpc.address;
  options.uid = config_.grpc.uid;
  options.gid = config_.grpc.gid;
  options.max_recv_message_size = config_.grpc.max_recv_message_size;
  options.max_send_message_size = config_.grpc.max_send_message_size;
  options.health_check = health != nullptr && health->state == PluginState::kOk;
  options.metrics = &grpc_metrics_;
  server_ = std::make_unique<GrpcServer>(std::move(options));
  return server_->Start(ServicesOf());
}

void Daemon::ServeHttp() {
  // Keeps `server` in `slot` when it listens; else logs why `what` is not served.
  auto keep = [](std::unique_ptr<HttpServer> server, const Status& listened, const char* what,
                 const std::string& address, std::unique_ptr<HttpServer>& slot) {
    if (!listened.ok()) {
      log::Error(std::string("failed to serve ") + what,
                 {{"address", address}, {"error", listened.ToString()}});
      return;
    }
    log::Info("serving...", {{"address", server->address()}});
    slot = std::move(server);
  };
  if (!config_.metrics.address.empty()) {
    auto server = std::make_unique<HttpServer>();
    server->Handle(kMetricsPath, MetricsHandler(&grpc_metrics_, plugins_));
    Status listened = server->ListenTcp(config_.metrics.address);
    keep(std::move(server), listened, "metrics", config_.metrics.address, metrics_server_);
  }
  if (!config_.debug.address.empty()) {
    auto server = std::make_unique<HttpServer>();
    AddDebugHandlers(*server, plugins_, RenderConfig(config_, {}));
    Status listened =
        server->ListenUnix(config_.debug.address, config_.debug.uid, config_.debug.gid);
    keep(std::move(server), listened, "debug socket", config_.debug.address, debug_server_);
  }
}

Status Daemon::InitPlugins(std::vector<ConfigWarning>* warnings) {
  std::vector<SourcedRegistration> registrations =
      CollectRegistrations(config_, HostEnv{&config_, &plugins_}, loader_);
  LogWarnings(UnknownPlugins(config_, registrations));
  plugins_.Add(std::move(registrations));
  plugins_.AddLibraryFailures(loader_.failures());

  InitParams params;
  params.root = config_.root;
  params.state = config_.state;
  params.grpc_address = config_.grpc.address;
  params.ttrpc_address = ttrpc_.address;
  params.plugin_tables = &config_.plugins;
  params.disabled = config_.disabled_plugins;
  plugins_initialised_ = true;
  Status init = plugins_.Init(params, warnings);
  LogWarnings(*warnings);
  warnings->clear();
  BERTH_RETURN_IF_ERROR(init);
  return plugins_.CheckRequired(config_.required_plugins);
}

std::vector<grpc::Service*> Daemon::ServicesOf() const {
  std::vector<grpc::Service*> services;
  for (const std::unique_ptr<PluginRecord>& record : plugins_.records()) {
    if (record->state != PluginState::kOk || !record->instance) continue;
    auto* grpc_plugin =
        dynamic_cast<GrpcServicePlugin*>(record->instance.get());
    if (grpc_plugin == nullptr) continue;
    for (grpc::Service* service : grpc_plugin->Services()) {
      if (service != nullptr) services.push_back(service);
    }
  }
  return services;
}

std::vector<TtrpcServicePlugin*> Daemon::TtrpcPluginsOf() const {
  std::vector<TtrpcServicePlugin*> plugins;
  for (const std::unique_ptr<PluginRecord>& record : plugins_.records()) {
    if (record->state != PluginState::kOk || !record->instance) continue;
    auto* ttrpc_plugin = dynamic_cast<TtrpcServicePlugin*>(record->instance.get());
    if (ttrpc_plugin != nullptr) plugins.push_back(ttrpc_plugin);
  }
  return plugins;
}

void Daemon::Shutdown() {
  for (std::unique_ptr<HttpServer>* http : {&metrics_server_, &debug_server_}) {
    if (*http) (*http)->Stop();
    http->reset();
  }
  if (server_) {
    server_->Stop(kDrainTime);
    server_.reset();
  }
  if (ttrpc_server_) {
    ttrpc_server_->Stop(kDrainTime);
    ttrpc_server_.reset();
  }
  if (plugins_initialised_) {
    plugins_.Close();
    plugins_initialised_ = false;
  }
}

// Waits for signals on the main thread until one asks the daemon to stop.
void WaitForStop() {
  sigset_t set = HandledSignals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    switch (sig) {
      case SIGPIPE:
        continue;
      case SIGUSR1:
        log::Debug("received signal", {{"signal", SignalName(sig)}});
        log::Info(DumpThreads());
        continue;
      case SIGHUP:
        log::Debug("received signal", {{"signal", SignalName(sig)}});
        continue;
      default:
        log::Info("received signal", {{"signal", SignalName(sig)}});
        return;
    }
  }
}

}  // namespace

namespace {

// How berthd gives memory back after a burst of large requests (issue 15:
// RSS stayed at 2.26 GB after one record's labels grew to 72 MB).
//  - glibc's mmap threshold slides: once a large block (up to 32 MiB) is
//    freed, later blocks that size come from the arenas instead of mmap, and
//    there fragmentation keeps them resident after the burst. We fix it at
//    2 MiB: every buffer of a large request or response (a spec, a label
//    set, a whole message) is mmap'ed and unmapped when freed, at once. It
//    stays above the 1 MiB chunks content streams send, whose buffers keep
//    being reused from the arenas. Fixing it also stops the trim threshold
//    from sliding, so free memory at the top of a heap goes back too.
//  - Arenas capped at 4 (glibc: 8 per core) bound the freed small chunks
//    that gRPC's and the executor's threads can each keep.
// Not malloc_trim after large requests: it walks every arena under its lock
// on the request path, and it would need a hook that sees request sizes.
// Not jemalloc or tcmalloc: a new dependency for every build, and plugins
// (shared libraries) would share it anyway. bench/memory measures it.
void TuneMalloc() {
  ::mallopt(M_MMAP_THRESHOLD, 2 << 20);
  ::mallopt(M_ARENA_MAX, 4);
}

// protobuf's reports in the daemon's log.
class ProtobufLog final : public Logger {
 public:
  void Log(LogLevel level, std::string_view message) override {
    log::Write(level, message, {{"component", "protobuf"}});
  }
  bool Enabled(LogLevel level) const override { return log::Enabled(level); }
};

}  // namespace

int RunDaemon(const Config& config, const DaemonFlags& flags,
              const std::vector<ConfigWarning>& config_warnings,
              std::chrono::steady_clock::time_point start) {
  TuneMalloc();  // before any thread has an arena
  // Before any thread exists: every thread inherits the mask.
  sigset_t set = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  const std::string& level =
      flags.log_level.empty() ? config.debug.level : flags.log_level;
  Status logging = log::Configure(level, config.debug.format);
  if (!logging.ok()) {
    std::fprintf(stderr, "berthd: %s\n", logging.ToString().c_str());
    return 1;
  }
  // Before any server parses a request: protobuf's lines (a request with
  // invalid UTF-8, say) in our log and format, not raw on stderr.
  static ProtobufLog protobuf_log;
  grpc_util::RouteProtobufLog(&protobuf_log);
  LogWarnings(config_warnings);
  log::Info("starting berthd", {{"version", kVersion}, {"revision", ""}});

  std::vector<ConfigWarning> warnings;
  Daemon daemon(config);
  Status started = daemon.Start(&warnings);
  if (!started.ok()) {
    log::Error(started.message());
    daemon.Shutdown();
    return 1;
  }
  log::Info("serving...", {{"address", daemon.address()}});
  Status ready = NotifySystemd("READY=1");
  if (!ready.ok())
    log::Warn("notify ready failed", {{"error", ready.ToString()}});
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  char boot[96];
  std::snprintf(boot, sizeof(boot), "berthd successfully booted in %fs",
                seconds);
  log::Info(boot);

  WaitForStop();
  Status stopping = NotifySystemd("STOPPING=1");
  if (!stopping.ok()) {
    log::Error("notify stopping failed", {{"error", stopping.ToString()}});
  }
  daemon.Shutdown();
  log::Info("berthd stopped");
  return 0;
}

}  // namespace berth::host
