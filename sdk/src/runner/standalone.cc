#include "berth/runner/standalone.h"

#include <exception>
#include <filesystem>
#include <map>
#include <string_view>
#include <toml.hpp>
#include <utility>

#include "berth/init_context.h"
#include "berth/runner/log.h"
#include "berth/runner/plugin_config.h"
#include "berth/runner/toml_util.h"

namespace berth::runner {
namespace {

namespace fs = std::filesystem;

// The InitContext of a plugin running alone: no other plugin to look up.
class StandaloneInitContext final : public InitContext {
 public:
  StandaloneInitContext(const StandaloneOptions& options, const PluginConfig* config,
                        PluginMeta& meta, Logger& logger)
      : root_(options.root),
        state_(options.state.empty() ? options.root : options.state),
        address_(options.address),
        config_(config),
        meta_(meta),
        logger_(logger) {}

  const std::string& root() const override { return root_; }
  const std::string& state() const override { return state_; }
  const std::string& grpc_address() const override { return address_; }
  const std::string& ttrpc_address() const override { return ttrpc_address_; }
  const PluginConfig* config() const override { return config_; }
  PluginMeta& meta() override { return meta_; }
  Logger& log() override { return logger_; }
  Result<std::shared_ptr<Plugin>> Get(std::string_view type) const override {
    return Status::NotFound("no plugins registered for " + std::string(type));
  }
  Result<std::shared_ptr<Plugin>> GetByID(std::string_view type,
                                          std::string_view id) const override {
    return Status::NotFound("no " + std::string(type) + " plugins with id " + std::string(id));
  }
  std::map<std::string, std::shared_ptr<Plugin>> GetAll(std::string_view) const override {
    return {};
  }

 private:
  std::string root_;
  std::string state_;
  std::string address_;
  std::string ttrpc_address_;
  const PluginConfig* config_;
  PluginMeta& meta_;
  Logger& logger_;
};

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

// The registration of `type` (and `id`) among those of the library.
Result<const Registration*> Select(const std::vector<SourcedRegistration>& all,
                                   const std::string& path, const std::string& type,
                                   const std::string& id) {
  std::vector<const Registration*> of_type;
  std::vector<std::string> uris;
  for (const auto& s : all) {
    uris.push_back(s.registration.uri());
    if (s.registration.type == type) of_type.push_back(&s.registration);
  }
  if (of_type.empty()) {
    return Status::NotFound(path + " registers no " + type +
                            " plugin (it registers: " + Join(uris) + ")");
  }
  std::vector<std::string> ids;
  for (const Registration* r : of_type) {
    if (!id.empty() && r->id == id) return r;
    ids.push_back(r->id);
  }
  if (!id.empty()) {
    return Status::NotFound(path + " has no " + type + " plugin \"" + id +
                            "\" (it has: " + Join(ids) + ")");
  }
  if (of_type.size() > 1) {
    return Status::InvalidArgument(path + " registers several " + type + " plugins (" + Join(ids) +
                                   "); choose one with --id");
  }
  return of_type.front();
}

// The plugin's table in `file`: [plugins."<uri>"] when the file is a
// containerd config that has one, the whole file otherwise.
Result<toml::value> ReadPluginTable(const std::string& file, const std::string& uri) {
  toml::value root;
  try {
    root = toml::parse(file);
  } catch (const toml::exception& e) {
    return toml_util::SyntaxError(e, file);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(file + ": " + e.what());
  }
  if (root.is_table() && root.contains("plugins") && root.at("plugins").is_table() &&
      root.at("plugins").contains(uri)) {
    return root.at("plugins").at(uri);
  }
  return root;
}

}  // namespace

Result<std::string> ResolveLibrary(const std::string& library, const std::string& plugin_dir) {
  if (library.empty()) return Status::InvalidArgument("no plugin library given");
  std::vector<std::string> tried;
  std::error_code ec;
  if (fs::is_regular_file(library, ec)) return library;
  tried.push_back(library);
  if (library.find('/') == std::string::npos && !plugin_dir.empty()) {
    for (const std::string& name : {library, library + ".so"}) {
      std::string path = (fs::path(plugin_dir) / name).string();
      if (fs::is_regular_file(path, ec)) return path;
      tried.push_back(path);
    }
  }
  return Status::NotFound("plugin library \"" + library + "\" not found (looked at " + Join(tried) +
                          ")");
}

Result<std::unique_ptr<StandalonePlugin>> StandalonePlugin::Start(
    const StandaloneOptions& options) {
  if (options.root.empty()) return Status::InvalidArgument("a root folder is required");
  std::unique_ptr<StandalonePlugin> p(new StandalonePlugin());
  std::vector<SourcedRegistration> registrations;
  BERTH_RETURN_IF_ERROR(p->loader_.LoadFile(options.library, registrations));
  p->library_path_ = registrations.empty() ? options.library : registrations.front().library;
  auto chosen = Select(registrations, p->library_path_, options.type, options.id);
  if (!chosen.ok()) return chosen.status();
  BERTH_RETURN_IF_ERROR(p->Init(options, **chosen));
  return p;
}

Status StandalonePlugin::Init(const StandaloneOptions& options, const Registration& r) {
  uri_ = r.uri();
  if (!r.required_types.empty()) {
    std::vector<std::string> required(r.required_types.begin(), r.required_types.end());
    return Status::FailedPrecondition(uri_ + " requires " + Join(required) +
                                      ", which a standalone plugin cannot be given");
  }
  try {
    if (r.config) config_ = r.config();
    if (config_ && !options.config_file.empty()) {
      auto table = ReadPluginTable(options.config_file, uri_);
      if (!table.ok()) return table.status();
      std::vector<ConfigWarning> warnings;
      BERTH_RETURN_IF_ERROR(DecodePluginConfig(*table, *config_, &warnings));
      for (const auto& w : warnings) warnings_.push_back(w.ToString());
    }
    logger_ = log::ForPlugin(uri_);
    StandaloneInitContext ctx(options, config_.get(), meta_, *logger_);
    auto instance = r.init(ctx);
    if (!instance.ok()) return instance.status().Annotate(uri_);
    if (!*instance) return Status::Unknown(uri_ + ": init returned no instance");
    instance_ = std::move(*instance);
  } catch (const std::exception& e) {
    return Status::Unknown(uri_ + ": init threw: " + e.what());
  } catch (...) {
    return Status::Unknown(uri_ + ": init threw a non-standard exception");
  }
  return Status::Ok();
}

Status StandalonePlugin::Close() {
  if (closed_ || !instance_) return Status::Ok();
  closed_ = true;
  try {
    return instance_->Close();
  } catch (const std::exception& e) {
    return Status::Unknown(uri_ + ": close threw: " + e.what());
  } catch (...) {
    return Status::Unknown(uri_ + ": close threw a non-standard exception");
  }
}

StandalonePlugin::~StandalonePlugin() {
  (void)Close();
  instance_.reset();
  config_.reset();
}

}  // namespace berth::runner
