// The scheduling rules on a fake clock: delays, thresholds, the pause
// interval, retries, waiting callers and Close. Time moves only when a test
// advances it; after each step the test waits (bounded) for the scheduler to
// go back to sleep, so "no run yet" is an observation, not a guess.
#include "scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "berth/mutex.h"
#include "fake_clock.h"
#include "fake_collector.h"

namespace berth::gc_scheduler {
namespace {

using namespace std::chrono_literals;
using TimePoint = Clock::TimePoint;

constexpr auto kBound = 10s;  // real time allowed for any one wait

class RecordingLogger final : public Logger {
 public:
  void Log(LogLevel level, std::string_view message) override {
    MutexLock lock(&mu_);
    lines_.emplace_back(level, std::string(message));
  }
  bool Enabled(LogLevel) const override { return true; }
  std::vector<std::pair<LogLevel, std::string>> lines() {
    MutexLock lock(&mu_);
    return lines_;
  }

 private:
  Mutex mu_;
  std::vector<std::pair<LogLevel, std::string>> lines_ BERTH_GUARDED_BY(mu_);
};

Policy Immediate() {
  Policy p;
  p.startup_delay = 0ns;
  return p;
}

class SchedulerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    collector_->Release();
    if (scheduler_) {
      EXPECT_TRUE(scheduler_->Close().ok());
    }
  }

  void Start(Policy policy) {
    t0_ = clock_.Now();
    scheduler_ = Scheduler::Start(collector_, policy, clock_, log_);
    ASSERT_TRUE(clock_.AwaitSleeper()) << "scheduler never went to sleep";
  }
  // Moves the clock and waits until the scheduler has acted and sleeps again.
  void Advance(std::chrono::nanoseconds d) {
    clock_.Advance(d);
    ASSERT_TRUE(clock_.AwaitSleeper()) << "scheduler did not settle";
  }
  void Settle() { ASSERT_TRUE(clock_.Settle()) << "scheduler did not settle"; }
  // A manual trigger with schedule_delay 0, run to completion.
  void RunNow() {
    const int before = collector_->finished();
    scheduler_->Schedule();
    Settle();
    ASSERT_EQ(collector_->finished(), before + 1);
  }
  std::optional<TimePoint> Next() { return scheduler_->NextRun(); }

  FakeClock clock_;
  RecordingLogger log_;
  std::shared_ptr<FakeCollector> collector_ = std::make_shared<FakeCollector>();
  TimePoint t0_;
  std::shared_ptr<Scheduler> scheduler_;  // last: destroyed first
};

TEST_F(SchedulerTest, StartupRunComesAfterStartupDelay) {
  Start(Policy{});
  EXPECT_EQ(Next(), t0_ + 100ms);
  Advance(99ms);
  EXPECT_EQ(collector_->started(), 0);
  Advance(1ms);
  EXPECT_EQ(collector_->finished(), 1);
  EXPECT_EQ(Next(), std::nullopt);  // nothing wants another
}

TEST_F(SchedulerTest, NoStartupRunWhenStartupDelayIsZero) {
  Start(Immediate());
  EXPECT_EQ(Next(), std::nullopt);
  Advance(1h);
  EXPECT_EQ(collector_->started(), 0);
}

TEST_F(SchedulerTest, RegistersForMutations) {
  Start(Immediate());
  EXPECT_EQ(collector_->callbacks(), 1u);
}

TEST_F(SchedulerTest, ManualTriggerRunsAfterScheduleDelay) {
  Policy p = Immediate();
  p.schedule_delay = 50ms;
  Start(p);
  scheduler_->Schedule();
  EXPECT_EQ(Next(), t0_ + 50ms);
  Advance(49ms);
  EXPECT_EQ(collector_->started(), 0);
  Advance(1ms);
  EXPECT_EQ(collector_->finished(), 1);
}

TEST_F(SchedulerTest, ManualTriggerDoesNotWaitForThePauseInterval) {
  Start(Immediate());
  collector_->SetElapsed(10ms);
  RunNow();
  ASSERT_EQ(scheduler_->interval(), 490ms);
  RunNow();  // at the same instant, not 490ms later
  EXPECT_EQ(collector_->finished(), 2);
}

TEST_F(SchedulerTest, PauseIntervalCountsMarkAndSweepNotTheBackendPhase) {
  Start(Immediate());
  gc::Stats stats;
  stats.mark = 6ms;
  stats.sweep = 4ms;
  stats.backend = 5s;  // nobody waits on it
  collector_->SetStats(stats);
  RunNow();
  EXPECT_EQ(scheduler_->interval(), 490ms);
}

TEST_F(SchedulerTest, AnyDeletionSchedulesTheFirstRunWhenThresholdIsZero) {
  Policy p = Immediate();
  p.schedule_delay = 20ms;
  Start(p);
  collector_->Mutate(false);
  EXPECT_EQ(Next(), std::nullopt);
  collector_->Mutate(true);
  EXPECT_EQ(Next(), t0_ + 20ms);
  Advance(20ms);
  EXPECT_EQ(collector_->finished(), 1);
}

TEST_F(SchedulerTest, DeletionAfterARunWaitsForThePauseInterval) {
  Start(Immediate());
  collector_->SetElapsed(10ms);
  RunNow();                                  // ends at t0
  ASSERT_EQ(scheduler_->interval(), 490ms);  // 10ms / 0.02 - 10ms
  Advance(100ms);
  collector_->Mutate(true);
  EXPECT_EQ(Next(), t0_ + 490ms);
  Advance(389ms);
  EXPECT_EQ(collector_->finished(), 1);
  Advance(1ms);
  EXPECT_EQ(collector_->finished(), 2);
}

TEST_F(SchedulerTest, DeletionLongAfterTheIntervalRunsAfterScheduleDelay) {
  Policy p = Immediate();
  p.schedule_delay = 5ms;
  Start(p);
  collector_->SetElapsed(10ms);
  scheduler_->Schedule();
  Advance(5ms);
  ASSERT_EQ(collector_->finished(), 1);
  Advance(1s);
  collector_->Mutate(true);
  EXPECT_EQ(Next(), clock_.Now() + 5ms);
}

TEST_F(SchedulerTest, ReachingTheDeletionThresholdSchedulesAtOnce) {
  Policy p = Immediate();
  p.deletion_threshold = 3;
  p.schedule_delay = 5ms;
  Start(p);
  // Before any run, deletions below the threshold want nothing.
  collector_->Mutate(true);
  collector_->Mutate(true);
  EXPECT_EQ(Next(), std::nullopt);
  collector_->Mutate(true);
  EXPECT_EQ(Next(), t0_ + 5ms);
  collector_->SetElapsed(10ms);
  Advance(5ms);
  ASSERT_EQ(collector_->finished(), 1);
  const TimePoint end = clock_.Now();
  // After a run, one deletion wants a run at the pause interval...
  collector_->Mutate(true);
  EXPECT_EQ(Next(), end + 490ms);
  collector_->Mutate(true);
  EXPECT_EQ(Next(), end + 490ms);
  // ...and the threshold brings it forward to schedule_delay.
  collector_->Mutate(true);
  EXPECT_EQ(Next(), end + 5ms);
  Advance(5ms);
  EXPECT_EQ(collector_->finished(), 2);
}

TEST_F(SchedulerTest, MutationThresholdWantsARun) {
  Policy p = Immediate();
  p.mutation_threshold = 3;
  p.schedule_delay = 1ms;
  Start(p);
  collector_->Mutate(false);
  collector_->Mutate(false);
  EXPECT_EQ(Next(), std::nullopt);
  collector_->SetElapsed(1ms);
  collector_->Mutate(false);
  EXPECT_EQ(Next(), t0_ + 1ms);
  Advance(1ms);
  ASSERT_EQ(collector_->finished(), 1);
  // Counts restart with the run; the next run waits for the interval.
  collector_->Mutate(false);
  collector_->Mutate(false);
  EXPECT_EQ(Next(), std::nullopt);
  collector_->Mutate(false);
  EXPECT_EQ(Next(), t0_ + 1ms + 49ms);
}

TEST_F(SchedulerTest, ZeroMutationThresholdIgnoresMutations) {
  Policy p = Immediate();
  p.mutation_threshold = 0;
  Start(p);
  for (int i = 0; i < 1000; ++i) collector_->Mutate(false);
  EXPECT_EQ(Next(), std::nullopt);
  Advance(1h);
  EXPECT_EQ(collector_->started(), 0);
}

TEST_F(SchedulerTest, WantedRunsDoNotMoveTheStartupRun) {
  Policy p;
  p.schedule_delay = 1ms;
  Start(p);
  collector_->Mutate(true);
  for (int i = 0; i < 200; ++i) collector_->Mutate(false);
  EXPECT_EQ(Next(), t0_ + 100ms);
  scheduler_->Schedule();  // a trigger does
  EXPECT_EQ(Next(), t0_ + 1ms);
}

TEST_F(SchedulerTest, PauseIntervalAveragesSuccessfulRuns) {
  Start(Immediate());
  collector_->SetElapsed(10ms);
  RunNow();
  EXPECT_EQ(scheduler_->interval(), 490ms);
  collector_->SetElapsed(30ms);
  RunNow();
  EXPECT_EQ(scheduler_->interval(), 980ms);  // average 20ms
  collector_->FailNext(Status::Unknown("no"));
  RunNow();
  EXPECT_EQ(scheduler_->interval(), 980ms);  // failures do not count
}

TEST_F(SchedulerTest, PauseThresholdIsClampedToOneHalf) {
  Policy p = Immediate();
  p.pause_threshold = 0.9;
  Start(p);
  EXPECT_EQ(scheduler_->policy().pause_threshold, 0.5);
  collector_->SetElapsed(10ms);
  RunNow();
  EXPECT_EQ(scheduler_->interval(), 10ms);
  collector_->Mutate(true);
  EXPECT_EQ(Next(), t0_ + 10ms);
}

TEST_F(SchedulerTest, ZeroPauseThresholdKeepsAOneSecondInterval) {
  Policy p = Immediate();
  p.pause_threshold = 0;
  Start(p);
  collector_->SetElapsed(10ms);
  RunNow();
  EXPECT_EQ(scheduler_->interval(), 1s);
  collector_->Mutate(true);
  EXPECT_EQ(Next(), t0_ + 1s);
}

TEST(PolicyTest, ClampBringsValuesIntoRange) {
  Policy p;
  p.pause_threshold = -1;
  p.deletion_threshold = -5;
  p.mutation_threshold = -5;
  p.schedule_delay = -1s;
  p.startup_delay = -1s;
  Policy c = Clamp(p);
  EXPECT_EQ(c.pause_threshold, 0.0);
  EXPECT_EQ(c.deletion_threshold, 0);
  EXPECT_EQ(c.mutation_threshold, 0);
  EXPECT_EQ(c.schedule_delay, 0ns);
  EXPECT_EQ(c.startup_delay, 0ns);
  p.pause_threshold = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(Clamp(p).pause_threshold, 0.0);
  p.pause_threshold = 0.5;
  EXPECT_EQ(Clamp(p).pause_threshold, 0.5);
  p.pause_threshold = 0.02;
  EXPECT_EQ(Clamp(p).pause_threshold, 0.02);
}

TEST(PolicyTest, PauseIntervalKeepsRunsWithinTheThreshold) {
  EXPECT_EQ(PauseInterval(10ms, 0.02), 490ms);
  EXPECT_EQ(PauseInterval(10ms, 0.5), 10ms);
  EXPECT_EQ(PauseInterval(0ns, 0.02), 0ns);
}

TEST_F(SchedulerTest, FailedRunRetriesAfterItsGapPlusOneSecond) {
  Start(Policy{});
  collector_->FailNext(Status::Unavailable("disk gone"));
  collector_->FailNext(Status::Unavailable("disk gone"));
  Advance(100ms);  // startup run at t0+100ms fails
  ASSERT_EQ(collector_->finished(), 1);
  // Gap before it: 100ms since Start; retry 100ms + 1s after it ends.
  EXPECT_EQ(Next(), t0_ + 1200ms);
  Advance(1099ms);
  EXPECT_EQ(collector_->finished(), 1);
  Advance(1ms);  // fails again at t0+1.2s; its gap was 1.1s
  ASSERT_EQ(collector_->finished(), 2);
  EXPECT_EQ(Next(), t0_ + 1200ms + 2100ms);
  Advance(2100ms);  // succeeds
  ASSERT_EQ(collector_->finished(), 3);
  EXPECT_EQ(Next(), std::nullopt);

  int warnings = 0;
  for (const auto& [level, line] : log_.lines()) {
    if (level != LogLevel::kWarn) continue;
    ++warnings;
    EXPECT_NE(line.find("garbage collection failed"), std::string::npos) << line;
    EXPECT_NE(line.find("disk gone"), std::string::npos) << line;
  }
  EXPECT_EQ(warnings, 2);
}

TEST_F(SchedulerTest, FailedRunGivesBackItsCounts) {
  Policy p = Immediate();
  p.deletion_threshold = 2;
  p.schedule_delay = 1ms;
  Start(p);
  collector_->Mutate(true);  // one of two
  EXPECT_EQ(Next(), std::nullopt);
  collector_->FailNext(Status::Unknown("no"));
  scheduler_->Schedule();
  Advance(1ms);
  ASSERT_EQ(collector_->finished(), 1);
  ASSERT_EQ(Next(), t0_ + 1ms + 1ms + 1s);  // the retry: gap 1ms, plus 1s
  collector_->Mutate(true);                 // two of two, counting the given-back one
  EXPECT_EQ(Next(), t0_ + 2ms);
}

TEST_F(SchedulerTest, TriggerBringsARetryForward) {
  Start(Immediate());
  collector_->FailNext(Status::Unknown("no"));
  RunNow();
  ASSERT_EQ(Next(), t0_ + 1s);
  for (int i = 0; i < 200; ++i) collector_->Mutate(true);
  EXPECT_EQ(Next(), t0_ + 1s);  // wanted runs wait for the retry
  RunNow();
  EXPECT_EQ(Next(), std::nullopt);
}

TEST_F(SchedulerTest, LogsEachRunAtDebug) {
  Start(Immediate());
  gc::Stats stats;
  stats.mark = 10ms;
  stats.sweep = 1500us;
  stats.backend = 500us;
  stats.content_removed = 2;
  stats.snapshots_removed = 3;
  stats.records_removed = 7;
  collector_->SetStats(stats);
  RunNow();
  auto lines = log_.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].first, LogLevel::kDebug);
  EXPECT_EQ(lines[0].second,
            "garbage collected d=12ms mark=10ms sweep=1.5ms backend=500µs content_removed=2 "
            "ingests_removed=0 snapshots_removed=3 leases_removed=0 records_removed=7");
}

TEST_F(SchedulerTest, TheRunsOwnRemovalsDoNotCount) {
  Start(Immediate());
  collector_->MutateDuringRun(true);
  RunNow();
  EXPECT_EQ(Next(), std::nullopt);
}

TEST_F(SchedulerTest, ChangesDuringARunCountForTheNext) {
  Start(Immediate());
  collector_->SetElapsed(10ms);
  collector_->Hold();
  scheduler_->Schedule();
  ASSERT_TRUE(collector_->AwaitStarted(1));
  collector_->Mutate(true);  // from this thread, while the run is in progress
  collector_->Release();
  Settle();
  ASSERT_EQ(collector_->finished(), 1);
  EXPECT_EQ(Next(), t0_ + 490ms);
}

TEST_F(SchedulerTest, ScheduleAndWaitReturnsTheRunsFigures) {
  Start(Policy{});
  collector_->SetElapsed(7ms);
  auto waiting = std::async(std::launch::async, [&] { return scheduler_->ScheduleAndWait(); });
  ASSERT_EQ(waiting.wait_for(kBound), std::future_status::ready);
  Result<gc::Stats> stats = waiting.get();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->mark, 7ms);
  EXPECT_EQ(collector_->finished(), 1);
}

TEST_F(SchedulerTest, ScheduleAndWaitWaitsForARunThatStartsAfterIt) {
  Start(Immediate());
  collector_->SetElapsed(1ms);
  collector_->Hold();
  scheduler_->Schedule();
  ASSERT_TRUE(collector_->AwaitStarted(1));
  auto waiting = std::async(std::launch::async, [&] { return scheduler_->ScheduleAndWait(); });
  collector_->SetElapsed(2ms);  // what the second run reports
  collector_->Release();
  ASSERT_EQ(waiting.wait_for(kBound), std::future_status::ready);
  Result<gc::Stats> stats = waiting.get();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->mark, 2ms);
  EXPECT_EQ(collector_->started(), 2);
}

TEST_F(SchedulerTest, ScheduleAndWaitReportsAFailedRun) {
  Start(Immediate());
  collector_->FailNext(Status::FailedPrecondition("cannot"));
  Result<gc::Stats> stats = scheduler_->ScheduleAndWait();
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(stats.status().message(), "cannot");
}

TEST_F(SchedulerTest, CloseFailsCallersWaitingForARunAndFinishesTheCurrentOne) {
  Start(Immediate());
  collector_->SetElapsed(3ms);
  collector_->Hold();
  auto in_run = std::async(std::launch::async, [&] { return scheduler_->ScheduleAndWait(); });
  ASSERT_TRUE(collector_->AwaitStarted(1));
  auto pending = std::async(std::launch::async, [&] { return scheduler_->ScheduleAndWait(); });
  // The second caller has registered once its trigger is due.
  const auto until = std::chrono::steady_clock::now() + kBound;
  while (!Next() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  ASSERT_TRUE(Next().has_value());

  auto closing = std::async(std::launch::async, [&] { return scheduler_->Close(); });
  ASSERT_EQ(pending.wait_for(kBound), std::future_status::ready);
  Result<gc::Stats> failed = pending.get();
  EXPECT_EQ(failed.status().code(), Code::kUnavailable);
  EXPECT_NE(closing.wait_for(0s), std::future_status::ready);  // the run holds it

  collector_->Release();
  ASSERT_EQ(closing.wait_for(kBound), std::future_status::ready);
  EXPECT_TRUE(closing.get().ok());
  Result<gc::Stats> done = in_run.get();
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->mark, 3ms);
  EXPECT_EQ(collector_->started(), 1);
}

TEST_F(SchedulerTest, AfterCloseNothingSchedules) {
  Start(Immediate());
  ASSERT_TRUE(scheduler_->Close().ok());
  EXPECT_EQ(scheduler_->ScheduleAndWait().status().code(), Code::kUnavailable);
  scheduler_->Schedule();
  collector_->Mutate(true);
  EXPECT_EQ(Next(), std::nullopt);
  scheduler_.reset();
  collector_->Mutate(true);  // the callback outlives the scheduler harmlessly
  EXPECT_EQ(collector_->started(), 0);
}

// On the real clock: Close interrupts an hour's wait for a triggered run.
TEST(SchedulerSteadyClockTest, CloseStopsTheThreadMidDelay) {
  RecordingLogger log;
  auto collector = std::make_shared<FakeCollector>();
  Policy p;
  p.startup_delay = 0ns;
  p.schedule_delay = 1h;
  std::shared_ptr<Scheduler> scheduler = Scheduler::Start(collector, p, SteadyClock(), log);
  auto waiting = std::async(std::launch::async, [&] { return scheduler->ScheduleAndWait(); });
  // The caller has registered once a run is due.
  const auto until = std::chrono::steady_clock::now() + kBound;
  while (!scheduler->NextRun() && std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
  ASSERT_TRUE(scheduler->NextRun().has_value());
  auto closing = std::async(std::launch::async, [&] { return scheduler->Close(); });
  ASSERT_EQ(closing.wait_for(kBound), std::future_status::ready) << "Close did not return";
  EXPECT_TRUE(closing.get().ok());
  ASSERT_EQ(waiting.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(waiting.get().status().code(), Code::kUnavailable);
  EXPECT_EQ(collector->started(), 0);
}

}  // namespace
}  // namespace berth::gc_scheduler
