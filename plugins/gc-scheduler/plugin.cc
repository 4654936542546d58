// Registers io.containerd.gc.v1.scheduler: containerd's garbage collection
// scheduler over the metadata plugin's GarbageCollector.
#include <memory>
#include <string>
#include <utility>

#include "berth/entry.h"
#include "berth/plugin_types.h"
#include "plugin_init.h"

namespace berth::gc_scheduler {
namespace {

void Register(Registrar& registrar) {
  Registration r;
  r.type = std::string(types::kGc);
  r.id = "scheduler";
  r.required_types = {std::string(types::kMetadata)};
  r.config = [] { return std::make_unique<SchedulerConfig>(); };
  r.init = Init;
  registrar.Add(std::move(r));
}

}  // namespace
}  // namespace berth::gc_scheduler

BERTH_PLUGIN_LIBRARY(berth::gc_scheduler::Register)
