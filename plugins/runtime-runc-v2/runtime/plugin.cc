// Registers io.containerd.runtime.v2.task: tasks run by v2 shims
// (task_runtime.h), with bundles under the plugin's state folder and shim
// work folders under its root.
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "berth/entry.h"
#include "berth/events.h"
#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "shim_process.h"
#include "task_runtime.h"

namespace berth::runtime_v2 {
namespace {

Result<std::shared_ptr<Plugin>> Init(InitContext& ic) {
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
  auto events = ic.GetAs<EventPublisher>(types::kEvent);
  if (events.ok()) env.events = std::move(*events);
  return std::shared_ptr<Plugin>(ShimRuntime::Open(std::move(env)));
}

void Register(Registrar& registrar) {
  Registration r;
  r.type = std::string(types::kRuntimeV2);
  r.id = "task";
  r.required_types = {std::string(types::kEvent)};
  r.init = Init;
  registrar.Add(std::move(r));
}

}  // namespace
}  // namespace berth::runtime_v2

BERTH_PLUGIN_LIBRARY(berth::runtime_v2::Register)
