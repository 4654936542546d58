#include "scheduler.h"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

#include "berth/config.h"

namespace berth::gc_scheduler {
namespace {

using std::chrono::nanoseconds;
using TimePoint = Clock::TimePoint;

constexpr nanoseconds kRetryBackoff = std::chrono::seconds(1);

std::optional<TimePoint> Earliest(std::optional<TimePoint> a, std::optional<TimePoint> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

std::string Go(nanoseconds d) { return FormatDuration(Duration{d}); }

std::string StatsLine(const gc::Stats& s) {
  return "garbage collected d=" + Go(s.Elapsed()) + " mark=" + Go(s.mark) +
         " sweep=" + Go(s.sweep) + " backend=" + Go(s.backend) +
         " content_removed=" + std::to_string(s.content_removed) +
         " ingests_removed=" + std::to_string(s.ingests_removed) +
         " snapshots_removed=" + std::to_string(s.snapshots_removed) +
         " leases_removed=" + std::to_string(s.leases_removed) +
         " records_removed=" + std::to_string(s.records_removed);
}

}  // namespace

Policy Clamp(Policy policy) {
  if (!(policy.pause_threshold > 0.0)) policy.pause_threshold = 0.0;  // also NaN
  policy.pause_threshold = std::min(policy.pause_threshold, 0.5);
  policy.deletion_threshold = std::max<std::int64_t>(policy.deletion_threshold, 0);
  policy.mutation_threshold = std::max<std::int64_t>(policy.mutation_threshold, 0);
  policy.schedule_delay = std::max(policy.schedule_delay, nanoseconds{0});
  policy.startup_delay = std::max(policy.startup_delay, nanoseconds{0});
  return policy;
}

nanoseconds PauseInterval(nanoseconds average, double pause_threshold) {
  const double avg = static_cast<double>(average.count());
  return nanoseconds{static_cast<std::int64_t>(avg / pause_threshold - avg)};
}

Scheduler::Scheduler(std::shared_ptr<GarbageCollector> collector, Policy policy, Clock& clock,
                     Logger& log)
    : collector_(std::move(collector)), policy_(Clamp(policy)), clock_(clock), log_(log) {
  last_end_ = clock_.Now();
  if (policy_.startup_delay > nanoseconds{0}) startup_at_ = last_end_ + policy_.startup_delay;
}

std::shared_ptr<Scheduler> Scheduler::Start(std::shared_ptr<GarbageCollector> collector,
                                            Policy policy, Clock& clock, Logger& log) {
  std::shared_ptr<Scheduler> scheduler(new Scheduler(collector, policy, clock, log));
  // The collector outlives the scheduler: it holds only the link, which
  // Close() cuts, never the scheduler itself.
  {
    MutexLock lock(&scheduler->link_->mu);
    scheduler->link_->target = scheduler.get();
  }
  collector->OnMutation([link = scheduler->link_](bool deletion) {
    MutexLock lock(&link->mu);
    if (link->target != nullptr) link->target->Mutated(deletion);
  });
  MutexLock lock(&scheduler->mu_);
  scheduler->thread_ = std::thread([raw = scheduler.get()] { raw->Loop(); });
  scheduler->runner_ = scheduler->thread_.get_id();
  return scheduler;
}

Scheduler::~Scheduler() { (void)Close(); }

void Scheduler::Schedule() {
  MutexLock lock(&mu_);
  if (closing_) return;
  TriggerLocked(clock_.Now());
}

Result<gc::Stats> Scheduler::ScheduleAndWait() {
  MutexLock lock(&mu_);
  if (closing_) return Status::Unavailable("gc scheduler is closed");
  Waiter waiter;
  waiters_.push_back(&waiter);
  TriggerLocked(clock_.Now());
  answered_.Wait(&mu_, [&] { return waiter.result.has_value(); });
  return std::move(*waiter.result);
}

Status Scheduler::Close() {
  {
    MutexLock lock(&link_->mu);
    link_->target = nullptr;
  }
  {
    MutexLock lock(&mu_);
    closing_ = true;
    for (Waiter* w : waiters_) w->result = Status::Unavailable("gc scheduler is closed");
    waiters_.clear();
    answered_.SignalAll();
    wake_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  return Status::Ok();
}

void Scheduler::Mutated(bool deletion) {
  MutexLock lock(&mu_);
  // The run's own removals, and anything after Close, count for nothing.
  if (closing_ || std::this_thread::get_id() == runner_) return;
  const std::optional<TimePoint> before = NextRunLocked();
  const TimePoint now = clock_.Now();
  ++mutations_;
  if (deletion) ++deletions_;
  if (policy_.deletion_threshold > 0 && deletions_ >= policy_.deletion_threshold) {
    urgent_at_ = Earliest(urgent_at_, now + policy_.schedule_delay);
  } else if (!wanted_since_ && WantedLocked()) {
    wanted_since_ = now;
  }
  WakeIfSoonerLocked(before);
}

std::optional<TimePoint> Scheduler::NextRun() const {
  MutexLock lock(&mu_);
  return NextRunLocked();
}

nanoseconds Scheduler::interval() const {
  MutexLock lock(&mu_);
  return interval_;
}

void Scheduler::TriggerLocked(TimePoint now) {
  const std::optional<TimePoint> before = NextRunLocked();
  urgent_at_ = Earliest(urgent_at_, now + policy_.schedule_delay);
  WakeIfSoonerLocked(before);
}

bool Scheduler::WantedLocked() const {
  const bool mutations = policy_.mutation_threshold > 0 && mutations_ >= policy_.mutation_threshold;
  if (!attempted_) return (policy_.deletion_threshold == 0 && deletions_ > 0) || mutations;
  return deletions_ > 0 || mutations;
}

std::optional<TimePoint> Scheduler::NextRunLocked() const {
  std::optional<TimePoint> planned = startup_at_ ? startup_at_ : retry_at_;
  if (!planned && wanted_since_) {
    TimePoint at = *wanted_since_ + policy_.schedule_delay;
    if (not_before_) at = std::max(at, *not_before_);
    planned = at;
  }
  return Earliest(urgent_at_, planned);
}

void Scheduler::WakeIfSoonerLocked(std::optional<TimePoint> before) {
  const std::optional<TimePoint> after = NextRunLocked();
  if (after && (!before || *after < *before)) wake_.Signal();
}

void Scheduler::Loop() {
  MutexLock lock(&mu_);
  while (!closing_) {
    const std::optional<TimePoint> next = NextRunLocked();
    if (next && clock_.Now() >= *next) {
      RunLocked(*next);
      continue;
    }
    clock_.WaitUntil(&mu_, &wake_, next);
  }
}

void Scheduler::RunLocked(TimePoint due) {
  Taken taken{deletions_, mutations_, std::move(waiters_)};
  waiters_.clear();
  deletions_ = mutations_ = 0;
  startup_at_.reset();
  urgent_at_.reset();
  wanted_since_.reset();
  retry_at_.reset();
  attempted_ = true;

  mu_.Unlock();
  Result<gc::Stats> result = Collect();
  const TimePoint end = clock_.Now();
  mu_.Lock();

  nanoseconds retry_after{0};
  if (result.ok()) {
    total_ += result->Pause();
    ++successes_;
    last_pause_ = result->Pause();
    summed_.mark += result->mark;
    summed_.sweep += result->sweep;
    summed_.backend += result->backend;
    summed_.content_removed += result->content_removed;
    summed_.ingests_removed += result->ingests_removed;
    summed_.snapshots_removed += result->snapshots_removed;
    summed_.leases_removed += result->leases_removed;
    if (policy_.pause_threshold > 0.0) {
      interval_ = PauseInterval(total_ / successes_, policy_.pause_threshold);
    }
    not_before_ = end + interval_;
  } else {
    retry_after = std::max(due - last_end_, nanoseconds{0}) + kRetryBackoff;
    retry_at_ = end + retry_after;
    ++failures_;
    deletions_ += taken.deletions;
    mutations_ += taken.mutations;
  }
  last_end_ = end;
  for (Waiter* w : taken.waiters) w->result = result;
  answered_.SignalAll();

  mu_.Unlock();
  LogRun(result, retry_after);
  mu_.Lock();
}

std::string Scheduler::MetricsText() {
  std::int64_t ok = 0, failed = 0;
  gc::Stats sum;
  nanoseconds last{0};
  {
    MutexLock lock(&mu_);
    ok = successes_;
    failed = failures_;
    sum = summed_;
    last = last_pause_;
  }
  auto seconds = [](nanoseconds d) { return std::to_string(std::chrono::duration<double>(d).count()); };
  std::string out;
  out += "# HELP berth_gc_runs_total Garbage collections run, by result.\n";
  out += "# TYPE berth_gc_runs_total counter\n";
  out += "berth_gc_runs_total{result=\"ok\"} " + std::to_string(ok) + "\n";
  out += "berth_gc_runs_total{result=\"error\"} " + std::to_string(failed) + "\n";
  out += "# HELP berth_gc_pause_seconds_total Time metadata changes waited for collections.\n";
  out += "# TYPE berth_gc_pause_seconds_total counter\n";
  out += "berth_gc_pause_seconds_total " + seconds(sum.Pause()) + "\n";
  out += "# HELP berth_gc_duration_seconds_total Time collections took, backend removals included.\n";
  out += "# TYPE berth_gc_duration_seconds_total counter\n";
  out += "berth_gc_duration_seconds_total " + seconds(sum.Elapsed()) + "\n";
  out += "# HELP berth_gc_last_pause_seconds The last successful collection's pause.\n";
  out += "# TYPE berth_gc_last_pause_seconds gauge\n";
  out += "berth_gc_last_pause_seconds " + seconds(last) + "\n";
  out += "# HELP berth_gc_removed_total What collections removed, by kind.\n";
  out += "# TYPE berth_gc_removed_total counter\n";
  const std::pair<const char*, std::int64_t> removed[] = {
      {"content", sum.content_removed},
      {"ingests", sum.ingests_removed},
      {"snapshots", sum.snapshots_removed},
      {"leases", sum.leases_removed}};
  for (const auto& [kind, n] : removed) {
    out += std::string("berth_gc_removed_total{kind=\"") + kind + "\"} " + std::to_string(n) + "\n";
  }
  return out;
}

Result<gc::Stats> Scheduler::Collect() {
  try {
    return collector_->GarbageCollect();
  } catch (const std::exception& e) {
    return Status::Unknown(std::string("garbage collection threw: ") + e.what());
  } catch (...) {
    return Status::Unknown("garbage collection threw");
  }
}

void Scheduler::LogRun(const Result<gc::Stats>& result, nanoseconds retry_after) {
  if (result.ok()) {
    if (log_.Enabled(LogLevel::kDebug)) log_.Debug(StatsLine(*result));
    return;
  }
  log_.Warn("garbage collection failed: " + result.status().ToString() + "; retrying in " +
            Go(retry_after));
}

}  // namespace berth::gc_scheduler
