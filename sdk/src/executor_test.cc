#include "berth/executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace berth {
namespace {

using std::chrono::seconds;

TEST(ExecutorTest, BlockedWorkDoesNotHoldUpOtherWork) {
  Executor pool(4);
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  int done = 0;
  // Three bodies block until released...
  for (int i = 0; i < 3; ++i) {
    pool.Submit([&] {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return release; });
      ++done;
      cv.notify_all();
    });
  }
  // ...and a fourth still runs meanwhile.
  pool.Submit([&] {
    std::lock_guard lock(mu);
    done += 100;
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, seconds(10), [&] { return done == 100; }));
  release = true;
  cv.notify_all();
  ASSERT_TRUE(cv.wait_for(lock, seconds(10), [&] { return done == 103; }));
}

TEST(ExecutorTest, WorkBeyondTheBoundWaitsItsTurnAndRuns) {
  Executor pool(1);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> order;
  for (int i = 0; i < 5; ++i) {
    pool.Submit([&, i] {
      std::lock_guard lock(mu);
      order.push_back(i);
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, seconds(10), [&] { return order.size() == 5; }));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

}  // namespace
}  // namespace berth

namespace berth {
namespace {

TEST(GuardTest, AnExceptionBecomesUnknownNamingIt) {
  Status s = Guard([]() -> Status { throw std::runtime_error("disk on fire"); });
  EXPECT_EQ(s.code(), Code::kUnknown);
  EXPECT_NE(s.message().find("disk on fire"), std::string::npos);
  Result<int> r = Guard([]() -> Result<int> { throw 42; });
  EXPECT_EQ(r.status().code(), Code::kUnknown);
  EXPECT_EQ(*Guard([]() -> Result<int> { return 7; }), 7);
}

}  // namespace
}  // namespace berth

namespace berth {
namespace {

TEST(ExecutorTest, ASpinningThreadTakesWorkAndStillSleepsWhenIdle) {
  Executor pool(2, std::chrono::microseconds(200));
  std::atomic<int> done{0};
  for (int round = 0; round < 200; ++round) {
    pool.Submit([&] { ++done; });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (done.load() <= round && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    ASSERT_EQ(done.load(), round + 1);
  }
}

}  // namespace
}  // namespace berth
