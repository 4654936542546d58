#include "plugin_init.h"

#include <charconv>
#include <string>
#include <system_error>
#include <utility>

#include "berth/gc.h"
#include "berth/plugin_types.h"
#include "clock.h"
#include "scheduler.h"

namespace berth::gc_scheduler {
namespace {

// A float as Go's fmt.Sprint prints one: the shortest text that reads back.
std::string GoFloat(double value) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) return std::to_string(value);
  return std::string(buf, end);
}

}  // namespace

Result<std::shared_ptr<Plugin>> Init(InitContext& ic) {
  Result<std::shared_ptr<Plugin>> metadata = ic.Get(types::kMetadata);
  if (!metadata.ok()) return metadata.status();
  auto collector = std::dynamic_pointer_cast<GarbageCollector>(*metadata);
  if (!collector) {
    return Status::FailedPrecondition(std::string(types::kMetadata) +
                                      " plugin does not implement berth::GarbageCollector; "
                                      "the scheduler has nothing to collect with");
  }
  const auto& config = ic.Config<SchedulerConfig>();
  Policy policy;
  policy.pause_threshold = config.pause_threshold;
  policy.deletion_threshold = config.deletion_threshold;
  policy.mutation_threshold = config.mutation_threshold;
  policy.schedule_delay = config.schedule_delay.value;
  policy.startup_delay = config.startup_delay.value;
  std::shared_ptr<Scheduler> scheduler =
      Scheduler::Start(std::move(collector), policy, SteadyClock(), ic.log());

  // containerd's exports, with the values in effect.
  const Policy& used = scheduler->policy();
  auto& exports = ic.meta().exports;
  exports["PauseThreshold"] = GoFloat(used.pause_threshold);
  exports["DeletionThreshold"] = std::to_string(used.deletion_threshold);
  exports["MutationThreshold"] = std::to_string(used.mutation_threshold);
  exports["ScheduleDelay"] = FormatDuration(Duration{used.schedule_delay});
  return std::shared_ptr<Plugin>(std::move(scheduler));
}

}  // namespace berth::gc_scheduler
