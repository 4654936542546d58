// Registers io.containerd.runtime.v2.task: tasks run by v2 shims
// (task_runtime.h), with bundles under the plugin's state folder and shim
// work folders under its root.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "berth/config.h"
#include "berth/entry.h"
#include "berth/events.h"
#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "shim_process.h"
#include "task_runtime.h"

namespace berth::runtime_v2 {
namespace {

struct RuntimeConfig : PluginConfig {
  Duration shim_start_timeout{std::chrono::seconds(60)};  // default "1m0s"

  void Describe(ConfigFields& f) override { f.Field("shim_start_timeout", shim_start_timeout); }
};

Result<std::shared_ptr<Plugin>> Init(InitContext& ic) {
  const auto& config = ic.Config<RuntimeConfig>();
  if (config.shim_start_timeout.value.count() <= 0) {
    return Status::InvalidArgument("shim_start_timeout must be positive");
  }
  std::error_code ec;
  for (const std::string& dir : {ic.root(), ic.state()}) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::Unknown("mkdir " + dir + ": " + ec.message());
  }
  RuntimeEnv env;
  env.root = ic.root();
  env.state = ic.state();
  env.grpc_address = ic.grpc_address();
  env.ttrpc_address = ic.ttrpc_address();
  env.self_exe = SelfExecutable();
  env.log = &ic.log();
  env.shim_start_timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(config.shim_start_timeout.value);
  auto events = ic.GetAs<EventPublisher>(types::kEvent);
  if (events.ok()) env.events = std::move(*events);
  return std::shared_ptr<Plugin>(ShimRuntime::Open(std::move(env)));
}

void Register(Registrar& registrar) {
  Registration r;
  r.type = std::string(types::kRuntimeV2);
  r.id = "task";
  r.required_types = {std::string(types::kEvent)};
  r.config = [] { return std::make_unique<RuntimeConfig>(); };
  r.init = Init;
  registrar.Add(std::move(r));
}

}  // namespace
}  // namespace berth::runtime_v2

BERTH_PLUGIN_LIBRARY(berth::runtime_v2::Register)
