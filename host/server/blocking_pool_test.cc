#include "server/blocking_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace berth::host {
namespace {

using std::chrono::seconds;

TEST(BlockingPoolTest, BlockedWorkDoesNotHoldUpOtherWork) {
  BlockingPool pool(4);
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

TEST(BlockingPoolTest, WorkBeyondTheBoundWaitsItsTurnAndRuns) {
  BlockingPool pool(1);
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
}  // namespace berth::host
