// PluginSet: every plugin the daemon knows, its init result, and its instance.
//
// Init() walks the graph order, builds each plugin's InitContext (root
// "<root>/<uri>", state "<state>/<uri>", decoded config, lookups over the
// plugins already initialised), and records ok / skip / error. A plugin whose
// required type has no initialised plugin fails with a message naming the
// type. Logs containerd's lines: `loading plugin "<uri>"...` (type=...),
// `skip loading plugin "<uri>"...` (error=...), `failed to load plugin
// <uri>` (error=...). Close() closes instances in reverse init order.
//
// Thread-safety: Init and Close from one thread; after Init, const methods
// may be called from any thread.
#ifndef BERTH_HOST_CORE_PLUGIN_SET_H_
#define BERTH_HOST_CORE_PLUGIN_SET_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <toml.hpp>

#include "berth/logger.h"
#include "berth/plugin.h"
#include "berth/runner/loader.h"
#include "berth/status.h"
#include "config/config.h"

namespace berth::host {

// The loader lives in libberth-runner.
using runner::kLibraryPseudoType;
using runner::LibraryFailure;
using runner::PluginLoader;
using runner::SourcedRegistration;

enum class PluginState { kPending, kOk, kSkipped, kFailed, kDisabled };

struct PluginRecord {
  Registration registration;
  std::string library;  // "" for built-ins
  std::unique_ptr<PluginConfig> config;
  PluginMeta meta;
  PluginState state = PluginState::kPending;
  Status init_status;  // the skip or failure; ok otherwise
  // InitContext::log(); kept with the record (and released after the
  // instance) so that the instance may go on logging after init.
  std::unique_ptr<Logger> logger;
  std::shared_ptr<Plugin> instance;
  std::string uri() const { return registration.uri(); }
};

struct InitParams {
  std::string root;
  std::string state;
  std::string grpc_address;
  std::string ttrpc_address;
  // "<type>.<id>" → operator's table (Config::plugins).
  const std::map<std::string, toml::value>* plugin_tables = nullptr;
  std::vector<std::string> disabled;  // URIs
};

class PluginSet {
 public:
  PluginSet() = default;
  ~PluginSet();  // REQUIRES: Close() was called if Init() was.
  PluginSet(const PluginSet&) = delete;
  PluginSet& operator=(const PluginSet&) = delete;

  // Adds registrations (built-ins first, then libraries, then proxies).
  void Add(std::vector<SourcedRegistration> registrations);
  // Libraries that failed before registering: listed as failed records.
  void AddLibraryFailures(const std::vector<LibraryFailure>& failures);

  // Orders and initialises. Returns non-OK only when the graph cannot be
  // built (a cycle, a duplicate URI); each plugin's failure is recorded.
  Status Init(const InitParams& params,
              std::vector<ConfigWarning>* warnings);

  // Every record: initialised ones in init order, then library failures and
  // disabled ones.
  const std::vector<std::unique_ptr<PluginRecord>>& records() const {
    return records_;
  }
  const PluginRecord* Find(const std::string& uri) const;
  // Checks that every URI in `required` is kOk. FailedPrecondition naming each
  // missing one with its init error (or "not found"); when one is not found
  // at all, the library failures are appended ("; library failures: ...").
  Status CheckRequired(const std::vector<std::string>& required) const;

  // Closes every instance in reverse init order (exceptions caught and
  // logged), then releases them in the same order. Idempotent.
  void Close();

 private:
  // Checks requirements, decodes the config and calls init; records the
  // outcome and logs containerd's lines.
  void InitOne(PluginRecord& record, const InitParams& params,
               const std::vector<const PluginRecord*>& disabled,
               std::vector<ConfigWarning>* warnings);
  // FailedPrecondition when a required type has no kOk plugin yet.
  Status CheckRequiredTypes(const PluginRecord& record,
                            const std::vector<const PluginRecord*>& disabled) const;
  // Builds the default config and decodes the operator's table over it.
  Status BuildConfig(PluginRecord& record, const InitParams& params,
                     std::vector<ConfigWarning>* warnings);

  std::vector<std::unique_ptr<PluginRecord>> records_;
  // The records Init walked, in init order (owned by records_).
  std::vector<PluginRecord*> initialised_;
  bool initialised_done_ = false;
  bool closed_ = false;
};

}  // namespace berth::host

#endif  // BERTH_HOST_CORE_PLUGIN_SET_H_
