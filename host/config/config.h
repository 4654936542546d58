// The daemon's configuration: containerd's config.toml, version 2.
//
// Load() reads a file and its `imports` (merged as containerd merges them:
// a later file's `plugins."x"` and `proxy_plugins.x` tables replace whole
// tables, arrays append, scalars override; relative import paths resolve
// against the importing file's folder; globs allowed). Problems that lose
// nothing (unknown keys, unknown plugin URIs) are warnings carrying file and
// line; everything else is an error carrying file, line and column.
//
// Not thread-safe; built once at startup and read-only after.
#ifndef BERTH_HOST_CONFIG_CONFIG_H_
#define BERTH_HOST_CONFIG_CONFIG_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <toml.hpp>

#include "berth/config.h"
#include "berth/runner/plugin_config.h"
#include "berth/runner/toml_util.h"
#include "berth/status.h"

namespace berth::host {

// Plugin config decoding and its warnings live in libberth-runner.
using runner::ConfigWarning;
using runner::DecodePluginConfig;
using runner::EncodePluginConfig;
using runner::SourceLocation;
namespace toml_util = runner::toml_util;

struct GrpcConfig {
  std::string address;                              // unix socket path
  std::string tcp_address;                          // "" = off (unsupported)
  std::int64_t uid = 0;
  std::int64_t gid = 0;
  std::int64_t max_recv_message_size = 16 << 20;    // bytes
  std::int64_t max_send_message_size = 16 << 20;    // bytes
};

struct TtrpcConfig {
  std::string address;  // "" = "<grpc.address>.ttrpc"
  std::int64_t uid = 0;
  std::int64_t gid = 0;
};

struct DebugConfig {
  std::string address;
  std::int64_t uid = 0;
  std::int64_t gid = 0;
  std::string level = "info";  // trace, debug, info, warn, error
  std::string format = "text";  // text or json
};

struct MetricsConfig {
  std::string address;          // host:port of the Prometheus endpoint; "" = off
  bool grpc_histogram = false;  // per-RPC latency histograms (always kept by berthd)
};

struct ProxyPluginConfig {
  std::string type;      // "snapshot", "content" or a full type
  std::string address;   // unix socket
  std::string platform;  // optional, "os/arch[/variant]"
  std::map<std::string, std::string> exports;
  std::vector<std::string> capabilities;
  // Bound on each proxied call (and on each step of a stream), a Go duration
  // ("30s"); 0 = the proxy's default, 30 s.
  Duration timeout;
  SourceLocation where;
};

struct Config {
  std::int64_t version = 2;
  std::string root;
  std::string state;
  std::string temp;
  // Where third-party plugin libraries are loaded from; "" = "<root>/plugins".
  std::string plugin_dir;
  // Further folders scanned after plugin_dir. Set only by the embedded
  // default (berthd's own plugin folder); not a config.toml key.
  std::vector<std::string> builtin_plugin_dirs;
  GrpcConfig grpc;
  TtrpcConfig ttrpc;
  DebugConfig debug;
  MetricsConfig metrics;
  std::int64_t oom_score = 0;
  std::vector<std::string> disabled_plugins;
  std::vector<std::string> required_plugins;
  // Files merged from `imports`, as resolved (absolute), in load order; the
  // main file is `source`. An imported file may leave out `version`.
  std::vector<std::string> imports;
  // "<type>.<id>" → the operator's table, with its source locations.
  std::map<std::string, toml::value> plugins;
  std::map<std::string, ProxyPluginConfig> proxy_plugins;
  // The file the config came from ("" = embedded default).
  std::string source;
};

// Reads `path` and its imports. Errors: NotFound (no such file),
// InvalidArgument (malformed TOML, wrong types, version not 2), each with
// "<file>:<line>:<col>: ..." in the message.
Result<Config> LoadConfig(const std::string& path,
                          std::vector<ConfigWarning>* warnings);

// Parses TOML text as if read from `name` (imports resolve against its folder).
Result<Config> ParseConfig(const std::string& text, const std::string& name,
                           std::vector<ConfigWarning>* warnings);

// As LoadConfig, but starts from `base` (e.g. EmbeddedDefault()) instead of
// an empty Config: every key the files set replaces base's value, arrays
// append to base's, plugin tables replace base's tables of the same key.
Result<Config> LoadConfigOver(const Config& base, const std::string& path,
                              std::vector<ConfigWarning>* warnings);

// One `unknown plugin "<key>"` warning, located at its table, for each
// [plugins."<key>"] table whose key is not in `known_uris`.
std::vector<ConfigWarning> UnknownPluginWarnings(
    const Config& config, const std::set<std::string>& known_uris);

// The embedded default: root, state and socket under `base` (made absolute),
// plugin_dir "" (read as "<root>/plugins"), plus `own_plugin_dir` as a
// builtin folder.
Config EmbeddedDefault(const std::string& base, const std::string& own_plugin_dir);

// Renders a config as TOML in containerd's shape (version, root, state, ...,
// [grpc], [ttrpc], [debug], [plugins."<uri>"], [proxy_plugins.x]).
// `plugin_tables` adds or replaces tables under [plugins].
std::string RenderConfig(const Config& config,
                         const std::map<std::string, toml::value>& plugin_tables);

}  // namespace berth::host

#endif  // BERTH_HOST_CONFIG_CONFIG_H_
