// berthd killed (SIGKILL) under ten running tasks, on each shim (the stock
// containerd-shim-runc-v2 and berth's containerd-shim-berth-v2): every shim
// and container lives on, re-parented away from the dead daemon; the
// restarted daemon lists the tasks with the same pids, RUNNING, and Wait,
// kill, exec and delete work on them with the right exit codes. A shim
// killed while berthd is down is cleaned up by the restart: its container
// killed, its bundle removed, the repair logged.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "containerd/services/tasks/v1/tasks.grpc.pb.h"
#include "tasks_fixture.h"

namespace berth::test {
namespace {

namespace tpb = containerd::services::tasks::v1;

enum class Shim { kStock, kBerth };

class TasksRestartTest : public TasksFixture, public ::testing::WithParamInterface<Shim> {
 protected:
  void SetUp() override {
    if (GetParam() == Shim::kBerth && !Exists(BerthShimPath())) {
      GTEST_SKIP() << BerthShimPath() << " is not built";
    }
    TasksFixture::SetUp();
  }
  static std::string BerthShimPath() {
    return (std::filesystem::path(BerthdPath()).parent_path() / "containerd-shim-berth-v2")
        .string();
  }
  std::vector<std::string> RuntimeFlags() const {
    return {"--runtime", GetParam() == Shim::kStock ? kStockRuntime : kBerthRuntime};
  }
};

constexpr int kTasks = 10;
// pid 1 of each container: exits 7 on SIGTERM, 137 on SIGKILL.
const std::vector<std::string> kSleeper = {"sh", "-c", "trap 'exit 7' TERM; sleep 1000 & wait"};

TEST_P(TasksRestartTest, TenTasksSurviveASigkilledBerthd) {
  std::vector<std::string> ids;
  for (int i = 0; i < kTasks; ++i) {
    ids.push_back("r" + std::to_string(i));
    RunDetached(ids.back(), kSleeper, RuntimeFlags());
  }
  auto before = Tasks();
  std::map<std::string, pid_t> shims;
  const pid_t old_berthd = berthd_.pid();
  for (const std::string& id : ids) {
    ASSERT_EQ(before[id].second, "RUNNING") << id << "\n" << berthd_.Log();
    pid_t shim = ParentOf(before[id].first);
    ASSERT_GT(shim, 1) << id;
    // The shim daemon is not berthd's child (its `start` forked it off).
    EXPECT_NE(ParentOf(std::to_string(shim)), old_berthd) << id;
    EXPECT_EQ(ShimsOf(ns_, id), std::vector<pid_t>{shim}) << id;
    shims[id] = shim;
  }

  berthd_.Kill();
  for (const std::string& id : ids) {
    EXPECT_TRUE(Alive(shims[id])) << "shim of " << id;
    EXPECT_NE(ParentOf(std::to_string(shims[id])), old_berthd) << id;
    EXPECT_TRUE(Alive(std::stoi(before[id].first))) << "container " << id;
  }
  // The last shim dies while berthd is down; its container outlives it.
  const std::string dead = ids.back();
  const pid_t dead_init = std::stoi(before[dead].first);
  ASSERT_EQ(kill(shims[dead], SIGKILL), 0);
  ASSERT_TRUE(Eventually([&] { return !Alive(shims[dead]); }, 10s));

  ASSERT_TRUE(berthd_.Start());
  ASSERT_TRUE(berthd_.WaitServing());

  // The dead shim's task: gone, its container killed by the clean-up
  // (`<shim> delete` runs the runtime's delete --force), its bundle removed.
  auto after = Tasks();
  EXPECT_EQ(after.count(dead), 0u) << berthd_.Log();
  EXPECT_TRUE(Contains(berthd_.Log(), "cleaned up the dead shim of task " + ns_ + "/" + dead));
  EXPECT_TRUE(Eventually([&] { return !Alive(dead_init); }, 10s))
      << "container of " << dead << " still running\n" << berthd_.Log();
  EXPECT_TRUE(NothingLeftOf(dead));
  Ctr(In({"containers", "rm", dead}));

  // The others: as they were, reconnected.
  for (int i = 0; i + 1 < kTasks; ++i) {
    const std::string& id = ids[i];
    EXPECT_EQ(after[id], before[id]) << id;
    EXPECT_TRUE(Contains(berthd_.Log(), "reconnected to the shim of task " + ns_ + "/" + id));
  }

  // Wait (a client's, over gRPC) on a reconnected task ends with its exit.
  auto tasks = tpb::Tasks::NewStub(ChannelTo(berthd_));
  grpc::Status waited;
  tpb::WaitResponse wait_resp;
  std::thread waiter([&] {
    tpb::WaitRequest req;
    req.set_container_id("r0");
    waited = tasks->Wait(NamespaceContext(ns_).get(), req, &wait_resp);
  });
  // The Wait is in place once berthd has taken the call; a kill before
  // that would still be seen (Wait on a stopped task answers at once).
  Ctr(In({"task", "kill", "r0"}));  // SIGTERM: exit 7
  waiter.join();
  EXPECT_TRUE(waited.ok()) << waited.error_message();
  EXPECT_EQ(wait_resp.exit_status(), 7u);
  ASSERT_TRUE(WaitStatus("r0", "STOPPED"));
  CommandResult rm = berthd_.Ctr(In({"task", "rm", "r0"}));
  EXPECT_EQ(rm.exit_code, 0) << rm.Describe();
  EXPECT_TRUE(Contains(rm.err, "task r0 exit with non-zero exit code 7"));
  EXPECT_TRUE(NothingLeftOf("r0"));

  // SIGKILL: 137.
  Ctr(In({"task", "kill", "-s", "SIGKILL", "r1"}));
  ASSERT_TRUE(WaitStatus("r1", "STOPPED"));
  tpb::GetRequest get;
  get.set_container_id("r1");
  tpb::GetResponse got;
  grpc::Status got_status = tasks->Get(NamespaceContext(ns_).get(), get, &got);
  ASSERT_TRUE(got_status.ok()) << got_status.error_message();
  EXPECT_EQ(got.process().exit_status(), 137u);
  // Kill of an exited task, after the restart as before.
  CommandResult kill_exited = berthd_.Ctr(In({"task", "kill", "r1"}));
  EXPECT_NE(kill_exited.exit_code, 0);
  EXPECT_TRUE(Contains(kill_exited.err, "ctr: process already finished: not found"));
  rm = berthd_.Ctr(In({"task", "rm", "r1"}));
  EXPECT_TRUE(Contains(rm.err, "task r1 exit with non-zero exit code 137"));

  // exec in a reconnected task: output and exit codes.
  CommandResult exec = berthd_.Ctr(In({"task", "exec", "--exec-id", "e1", "r2", "echo", "in"}));
  EXPECT_EQ(exec.exit_code, 0) << exec.Describe() << "\n" << berthd_.Log();
  EXPECT_EQ(exec.out, "in\n");
  exec = berthd_.Ctr(In({"task", "exec", "--exec-id", "e7", "r2", "sh", "-c", "exit 7"}));
  EXPECT_EQ(exec.exit_code, 7) << exec.Describe();

  // The rest still run, each with its own shim.
  auto last = Tasks();
  for (int i = 2; i + 1 < kTasks; ++i) {
    EXPECT_EQ(last[ids[i]], before[ids[i]]) << ids[i];
    EXPECT_TRUE(Alive(shims[ids[i]])) << ids[i];
  }
}

INSTANTIATE_TEST_SUITE_P(Shims, TasksRestartTest, ::testing::Values(Shim::kStock, Shim::kBerth),
                         [](const ::testing::TestParamInfo<Shim>& info) {
                           return info.param == Shim::kStock ? "StockShim" : "BerthShim";
                         });

}  // namespace
}  // namespace berth::test
