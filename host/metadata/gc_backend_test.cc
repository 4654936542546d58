// A backend that hangs (a proxy whose peer does not answer) or fails during a
// collection's backend phase holds up only itself.
#include "metadata/gc_backend.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "metadata/test_env.h"

namespace berth::host::metadata {
namespace {

using namespace std::chrono_literals;

// Opened once; everything waiting on it goes on.
class Gate {
 public:
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    ++waiters_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  // Waits (bounded) until someone waits at the gate.
  bool WaitForWaiter(std::chrono::milliseconds bound) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, bound, [&] { return waiters_ > 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int waiters_ = 0;
};

// A snapshotter whose peer is gone: Walk hangs until the gate opens, then
// fails, as a proxy's call would once its deadline passes.
class UnreachableSnapshotter final : public Snapshotter {
 public:
  explicit UnreachableSnapshotter(Gate* gate) : gate_(gate) {}
  Result<snapshots::Info> Stat(const std::string&) override { return Gone(); }
  Result<snapshots::Info> Update(const snapshots::Info&, const std::vector<std::string>&) override {
    return Gone();
  }
  Result<snapshots::Usage> Usage(const std::string&) override { return Gone(); }
  Result<std::vector<Mount>> Mounts(const std::string&) override { return Gone(); }
  Result<std::vector<Mount>> Prepare(const std::string&, const std::string&,
                                     const snapshots::Labels&) override {
    return Gone();
  }
  Result<std::vector<Mount>> View(const std::string&, const std::string&,
                                  const snapshots::Labels&) override {
    return Gone();
  }
  Status Commit(const std::string&, const std::string&, const snapshots::Labels&) override {
    return Gone();
  }
  Status Remove(const std::string&) override { return Gone(); }
  Status Walk(const snapshots::WalkFn&, const std::vector<std::string>&) override {
    gate_->Wait();
    return Gone();
  }

 private:
  static Status Gone() { return Status::Unavailable("peer does not answer"); }
  Gate* gate_;
};

class GcBackendTest : public ::testing::Test {
 protected:
  // The gate opens before the environment (and its running jobs) goes.
  ~GcBackendTest() override { gate_.Open(); }
  void SetUp() override {
    ASSERT_TRUE(env_.ok()) << env_.failure();
    env_.md().AddSnapshotter("remote", std::make_shared<UnreachableSnapshotter>(&gate_));
    env_.md().set_backend_wait(300ms);
  }

  Gate gate_;
  testing::MetadataTestEnv env_;
};

TEST_F(GcBackendTest, HungBackendDelaysOnlyItself) {
  const std::string orphan = env_.Put("ns", "orphan");
  ASSERT_TRUE(env_.overlay().Prepare("ns", "loose", "", {}).ok());

  const auto start = std::chrono::steady_clock::now();
  gc::Stats stats = env_.Collect();  // the first run visits every backend
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(stats.content_removed, 1);
  EXPECT_EQ(stats.snapshots_removed, 1);
  EXPECT_EQ(stats.backends_pending, 1);
  EXPECT_LT(took, 10s);
  EXPECT_FALSE(env_.BlobOnDisk(orphan));
  ASSERT_TRUE(gate_.WaitForWaiter(10s));

  // While it hangs, later runs skip it and still serve the others.
  const std::string second = env_.Put("ns", "second");
  stats = env_.Collect();
  EXPECT_EQ(stats.content_removed, 1);
  EXPECT_EQ(stats.backends_pending, 1);
  EXPECT_FALSE(env_.BlobOnDisk(second));

  // Once it answers (with an error), its failure is reported and it is
  // tried again next time.
  gate_.Open();
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  do {
    stats = env_.Collect();
  } while (stats.backends_pending > 0 && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(stats.backends_pending, 0);
  stats = env_.Collect();
  EXPECT_EQ(stats.backend_errors, 1);
  stats = env_.Collect();
  EXPECT_EQ(stats.backend_errors, 1) << "a failed backend stays dirty";
  EXPECT_EQ(stats.backends_pending, 0);
}

TEST(GcBackendRunnerTest, RunsJobsSideBySideAndSumsThem) {
  GcBackendRunner runner;
  std::map<std::string, GcBackendRunner::Job> jobs;
  jobs["a"] = [] {
    GcBackendRunner::Outcome o;
    o.blobs = 2;
    return o;
  };
  jobs["b"] = [] {
    GcBackendRunner::Outcome o;
    o.snapshots = 3;
    o.errors = 1;
    o.status = Status::Unknown("boom");
    return o;
  };
  auto summary = runner.Run(jobs, 10s);
  EXPECT_EQ(summary.total.blobs, 2);
  EXPECT_EQ(summary.total.snapshots, 3);
  EXPECT_EQ(summary.total.errors, 1);
  EXPECT_EQ(summary.failed, std::vector<std::string>{"b"});
  EXPECT_TRUE(summary.pending.empty());
  runner.Stop();
  EXPECT_EQ(runner.Run(jobs, 10s).total.blobs, 0) << "no job starts after Stop";
}

}  // namespace
}  // namespace berth::host::metadata
