// The io.containerd.gc.v1.scheduler plugin's configuration and init, apart
// from its registration (plugin.cc) so that tests can run them.
#ifndef BERTH_PLUGINS_GC_SCHEDULER_PLUGIN_INIT_H_
#define BERTH_PLUGINS_GC_SCHEDULER_PLUGIN_INIT_H_

#include <chrono>
#include <cstdint>
#include <memory>

#include "berth/config.h"
#include "berth/init_context.h"
#include "berth/plugin.h"
#include "berth/status.h"

namespace berth::gc_scheduler {

// [plugins."io.containerd.gc.v1.scheduler"], with containerd's keys and
// defaults.
struct SchedulerConfig : PluginConfig {
  double pause_threshold = 0.02;
  std::int64_t deletion_threshold = 0;
  std::int64_t mutation_threshold = 100;
  Duration schedule_delay{std::chrono::nanoseconds{0}};
  Duration startup_delay{std::chrono::milliseconds(100)};

  void Describe(ConfigFields& f) override {
    f.Field("pause_threshold", pause_threshold);
    f.Field("deletion_threshold", deletion_threshold);
    f.Field("mutation_threshold", mutation_threshold);
    f.Field("schedule_delay", schedule_delay);
    f.Field("startup_delay", startup_delay);
  }
};

// Finds the metadata plugin's GarbageCollector and starts a Scheduler on the
// steady clock, logging to ic.log(). FailedPrecondition when the metadata
// plugin does not implement GarbageCollector; the lookup's error when there is
// no metadata plugin. Exports containerd's PauseThreshold, DeletionThreshold,
// MutationThreshold and ScheduleDelay (the values in effect).
Result<std::shared_ptr<Plugin>> Init(InitContext& ic);

}  // namespace berth::gc_scheduler

#endif  // BERTH_PLUGINS_GC_SCHEDULER_PLUGIN_INIT_H_
