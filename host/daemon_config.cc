// The command line and the config sources of berthd (see daemon.h).
#include <unistd.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "build_info.h"
#include "daemon.h"

namespace berth::host {
namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

po::options_description Options() {
  po::options_description opts("Options");
  opts.add_options()("config,c", po::value<std::string>()->value_name("FILE"),
                     "path to the configuration file")(
      "address,a", po::value<std::string>()->value_name("SOCK"),
      "address for berthd's gRPC server")(
      "root", po::value<std::string>()->value_name("PATH"),
      "berthd root directory")("state",
                               po::value<std::string>()->value_name("PATH"),
                               "berthd state directory")(
      "log-level,l", po::value<std::string>()->value_name("LEVEL"),
      "set the logging level [trace, debug, info, warn, error, fatal, panic]")(
      "version,v", "print the version")("help,h", "show help");
  return opts;
}

std::string Absolute(const std::string& path) {
  if (path.empty()) return path;
  return fs::absolute(path).lexically_normal().string();
}

}  // namespace

Result<DaemonFlags> ParseFlags(int argc, const char* const* argv) {
  po::options_description opts = Options();
  po::options_description hidden;
  hidden.add_options()("command", po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description positional;
  positional.add("command", -1);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv)
                  .options(all)
                  .positional(positional)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return Status::InvalidArgument(e.what());
  }
  DaemonFlags flags;
  auto get = [&vm](const char* name, std::string& out) {
    if (vm.count(name)) out = vm[name].as<std::string>();
  };
  get("config", flags.config_path);
  get("address", flags.address);
  get("root", flags.root);
  get("state", flags.state);
  get("log-level", flags.log_level);
  flags.help = vm.count("help") > 0;
  flags.version = vm.count("version") > 0;
  if (vm.count("command")) {
    flags.command = vm["command"].as<std::vector<std::string>>();
  }
  return flags;
}

std::string UsageText() {
  std::ostringstream out;
  out << "berthd: a containerd-compatible container daemon\n\n"
      << "Usage:\n"
      << "  berthd [options]            run the daemon\n"
      << "  berthd config default       print the default configuration\n"
      << "  berthd config dump          print the effective configuration\n\n"
      << Options();
  return out.str();
}

std::string VersionLine() {
  std::string line = std::string("berthd github.com/berth/berth ") + kVersion;
  constexpr const char* kRevision = "";
  if (*kRevision != '\0') line += std::string(" ") + kRevision;
  return line;
}

Config DefaultConfig() { return EmbeddedDefault(kDefaultBase, OwnPluginDir()); }

Config SystemDefaultConfig() {
  Config config = EmbeddedDefault("/run/berth", OwnPluginDir());
  config.root = "/var/lib/berth";
  config.state = "/run/berth";
  config.grpc.address = "/run/berth/berthd.sock";
  return config;
}

void ApplyFlags(const DaemonFlags& flags, Config& config) {
  if (!flags.root.empty()) config.root = flags.root;
  if (!flags.state.empty()) config.state = flags.state;
  if (!flags.address.empty()) config.grpc.address = flags.address;
}

TtrpcConfig EffectiveTtrpc(const Config& config) {
  TtrpcConfig ttrpc = config.ttrpc;
  if (ttrpc.address.empty()) {
    ttrpc.address = config.grpc.address + ".ttrpc";
    ttrpc.uid = config.grpc.uid;
    ttrpc.gid = config.grpc.gid;
  }
  ttrpc.address = Absolute(ttrpc.address);
  return ttrpc;
}

Result<Config> LoadEffectiveConfig(const DaemonFlags& flags,
                                   std::vector<ConfigWarning>* warnings,
                                   const std::string& system_config) {
  std::string path = flags.config_path;
  std::error_code ec;
  if (path.empty() && fs::exists(system_config, ec)) path = system_config;

  Config config;
  if (path.empty()) {
    config = DefaultConfig();
  } else {
    Result<Config> loaded =
        LoadConfigOver(SystemDefaultConfig(), path, warnings);
    if (!loaded.ok()) return loaded.status();
    config = std::move(loaded).value();
  }
  ApplyFlags(flags, config);
  config.root = Absolute(config.root);
  config.state = Absolute(config.state);
  config.grpc.address = Absolute(config.grpc.address);
  if (config.root.empty())
    return Status::InvalidArgument("root cannot be empty");
  if (config.state.empty())
    return Status::InvalidArgument("state cannot be empty");
  if (config.grpc.address.empty()) {
    return Status::InvalidArgument("grpc address cannot be empty");
  }
  return config;
}

std::vector<std::string> PluginDirs(const Config& config) {
  std::vector<std::string> dirs;
  dirs.push_back(config.plugin_dir.empty() ? config.root + "/plugins"
                                           : config.plugin_dir);
  for (const std::string& dir : config.builtin_plugin_dirs) {
    if (!dir.empty() && dir != dirs.front()) dirs.push_back(dir);
  }
  return dirs;
}

std::vector<SourcedRegistration> CollectRegistrations(const Config& config,
                                                      HostEnv env,
                                                      PluginLoader& loader) {
  std::vector<SourcedRegistration> registrations = BuiltinRegistrations(env);
  for (const std::string& dir : PluginDirs(config)) {
    loader.LoadDirectory(dir, registrations);
  }
  return registrations;
}

std::vector<ConfigWarning> UnknownPlugins(
    const Config& config,
    const std::vector<SourcedRegistration>& registrations) {
  std::set<std::string> known;
  for (const SourcedRegistration& r : registrations)
    known.insert(r.registration.uri());
  return UnknownPluginWarnings(config, known);
}

Result<std::map<std::string, toml::value>> PluginConfigTables(
    const Config& config, const std::vector<SourcedRegistration>& registrations,
    bool merge_operator_tables, std::vector<ConfigWarning>* warnings) {
  std::map<std::string, toml::value> tables;
  for (const SourcedRegistration& sourced : registrations) {
    const Registration& r = sourced.registration;
    if (!r.config) continue;
    std::unique_ptr<PluginConfig> cfg = r.config();
    if (!cfg) continue;
    auto it = config.plugins.find(r.uri());
    if (merge_operator_tables && it != config.plugins.end()) {
      BERTH_RETURN_IF_ERROR(DecodePluginConfig(it->second, *cfg, warnings));
    }
    tables[r.uri()] = EncodePluginConfig(*cfg);
  }
  return tables;
}

Result<std::string> RenderDefaultConfig() {
  Config config = SystemDefaultConfig();
  PluginLoader loader;
  std::vector<SourcedRegistration> registrations =
      CollectRegistrations(config, HostEnv{&config, nullptr}, loader);
  Result<std::map<std::string, toml::value>> tables =
      PluginConfigTables(config, registrations, false, nullptr);
  if (!tables.ok()) return tables.status();
  return RenderConfig(config, *tables);
}

Result<std::string> RenderEffectiveConfig(
    const Config& config, std::vector<ConfigWarning>* warnings) {
  PluginLoader loader;
  std::vector<SourcedRegistration> registrations =
      CollectRegistrations(config, HostEnv{&config, nullptr}, loader);
  if (warnings != nullptr) {
    for (ConfigWarning& w : UnknownPlugins(config, registrations)) {
      warnings->push_back(std::move(w));
    }
  }
  Result<std::map<std::string, toml::value>> tables =
      PluginConfigTables(config, registrations, true, warnings);
  if (!tables.ok()) return tables.status();
  return RenderConfig(config, *tables);
}

}  // namespace berth::host
