// Scheduler: decides when the metadata store collects garbage, by containerd's
// rules (gc/scheduler), on one thread of its own.
//
// When a run is due:
//   - startup: one run `startup_delay` after Start (none when it is 0);
//   - urgent: `schedule_delay` after a manual trigger (Schedule,
//     ScheduleAndWait), or after the deletion that brings the deletions since
//     the last run to a non-zero `deletion_threshold`;
//   - wanted: after the last run, any deletion, or `mutation_threshold`
//     mutations (when non-zero), want a run `schedule_delay` later but not
//     before the pause interval has passed since the last run ends. Before the
//     first run only a deletion with `deletion_threshold` 0 or the mutation
//     threshold want one, and while the startup run or a retry is pending they
//     do not move it;
//   - retry: a failed run is tried again after the gap that preceded it
//     (from the previous run's end, or from Start, to the time it was due)
//     plus one second, so repeated failures back off linearly.
// The pause interval is avg / pause_threshold - avg, avg being the mean run
// time (gc::Stats::Elapsed) of every successful run so far, so that runs take
// at most pause_threshold of the time; it stays at one second while
// pause_threshold is 0.
//
// Counts reset when a run starts; a failed run gives them back. Changes made
// by the run itself (mutation callbacks on the scheduler's thread) are not
// counted; changes from other threads during a run count toward the next.
//
// Thread-safe. The collector is called on the scheduler's thread only, with no
// lock held.
#ifndef BERTH_PLUGINS_GC_SCHEDULER_SCHEDULER_H_
#define BERTH_PLUGINS_GC_SCHEDULER_SCHEDULER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "berth/gc.h"
#include "berth/logger.h"
#include "berth/metrics_source.h"
#include "berth/mutex.h"
#include "berth/status.h"
#include "clock.h"

namespace berth::gc_scheduler {

// containerd's gc scheduler configuration, typed.
struct Policy {
  // Share of real time collections may take; clamped to [0, 0.5]. Default 0.02.
  double pause_threshold = 0.02;
  // Deletions since the last run that schedule one; 0 = any deletion wants a
  // run at the pause interval. Default 0.
  std::int64_t deletion_threshold = 0;
  // Mutations since the last run that want one; 0 = mutations alone never
  // do. Default 100.
  std::int64_t mutation_threshold = 100;
  // Delay from a trigger to its run. Default 0.
  std::chrono::nanoseconds schedule_delay{0};
  // Delay from Start to the first run; 0 = no startup run. Default 100ms.
  std::chrono::nanoseconds startup_delay{std::chrono::milliseconds(100)};
};

// `policy` brought into range: pause_threshold into [0, 0.5] (NaN as 0),
// negative thresholds and delays to 0.
Policy Clamp(Policy policy);

// The wait after a run that keeps runs averaging `average` within
// `pause_threshold` of the time: average / pause_threshold - average.
// REQUIRES: 0 < pause_threshold <= 0.5.
std::chrono::nanoseconds PauseInterval(std::chrono::nanoseconds average, double pause_threshold);

class Scheduler final : public GcScheduler, public MetricsSource {
 public:
  // Registers for `collector`'s mutations and starts the thread.
  // REQUIRES: `clock` and `log` outlive the scheduler.
  static std::shared_ptr<Scheduler> Start(std::shared_ptr<GarbageCollector> collector,
                                          Policy policy, Clock& clock, Logger& log);
  // Closes (see Close).
  ~Scheduler() override;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // A manual trigger: a run schedule_delay from now (or sooner if one is due
  // sooner). No-op once closed.
  void Schedule() override BERTH_EXCLUDES(mu_);
  // A manual trigger, then waits for the first run that starts after the
  // call and returns its figures, or its error. Unavailable when the
  // scheduler is closed before that run starts.
  Result<gc::Stats> ScheduleAndWait() override BERTH_EXCLUDES(mu_);
  // Stops the thread (at once when it is waiting; after the current run when
  // one is in progress), stops counting mutations, and fails every
  // ScheduleAndWait caller still waiting for a run to start with Unavailable.
  // Idempotent.
  // REQUIRES: not called from the collector during a run.
  Status Close() override BERTH_EXCLUDES(mu_);

  // Counts one committed metadata change; `deletion` when it removed a
  // reference. What the collector's mutation callback calls.
  void Mutated(bool deletion) BERTH_EXCLUDES(mu_);

  // The policy in effect (clamped).
  const Policy& policy() const { return policy_; }
  // When the next run starts, or nullopt when none is due.
  std::optional<Clock::TimePoint> NextRun() const BERTH_EXCLUDES(mu_);
  // The current pause interval.
  std::chrono::nanoseconds interval() const BERTH_EXCLUDES(mu_);

  // berth_gc_runs_total{result="ok"|"error"}, berth_gc_pause_seconds_total
  // (mark + sweep: the time changes waited), berth_gc_duration_seconds_total
  // (with the backend phase), berth_gc_last_pause_seconds and
  // berth_gc_removed_total{kind="content"|"ingests"|"snapshots"|"leases"}.
  std::string MetricsText() override BERTH_EXCLUDES(mu_);

 private:
  // What the collector's mutation callback holds: the scheduler until Close.
  struct Link {
    Mutex mu;
    Scheduler* target BERTH_GUARDED_BY(mu) = nullptr;
  };
  struct Waiter {
    std::optional<Result<gc::Stats>> result;  // guarded by the scheduler's mu_
  };
  // What a run took over when it started, given back if it fails.
  struct Taken {
    std::int64_t deletions = 0;
    std::int64_t mutations = 0;
    std::vector<Waiter*> waiters;
  };

  Scheduler(std::shared_ptr<GarbageCollector> collector, Policy policy, Clock& clock, Logger& log);

  void Loop() BERTH_EXCLUDES(mu_);
  // Runs one collection; `mu_` is released while the collector runs.
  void RunLocked(Clock::TimePoint due) BERTH_REQUIRES(mu_);
  Result<gc::Stats> Collect() BERTH_EXCLUDES(mu_);
  void TriggerLocked(Clock::TimePoint now) BERTH_REQUIRES(mu_);
  std::optional<Clock::TimePoint> NextRunLocked() const BERTH_REQUIRES(mu_);
  bool WantedLocked() const BERTH_REQUIRES(mu_);
  // Wakes the thread when the next run moved earlier than `before`.
  void WakeIfSoonerLocked(std::optional<Clock::TimePoint> before) BERTH_REQUIRES(mu_);
  void LogRun(const Result<gc::Stats>& result, std::chrono::nanoseconds retry_after)
      BERTH_EXCLUDES(mu_);

  const std::shared_ptr<GarbageCollector> collector_;
  const Policy policy_;
  Clock& clock_;
  Logger& log_;
  const std::shared_ptr<Link> link_ = std::make_shared<Link>();

  mutable Mutex mu_;
  CondVar wake_;      // the thread's: due time moved, or closing
  CondVar answered_;  // ScheduleAndWait callers'
  std::thread thread_;
  std::thread::id runner_ BERTH_GUARDED_BY(mu_);
  bool closing_ BERTH_GUARDED_BY(mu_) = false;

  // The reasons for a run, since the last one started.
  std::optional<Clock::TimePoint> startup_at_ BERTH_GUARDED_BY(mu_);
  std::optional<Clock::TimePoint> urgent_at_ BERTH_GUARDED_BY(mu_);
  std::optional<Clock::TimePoint> wanted_since_ BERTH_GUARDED_BY(mu_);
  std::optional<Clock::TimePoint> retry_at_ BERTH_GUARDED_BY(mu_);
  std::int64_t deletions_ BERTH_GUARDED_BY(mu_) = 0;
  std::int64_t mutations_ BERTH_GUARDED_BY(mu_) = 0;
  std::vector<Waiter*> waiters_ BERTH_GUARDED_BY(mu_);

  // History.
  bool attempted_ BERTH_GUARDED_BY(mu_) = false;  // a run has started
  // The last run's end (Start before any).
  Clock::TimePoint last_end_ BERTH_GUARDED_BY(mu_);
  // The last success's end + interval.
  std::optional<Clock::TimePoint> not_before_ BERTH_GUARDED_BY(mu_);
  std::chrono::nanoseconds interval_ BERTH_GUARDED_BY(mu_){std::chrono::seconds(1)};
  // Sum of successful runs' Pause(): mark + sweep, the time changes wait
  // (containerd paces by its metadata pause too; the backend phase blocks
  // nobody).
  std::chrono::nanoseconds total_ BERTH_GUARDED_BY(mu_){0};
  std::int64_t successes_ BERTH_GUARDED_BY(mu_) = 0;
  // For MetricsText: failed runs, and the successful runs' figures summed
  // (Elapsed, the removals) and the last one's.
  std::int64_t failures_ BERTH_GUARDED_BY(mu_) = 0;
  gc::Stats summed_ BERTH_GUARDED_BY(mu_);
  std::chrono::nanoseconds last_pause_ BERTH_GUARDED_BY(mu_){0};
};

}  // namespace berth::gc_scheduler

#endif  // BERTH_PLUGINS_GC_SCHEDULER_SCHEDULER_H_
