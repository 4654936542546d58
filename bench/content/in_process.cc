#include "in_process.h"

#include <cstdio>
#include <vector>

#include "berth/entry.h"
#include "berth/init_context.h"
#include "berth/logger.h"
#include "berth/plugin_types.h"

namespace berth::bench {
namespace {

class CollectingRegistrar final : public Registrar {
 public:
  void Add(Registration registration) override {
    registrations.push_back(std::move(registration));
  }
  std::vector<Registration> registrations;
};

// Warnings and errors to stderr; the rest is dropped.
class StderrLogger final : public Logger {
 public:
  void Log(LogLevel level, std::string_view message) override {
    if (Enabled(level)) {
      std::fprintf(stderr, "content-local: %.*s\n", static_cast<int>(message.size()),
                   message.data());
    }
  }
  bool Enabled(LogLevel level) const override { return level >= LogLevel::kWarn; }
};

// Just enough context for a plugin without configuration or dependencies.
class BenchInitContext final : public InitContext {
 public:
  explicit BenchInitContext(std::string root) : root_(std::move(root)) {}
  const std::string& root() const override { return root_; }
  const std::string& state() const override { return root_; }
  const std::string& grpc_address() const override { return empty_; }
  const std::string& ttrpc_address() const override { return empty_; }
  const PluginConfig* config() const override { return nullptr; }
  PluginMeta& meta() override { return meta_; }
  Logger& log() override { return logger_; }
  Result<std::shared_ptr<Plugin>> Get(std::string_view type) const override {
    return Status::NotFound("no plugin of type " + std::string(type) + " in the bench");
  }
  Result<std::shared_ptr<Plugin>> GetByID(std::string_view type,
                                          std::string_view id) const override {
    return Status::NotFound("no plugin " + std::string(type) + "." + std::string(id) +
                            " in the bench");
  }
  std::map<std::string, std::shared_ptr<Plugin>> GetAll(std::string_view) const override {
    return {};
  }

 private:
  std::string root_;
  std::string empty_;
  PluginMeta meta_;
  StderrLogger logger_;
};

Status CheckDescriptor(const PluginLibraryDescriptor* d) {
  if (d == nullptr || d->magic != kPluginMagic) return Status::InvalidArgument("bad magic");
  if (d->abi_major != kSdkAbiMajor || d->abi_minor > kSdkAbiMinor) {
    return Status::InvalidArgument("SDK ABI mismatch");
  }
  if (d->gxx_abi_version != kGxxAbiVersion || d->cxx11_abi != kCxx11Abi) {
    return Status::InvalidArgument("compiler ABI mismatch");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<LoadedContentStore>> LoadedContentStore::Load(
    const std::string& library, const std::string& root) {
  std::unique_ptr<LoadedContentStore> loaded(new LoadedContentStore());
  boost::dll::fs::error_code ec;
  loaded->library_.load(boost::dll::fs::path(library),
                        boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local,
                        ec);
  if (ec || !loaded->library_.has(kPluginEntryPoint)) {
    return Status::NotFound("cannot load " + library + ": " + ec.message());
  }
  auto& entry =
      loaded->library_.get_alias<const PluginLibraryDescriptor*()>(kPluginEntryPoint);
  const PluginLibraryDescriptor* descriptor = entry();
  Status valid = CheckDescriptor(descriptor);
  if (!valid.ok()) return valid.Annotate(library);
  CollectingRegistrar registrar;
  Status registered = descriptor->register_plugins(registrar);
  if (!registered.ok()) return registered;
  for (Registration& r : registrar.registrations) {
    if (r.type != types::kContent) continue;
    BenchInitContext ctx(root);
    Result<std::shared_ptr<Plugin>> plugin = Status::Unknown("init threw");
    try {
      plugin = r.init(ctx);
    } catch (const std::exception& e) {
      return Status::Unknown(std::string("init threw: ") + e.what());
    }
    if (!plugin.ok()) return plugin.status();
    loaded->store_ = std::dynamic_pointer_cast<ContentStore>(*plugin);
    if (!loaded->store_) return Status::InvalidArgument(r.uri() + " is not a ContentStore");
    return loaded;
  }
  return Status::NotFound(library + " registers no content store");
}

LoadedContentStore::~LoadedContentStore() {
  if (store_) {
    (void)store_->Close();
    store_.reset();
  }
}

}  // namespace berth::bench
