// What the daemon's HTTP endpoints serve.
//
// GrpcMetrics counts the RPCs of the gRPC server, with go-grpc-prometheus's
// (containerd's) names and labels:
//   grpc_server_started_total{grpc_type,grpc_service,grpc_method}
//   grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
//   grpc_server_handling_seconds{_bucket{le},_sum,_count} (same labels as started)
// grpc_type is unary, client_stream, server_stream or bidi_stream;
// grpc_service the full service name (containerd.services.content.v1.Content);
// grpc_code Go's name of the status (OK, NotFound, ...). A call that ends
// without a status sent (the client went away) counts as Canceled. The
// interceptor takes a short lock once per call to find its method's
// counters; the counters themselves are atomics. At most kMaxMethods distinct
// method paths are counted (unknown methods come from clients); calls to
// further ones are not.
//
// /v1/metrics (MetricsHandler) serves these, berth_plugin_status and the
// figures of every plugin that is a MetricsSource (berth/metrics_source.h), in the
// Prometheus text format. The debug socket (DebugHandlers) serves
// /debug/threads, /debug/plugins, /debug/config and an index at /.
//
// Thread-safety: GrpcMetrics is thread-safe. The handlers read the PluginSet
// (its const methods, after Init) and must not outlive it or the metrics.
#ifndef BERTH_HOST_SERVER_METRICS_H_
#define BERTH_HOST_SERVER_METRICS_H_

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "berth/mutex.h"
#include "berth/thread_annotations.h"
#include "server/http_server.h"

namespace grpc::experimental {
class ServerInterceptorFactoryInterface;
}  // namespace grpc::experimental

namespace berth::host {

class PluginSet;

inline constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr char kMetricsPath[] = "/v1/metrics";

class GrpcMetrics {
 public:
  static constexpr std::size_t kMaxMethods = 1024;
  struct MethodStats;  // defined in metrics.cc

  GrpcMetrics();
  ~GrpcMetrics();
  GrpcMetrics(const GrpcMetrics&) = delete;
  GrpcMetrics& operator=(const GrpcMetrics&) = delete;

  // A factory for ServerBuilder's interceptor list; it counts into this,
  // which must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewInterceptorFactory();

  // The grpc_server_* families in the text format (# HELP and # TYPE lines
  // even when nothing was called yet).
  std::string Render() const;

  // The counters of `path` ("/pkg.Service/Method"), created on first use;
  // nullptr for a malformed path or once kMaxMethods are counted.
  // `grpc_type` is one of the names above.
  MethodStats* StatsFor(std::string_view path, std::string_view grpc_type);

 private:
  mutable Mutex mu_;
  // path → counters; entries are never removed, so pointers stay valid.
  std::map<std::string, std::unique_ptr<MethodStats>, std::less<>> methods_ BERTH_GUARDED_BY(mu_);
};

// berth_plugin_status{type,id,status} 1 for every plugin record; status is
// ok, error, skipped, disabled or pending.
std::string RenderPluginStatus(const PluginSet& plugins);

// The /v1/metrics handler: `grpc` (may be null) then the plugin status.
HttpHandler MetricsHandler(const GrpcMetrics* grpc, const PluginSet& plugins);

// Adds /debug/threads (DumpThreads()), /debug/plugins (one line per plugin:
// "<type> <id> <state>[ <error>]"), /debug/config (`config_toml`) and / (the
// list of these paths) to `server`.
void AddDebugHandlers(HttpServer& server, const PluginSet& plugins, std::string config_toml);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVER_METRICS_H_
