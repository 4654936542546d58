#include "core/plugin_set.h"

#include <exception>
#include <filesystem>
#include <set>
#include <string_view>
#include <utility>

#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "berth/runner/log.h"
#include "core/graph.h"

namespace berth::host {
namespace {

// The InitContext one plugin sees during its init. Lookups read the records
// initialised before it, in init order.
class PluginInitContext : public InitContext {
 public:
  PluginInitContext(PluginRecord& record, const InitParams& params,
                    const std::vector<PluginRecord*>& initialised)
      : record_(record),
        root_(params.root + "/" + record.uri()),
        state_(params.state + "/" + record.uri()),
        grpc_address_(params.grpc_address),
        ttrpc_address_(params.ttrpc_address),
        initialised_(initialised) {
    if (!record_.logger) record_.logger = log::ForPlugin(record.uri());
  }

  const std::string& root() const override { return root_; }
  const std::string& state() const override { return state_; }
  const std::string& grpc_address() const override { return grpc_address_; }
  const std::string& ttrpc_address() const override { return ttrpc_address_; }
  const PluginConfig* config() const override { return record_.config.get(); }
  PluginMeta& meta() override { return record_.meta; }
  Logger& log() override { return *record_.logger; }

  // The first of `type` that did not skip (a skipped one only when every one
  // of the type skipped).
  Result<std::shared_ptr<Plugin>> Get(std::string_view type) const override {
    const PluginRecord* skipped = nullptr;
    for (const PluginRecord* r : initialised_) {
      if (r->registration.type != type) continue;
      if (r->state == PluginState::kSkipped) {
        if (skipped == nullptr) skipped = r;
        continue;
      }
      return InstanceOf(*r);
    }
    if (skipped != nullptr) return InstanceOf(*skipped);
    return Status::NotFound("no plugins registered for " + std::string(type));
  }

  Result<std::shared_ptr<Plugin>> GetByID(std::string_view type,
                                          std::string_view id) const override {
    for (const PluginRecord* r : initialised_) {
      if (r->registration.type == type && r->registration.id == id) {
        return InstanceOf(*r);
      }
    }
    return Status::NotFound("no " + std::string(type) + " plugins with id " +
                            std::string(id));
  }

  std::map<std::string, std::shared_ptr<Plugin>> GetAll(
      std::string_view type) const override {
    std::map<std::string, std::shared_ptr<Plugin>> all;
    for (const PluginRecord* r : initialised_) {
      if (r->registration.type == type && r->state == PluginState::kOk) {
        all.emplace(r->registration.id, r->instance);
      }
    }
    return all;
  }

 private:
  static Result<std::shared_ptr<Plugin>> InstanceOf(const PluginRecord& r) {
    if (r.state == PluginState::kOk) return r.instance;
    return r.init_status.Annotate(r.uri());
  }

  PluginRecord& record_;
  const std::string root_;
  const std::string state_;
  const std::string grpc_address_;
  const std::string ttrpc_address_;
  const std::vector<PluginRecord*>& initialised_;
};

// Runs plugin code, turning any exception into a Status.
template <typename Fn>
Status Guarded(std::string_view what, Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return Status::Unknown(e.what());
  } catch (...) {
    return Status::Unknown("unknown exception in " + std::string(what));
  }
}

bool RequiresAll(const Registration& r) {
  return r.required_types.size() == 1 &&
         r.required_types[0] == types::kAllPlugins;
}

}  // namespace

PluginSet::~PluginSet() {
  if (!closed_) Close();
}

void PluginSet::Add(std::vector<SourcedRegistration> registrations) {
  for (SourcedRegistration& s : registrations) {
    auto record = std::make_unique<PluginRecord>();
    record->registration = std::move(s.registration);
    record->library = std::move(s.library);
    records_.push_back(std::move(record));
  }
}

void PluginSet::AddLibraryFailures(const std::vector<LibraryFailure>& failures) {
  for (const LibraryFailure& f : failures) {
    auto record = std::make_unique<PluginRecord>();
    record->registration.type = kLibraryPseudoType;
    record->registration.id = std::filesystem::path(f.path).stem().string();
    record->library = f.path;
    record->state = PluginState::kFailed;
    record->init_status = f.status;
    records_.push_back(std::move(record));
  }
}

const PluginRecord* PluginSet::Find(const std::string& uri) const {
  for (const auto& r : records_) {
    if (r->uri() == uri) return r.get();
  }
  return nullptr;
}

Status PluginSet::Init(const InitParams& params,
                       std::vector<ConfigWarning>* warnings) {
  if (initialised_done_) return Status::FailedPrecondition("plugins already initialised");
  std::vector<std::unique_ptr<PluginRecord>> pending;
  std::vector<std::unique_ptr<PluginRecord>> library_failures;
  for (auto& r : records_) {
    (r->state == PluginState::kPending ? pending : library_failures)
        .push_back(std::move(r));
  }
  std::vector<const Registration*> regs;
  for (const auto& r : pending) regs.push_back(&r->registration);
  std::set<std::string> disabled(params.disabled.begin(), params.disabled.end());
  Result<std::vector<std::size_t>> order = InitOrder(regs, disabled);
  if (!order.ok()) {
    records_.clear();
    for (auto& r : pending) records_.push_back(std::move(r));
    for (auto& r : library_failures) records_.push_back(std::move(r));
    return order.status();
  }

  std::vector<bool> placed(pending.size(), false);
  std::vector<std::unique_ptr<PluginRecord>> ordered;
  for (std::size_t i : *order) {
    placed[i] = true;
    ordered.push_back(std::move(pending[i]));
  }
  std::vector<const PluginRecord*> disabled_records;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    if (placed[i]) continue;
    pending[i]->state = PluginState::kDisabled;
    disabled_records.push_back(pending[i].get());
  }

  initialised_done_ = true;
  for (auto& r : ordered) {
    InitOne(*r, params, disabled_records, warnings);
    initialised_.push_back(r.get());
  }

  records_.clear();
  for (auto& r : ordered) records_.push_back(std::move(r));
  for (auto& r : library_failures) records_.push_back(std::move(r));
  for (std::size_t i = 0; i < pending.size(); ++i) {
    if (!placed[i]) records_.push_back(std::move(pending[i]));
  }
  return Status::Ok();
}

void PluginSet::InitOne(PluginRecord& record, const InitParams& params,
                        const std::vector<const PluginRecord*>& disabled,
                        std::vector<ConfigWarning>* warnings) {
  const std::string uri = record.uri();
  log::Info("loading plugin \"" + uri + "\"...",
            {{"type", record.registration.type}});
  Status status = CheckRequiredTypes(record, disabled);
  if (status.ok()) status = BuildConfig(record, params, warnings);
  if (status.ok()) {
    PluginInitContext context(record, params, initialised_);
    status = Guarded("init", [&]() -> Status {
      Result<std::shared_ptr<Plugin>> made = record.registration.init(context);
      if (!made.ok()) return made.status();
      record.instance = std::move(*made);
      return Status::Ok();
    });
  }
  record.init_status = status;
  if (status.ok()) {
    record.state = PluginState::kOk;
    return;
  }
  record.instance.reset();
  const std::string error = status.ToString();
  if (status.Is(Code::kSkipPlugin)) {
    record.state = PluginState::kSkipped;
    log::Info("skip loading plugin \"" + uri + "\"...",
              {{"error", error}, {"type", record.registration.type}});
  } else {
    record.state = PluginState::kFailed;
    log::Warn("failed to load plugin " + uri, {{"error", error}});
  }
}

Status PluginSet::CheckRequiredTypes(
    const PluginRecord& record,
    const std::vector<const PluginRecord*>& disabled) const {
  if (RequiresAll(record.registration)) return Status::Ok();
  for (const std::string& type : record.registration.required_types) {
    std::string reasons;
    bool any_ok = false;
    for (const PluginRecord* r : initialised_) {
      if (r->registration.type != type) continue;
      if (r->state == PluginState::kOk) {
        any_ok = true;
        break;
      }
      if (!reasons.empty()) reasons += "; ";
      reasons += r->uri() + ": " + r->init_status.ToString();
    }
    if (any_ok) continue;
    for (const PluginRecord* r : disabled) {
      if (r->registration.type != type) continue;
      if (!reasons.empty()) reasons += "; ";
      reasons += r->uri() + " is disabled";
    }
    if (reasons.empty()) reasons = "no plugin of that type";
    return Status::FailedPrecondition(record.uri() + ": required plugin type \"" +
                                      type + "\" not initialised: " + reasons);
  }
  return Status::Ok();
}

Status PluginSet::BuildConfig(PluginRecord& record, const InitParams& params,
                              std::vector<ConfigWarning>* warnings) {
  const std::string uri = record.uri();
  const toml::value* table = nullptr;
  if (params.plugin_tables != nullptr) {
    auto it = params.plugin_tables->find(uri);
    if (it != params.plugin_tables->end()) table = &it->second;
  }
  if (!record.registration.config) {
    if (table != nullptr && warnings != nullptr) {
      const toml::source_location where = table->location();
      warnings->push_back(ConfigWarning{
          SourceLocation{where.file_name(), static_cast<int>(where.line()),
                         static_cast<int>(where.column())},
          "plugin \"" + uri + "\" takes no configuration"});
    }
    return Status::Ok();
  }
  return Guarded("config", [&]() -> Status {
    record.config = record.registration.config();
    if (record.config == nullptr || table == nullptr) return Status::Ok();
    return DecodePluginConfig(*table, *record.config, warnings);
  });
}

Status PluginSet::CheckRequired(const std::vector<std::string>& required) const {
  std::string message;
  bool any_missing = false;
  for (const std::string& uri : required) {
    const PluginRecord* r = Find(uri);
    if (r != nullptr && r->state == PluginState::kOk) continue;
    std::string why;
    if (r == nullptr) {
      why = "not found";
      any_missing = true;
    } else if (r->state == PluginState::kDisabled) {
      why = "disabled";
    } else {
      why = r->init_status.ToString();
    }
    if (!message.empty()) message += "; ";
    message += "required plugin " + uri + " not initialised: " + why;
  }
  if (message.empty()) return Status::Ok();
  if (any_missing) {
    std::string libs;
    for (const auto& r : records_) {
      if (r->registration.type != kLibraryPseudoType) continue;
      if (!libs.empty()) libs += "; ";
      libs += r->init_status.message();
    }
    if (!libs.empty()) message += "; library failures: " + libs;
  }
  return Status::FailedPrecondition(std::move(message));
}

void PluginSet::Close() {
  for (auto it = initialised_.rbegin(); it != initialised_.rend(); ++it) {
    PluginRecord& r = **it;
    if (r.instance == nullptr) continue;
    const std::string uri = r.uri();
    log::Debug("closing plugin", {{"id", uri}});
    Status s = Guarded("close", [&] { return r.instance->Close(); });
    if (!s.ok()) {
      log::Warn("failed to close plugin", {{"error", s.ToString()}, {"id", uri}});
    }
  }
  for (auto it = initialised_.rbegin(); it != initialised_.rend(); ++it) {
    (*it)->instance.reset();
  }
  closed_ = true;
}

}  // namespace berth::host
