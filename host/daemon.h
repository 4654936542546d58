// berthd's process: the command line, where the config comes from, the
// `config default|dump` subcommands, and the daemon's life from startup to
// the signal that ends it.
//
// Startup: block the handled signals (before any thread exists, so every
// later thread inherits the mask and only the main thread takes them), set
// up the log, create root (0700) and state (0711), lock the root, register
// built-ins then every plugin library, initialise the plugins, check
// required_plugins, serve ttrpc then gRPC (each socket 0660), tell systemd
// READY=1. Then the main thread
// waits for signals: SIGUSR1 logs a thread dump, SIGHUP and SIGPIPE are
// ignored, SIGTERM/SIGINT drain the server, close the plugins in reverse
// init order and exit 0.
//
// Child processes started by plugins inherit the blocked signal mask; code
// that forks must reset the mask in the child.
//
// Not thread-safe; called from main() only.
#ifndef BERTH_HOST_DAEMON_H_
#define BERTH_HOST_DAEMON_H_

#include <chrono>
#include <map>
#include <string>
#include <toml.hpp>
#include <vector>

#include "berth/runner/loader.h"
#include "berth/status.h"
#include "builtins.h"
#include "config/config.h"

namespace berth::host {

using runner::OwnPluginDir;
using runner::PluginLoader;

// The config file read when --config is not given, if it exists.
inline constexpr char kSystemConfigPath[] = "/etc/berth/config.toml";
// The base folder of the embedded default (root, state and socket), made
// absolute against the working directory.
inline constexpr char kDefaultBase[] = "./.berth";

struct DaemonFlags {
  std::string config_path;  // --config; "" = not given
  std::string address;      // --address; "" = from the config
  std::string root;         // --root
  std::string state;        // --state
  std::string log_level;    // --log-level
  bool help = false;
  bool version = false;
  std::vector<std::string> command;  // positional words: {"config", "dump"}
};

// Parses argv. InvalidArgument on an unknown option or a missing value.
Result<DaemonFlags> ParseFlags(int argc, const char* const* argv);
// The --help text.
std::string UsageText();
// "berthd github.com/berth/berth <version>[ <revision>]".
std::string VersionLine();

// The config used without any file: EmbeddedDefault(kDefaultBase,
// OwnPluginDir()).
Config DefaultConfig();
// What a config file is read over, and what `config default` prints: root
// /var/lib/berth, state /run/berth, socket /run/berth/berthd.sock, plus
// berthd's own plugin folder.
Config SystemDefaultConfig();

// The effective config: --config (an error if missing), else
// `system_config` if it exists, each read over SystemDefaultConfig(); else
// DefaultConfig(); then the flags applied
// and root, state and address made absolute. Errors carry file:line:col.
Result<Config> LoadEffectiveConfig(
    const DaemonFlags& flags, std::vector<ConfigWarning>* warnings,
    const std::string& system_config = kSystemConfigPath);
// Overrides root, state and grpc.address with the flags that were given.
void ApplyFlags(const DaemonFlags& flags, Config& config);
// The ttrpc endpoint served, as containerd settles it: `[ttrpc]` when its
// address is set (made absolute), else "<grpc.address>.ttrpc" owned by
// grpc's uid and gid.
TtrpcConfig EffectiveTtrpc(const Config& config);

// Folders plugin libraries are loaded from: plugin_dir ("<root>/plugins"
// when empty), then builtin_plugin_dirs.
std::vector<std::string> PluginDirs(const Config& config);
// Built-ins first, then the libraries of PluginDirs(config).
std::vector<SourcedRegistration> CollectRegistrations(const Config& config,
                                                      HostEnv env,
                                                      PluginLoader& loader);
// An `unknown plugin` warning for each [plugins."<uri>"] table that names no
// registration.
std::vector<ConfigWarning> UnknownPlugins(
    const Config& config,
    const std::vector<SourcedRegistration>& registrations);
// "<uri>" → the plugin's config table for every registration that takes a
// config: its default, with the operator's table decoded over it when
// `merge_operator_tables`. InvalidArgument when an operator table is wrong.
Result<std::map<std::string, toml::value>> PluginConfigTables(
    const Config& config, const std::vector<SourcedRegistration>& registrations,
    bool merge_operator_tables, std::vector<ConfigWarning>* warnings);

// `berthd config default` and `berthd config dump`: the TOML text.
Result<std::string> RenderDefaultConfig();
Result<std::string> RenderEffectiveConfig(const Config& config,
                                          std::vector<ConfigWarning>* warnings);

// Runs the daemon until SIGTERM or SIGINT; returns the process exit code.
// `warnings` are logged once the log is set up; `start` is when the process
// started (for the boot time).
int RunDaemon(const Config& config, const DaemonFlags& flags,
              const std::vector<ConfigWarning>& warnings,
              std::chrono::steady_clock::time_point start);

}  // namespace berth::host

#endif  // BERTH_HOST_DAEMON_H_
