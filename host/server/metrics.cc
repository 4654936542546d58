#include "server/metrics.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <utility>
#include <vector>

#include "berth/metrics_source.h"
#include "core/plugin_set.h"
#include "server/thread_dump.h"

namespace berth::host {
namespace {

namespace gx = grpc::experimental;
using Clock = std::chrono::steady_clock;

// go-grpc-prometheus's default buckets (prometheus.DefBuckets), in seconds.
constexpr std::array<double, 11> kBuckets = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
constexpr std::array<const char*, 11> kBucketLabels = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"};
constexpr int kCodes = 17;  // grpc::StatusCode OK .. UNAUTHENTICATED

// Go's codes.Code.String().
const char* CodeName(int code) {
  static constexpr std::array<const char*, kCodes> kNames = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  return kNames[static_cast<std::size_t>(code)];
}

const char* TypeName(gx::ServerRpcInfo::Type type) {
  switch (type) {
    case gx::ServerRpcInfo::Type::UNARY:
      return "unary";
    case gx::ServerRpcInfo::Type::CLIENT_STREAMING:
      return "client_stream";
    case gx::ServerRpcInfo::Type::SERVER_STREAMING:
      return "server_stream";
    case gx::ServerRpcInfo::Type::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unary";
}

// A label value in the text format: backslash, quote and newline escaped.
std::string Escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

HttpResponse Text(std::string body) {
  HttpResponse response;
  response.body = std::move(body);
  return response;
}

std::string FormatSeconds(double seconds) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", seconds);
  return buf;
}

const char* StateName(PluginState state) {
  switch (state) {
    case PluginState::kOk:
      return "ok";
    case PluginState::kSkipped:
      return "skipped";
    case PluginState::kFailed:
      return "error";
    case PluginState::kDisabled:
      return "disabled";
    case PluginState::kPending:
      return "pending";
  }
  return "pending";
}

}  // namespace

struct GrpcMetrics::MethodStats {
  std::string type;
  std::string service;
  std::string method;
  std::atomic<std::uint64_t> started{0};
  std::array<std::atomic<std::uint64_t>, kCodes> handled{};
  // Calls per bucket, not cumulative; the last is (10 s, +Inf).
  std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> buckets{};
  std::atomic<std::uint64_t> sum_ns{0};

  void Handled(int code, Clock::duration took) {
    if (code < 0 || code >= kCodes) code = static_cast<int>(grpc::StatusCode::UNKNOWN);
    handled[static_cast<std::size_t>(code)].fetch_add(1, std::memory_order_relaxed);
    double seconds = std::chrono::duration<double>(took).count();
    std::size_t bucket = 0;
    while (bucket < kBuckets.size() && seconds > kBuckets[bucket]) ++bucket;
    buckets[bucket].fetch_add(1, std::memory_order_relaxed);
    sum_ns.fetch_add(static_cast<std::uint64_t>(
                         std::chrono::duration_cast<std::chrono::nanoseconds>(took).count()),
                     std::memory_order_relaxed);
  }
};

namespace {

// Counts one call: started when created (as the call begins), handled with
// the status it sends (after UnservedRequests, installed before, rewrote it).
class MetricsInterceptor final : public gx::Interceptor {
 public:
  explicit MetricsInterceptor(GrpcMetrics::MethodStats* stats)
      : stats_(stats), start_(Clock::now()) {
    stats_->started.fetch_add(1, std::memory_order_relaxed);
  }
  ~MetricsInterceptor() override {
    if (!done_)
      stats_->Handled(static_cast<int>(grpc::StatusCode::CANCELLED), Clock::now() - start_);
  }

  void Intercept(gx::InterceptorBatchMethods* methods) override {
    if (!done_ &&
        methods->QueryInterceptionHookPoint(gx::InterceptionHookPoints::PRE_SEND_STATUS)) {
      done_ = true;
      stats_->Handled(static_cast<int>(methods->GetSendStatus().error_code()),
                      Clock::now() - start_);
    }
    methods->Proceed();
  }

 private:
  GrpcMetrics::MethodStats* const stats_;
  const Clock::time_point start_;
  bool done_ = false;
};

class MetricsFactory final : public gx::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsFactory(GrpcMetrics* metrics) : metrics_(metrics) {}
  gx::Interceptor* CreateServerInterceptor(gx::ServerRpcInfo* info) override {
    const char* path = info->method();
    GrpcMetrics::MethodStats* stats =
        metrics_->StatsFor(path == nullptr ? "" : path, TypeName(info->type()));
    if (stats == nullptr) return nullptr;  // gRPC skips a null interceptor
    return new MetricsInterceptor(stats);
  }

 private:
  GrpcMetrics* const metrics_;
};

}  // namespace

GrpcMetrics::GrpcMetrics() = default;
GrpcMetrics::~GrpcMetrics() = default;

std::unique_ptr<gx::ServerInterceptorFactoryInterface> GrpcMetrics::NewInterceptorFactory() {
  return std::make_unique<MetricsFactory>(this);
}

GrpcMetrics::MethodStats* GrpcMetrics::StatsFor(std::string_view path, std::string_view grpc_type) {
  std::size_t slash = path.rfind('/');
  if (path.size() < 4 || path[0] != '/' || slash == 0 || slash == std::string_view::npos ||
      slash + 1 == path.size()) {
    return nullptr;
  }
  MutexLock lock(&mu_);
  auto it = methods_.find(path);
  if (it != methods_.end()) return it->second.get();
  if (methods_.size() >= kMaxMethods) return nullptr;
  auto stats = std::make_unique<MethodStats>();
  stats->type = std::string(grpc_type);
  stats->service = std::string(path.substr(1, slash - 1));
  stats->method = std::string(path.substr(slash + 1));
  MethodStats* raw = stats.get();
  methods_.emplace(std::string(path), std::move(stats));
  return raw;
}

std::string GrpcMetrics::Render() const {
  std::vector<const MethodStats*> all;
  {
    MutexLock lock(&mu_);
    all.reserve(methods_.size());
    for (const auto& [path, stats] : methods_) all.push_back(stats.get());
  }
  std::string out;
  auto labels = [](const MethodStats& s) {
    return "grpc_method=\"" + Escape(s.method) + "\",grpc_service=\"" + Escape(s.service) +
           "\",grpc_type=\"" + s.type + "\"";
  };

  out += "# HELP grpc_server_started_total Total number of RPCs started on the server.\n";
  out += "# TYPE grpc_server_started_total counter\n";
  for (const MethodStats* s : all) {
    out += "grpc_server_started_total{" + labels(*s) + "} " +
           std::to_string(s->started.load(std::memory_order_relaxed)) + "\n";
  }

  out +=
      "# HELP grpc_server_handled_total Total number of RPCs completed on the server, regardless "
      "of success or failure.\n";
  out += "# TYPE grpc_server_handled_total counter\n";
  for (const MethodStats* s : all) {
    for (int code = 0; code < kCodes; ++code) {
      std::uint64_t n = s->handled[static_cast<std::size_t>(code)].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out += "grpc_server_handled_total{grpc_code=\"" + std::string(CodeName(code)) + "\"," +
             labels(*s) + "} " + std::to_string(n) + "\n";
    }
  }

  out +=
      "# HELP grpc_server_handling_seconds Histogram of response latency (seconds) of gRPC that "
      "had been application-level handled by the server.\n";
  out += "# TYPE grpc_server_handling_seconds histogram\n";
  for (const MethodStats* s : all) {
    std::string l = labels(*s);
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < kBuckets.size(); ++b) {
      cumulative += s->buckets[b].load(std::memory_order_relaxed);
      out += "grpc_server_handling_seconds_bucket{" + l + ",le=\"" + kBucketLabels[b] + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    cumulative += s->buckets[kBuckets.size()].load(std::memory_order_relaxed);
    out += "grpc_server_handling_seconds_bucket{" + l + ",le=\"+Inf\"} " +
           std::to_string(cumulative) + "\n";
    double sum = static_cast<double>(s->sum_ns.load(std::memory_order_relaxed)) / 1e9;
    out += "grpc_server_handling_seconds_sum{" + l + "} " + FormatSeconds(sum) + "\n";
    out += "grpc_server_handling_seconds_count{" + l + "} " + std::to_string(cumulative) + "\n";
  }
  return out;
}

std::string RenderPluginStatus(const PluginSet& plugins) {
  std::string out =
      "# HELP berth_plugin_status Init result of each plugin: 1 for its status.\n"
      "# TYPE berth_plugin_status gauge\n";
  for (const std::unique_ptr<PluginRecord>& record : plugins.records()) {
    out += "berth_plugin_status{id=\"" + Escape(record->registration.id) + "\",status=\"" +
           StateName(record->state) + "\",type=\"" + Escape(record->registration.type) + "\"} 1\n";
  }
  return out;
}

HttpHandler MetricsHandler(const GrpcMetrics* grpc, const PluginSet& plugins) {
  return [grpc, &plugins] {
    HttpResponse response;
    response.content_type = kPrometheusContentType;
    if (grpc != nullptr) response.body = grpc->Render();
    response.body += RenderPluginStatus(plugins);
    for (const std::unique_ptr<PluginRecord>& record : plugins.records()) {
      if (record->state != PluginState::kOk || !record->instance) continue;
      if (auto* source = dynamic_cast<MetricsSource*>(record->instance.get())) {
        response.body += source->MetricsText();
      }
    }
    return response;
  };
}

void AddDebugHandlers(HttpServer& server, const PluginSet& plugins, std::string config_toml) {
  server.Handle("/", [] { return Text("/debug/threads\n/debug/plugins\n/debug/config\n"); });
  server.Handle("/debug/threads", [] { return Text(DumpThreads() + "\n"); });
  server.Handle("/debug/plugins", [&plugins] {
    HttpResponse response;
    for (const std::unique_ptr<PluginRecord>& record : plugins.records()) {
      response.body += record->registration.type + " " + record->registration.id + " " +
                       StateName(record->state);
      if (!record->init_status.ok()) {
        std::string error = record->init_status.message();
        std::replace(error.begin(), error.end(), '\n', ' ');
        response.body += " " + error;
      }
      response.body += "\n";
    }
    return response;
  });
  server.Handle("/debug/config", [config = std::move(config_toml)] {
    return HttpResponse{.content_type = "application/toml; charset=utf-8", .body = config};
  });
}

}  // namespace berth::host
