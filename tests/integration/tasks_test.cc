// The tasks service and the v2 runtime against a real berthd, driven by the
// stock ctr with the stock shim (Debian's containerd-shim-runc-v2, runtime
// io.containerd.runc.v2, ctr's default): `ctr run --rm ... echo hi`,
// detached tasks with `task ls`, exec, ps, kill and rm, and a detached task
// surviving a SIGKILL of berthd (the restarted daemon reconnects to its shim).
//
// Each test uses its own namespace; TearDown (tasks_fixture.h) kills
// whatever a failed test left before the harness removes the daemon's
// folders.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "tasks_fixture.h"

namespace berth::test {
namespace {

class TasksTest : public TasksFixture {};

TEST_F(TasksTest, RunRmEchoesWithTheStockShim) {
  ids_.push_back("t1");
  CommandResult r = berthd_.Ctr(In({"run", "--rm", kImage, "t1", "echo", "hi"}));
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << "\n" << berthd_.Log();
  EXPECT_EQ(r.out, "hi\n");
  // --rm took the task, the container and the bundle away.
  EXPECT_EQ(TaskStatus("t1"), "");
  EXPECT_EQ(Ctr(In({"containers", "ls", "-q"})), "");
  EXPECT_FALSE(Exists(Bundle("t1")));
}

TEST_F(TasksTest, ExitStatusOfTheInitProcessIsCtrs) {
  ids_.push_back("t-exit");
  CommandResult r = berthd_.Ctr(In({"run", "--rm", kImage, "t-exit", "sh", "-c", "exit 3"}));
  EXPECT_EQ(r.exit_code, 3) << r.Describe() << "\n" << berthd_.Log();
}

TEST_F(TasksTest, DetachedTaskListsExecsPsKillsAndRemoves) {
  RunDetached("t2", {"sleep", "1000"});
  auto tasks = Tasks();
  ASSERT_EQ(tasks.count("t2"), 1u) << berthd_.Log();
  EXPECT_EQ(tasks["t2"].second, "RUNNING");
  EXPECT_NE(tasks["t2"].first, "0");

  // exec: a second process in the task, its output and exit on ctr's side.
  CommandResult exec = berthd_.Ctr(In({"task", "exec", "--exec-id", "e1", "t2", "echo", "in"}));
  EXPECT_EQ(exec.exit_code, 0) << exec.Describe() << "\n" << berthd_.Log();
  EXPECT_EQ(exec.out, "in\n");

  // ps: the init process's pid among the task's.
  std::string ps = Ctr(In({"task", "ps", "t2"}));
  EXPECT_TRUE(Contains(ps, tasks["t2"].first));

  // pause and resume: the task's state follows.
  Ctr(In({"task", "pause", "t2"}));
  EXPECT_EQ(TaskStatus("t2"), "PAUSED");
  Ctr(In({"task", "resume", "t2"}));
  EXPECT_EQ(TaskStatus("t2"), "RUNNING");

  // Errors as containerd's.
  CommandResult again = berthd_.Ctr(In({"run", "-d", kImage, "t2", "true"}));
  EXPECT_NE(again.exit_code, 0);
  EXPECT_TRUE(Contains(again.err, "already exists"));
  CommandResult unknown = berthd_.Ctr(In({"task", "kill", "nope"}));
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_TRUE(Contains(unknown.err, "not found"));
  CommandResult running_rm = berthd_.Ctr(In({"task", "rm", "t2"}));
  EXPECT_NE(running_rm.exit_code, 0);

  Ctr(In({"task", "kill", "t2"}));  // SIGTERM; sleep as pid 1 ignores it
  Ctr(In({"task", "kill", "-s", "SIGKILL", "t2"}));
  ASSERT_TRUE(WaitStatus("t2", "STOPPED"));
  Ctr(In({"task", "rm", "t2"}));
  EXPECT_EQ(TaskStatus("t2"), "");
  EXPECT_FALSE(Exists(Bundle("t2")));
  Ctr(In({"containers", "rm", "t2"}));
}

TEST_F(TasksTest, DetachedTaskSurvivesBerthdSigkill) {
  RunDetached("t3", {"sleep", "1000"});
  auto before = Tasks();
  ASSERT_EQ(before["t3"].second, "RUNNING") << berthd_.Log();

  berthd_.Kill();
  ASSERT_TRUE(berthd_.Start());
  ASSERT_TRUE(berthd_.WaitServing());

  auto after = Tasks();
  ASSERT_EQ(after.count("t3"), 1u) << berthd_.Log();
  EXPECT_EQ(after["t3"], before["t3"]);  // same pid, still RUNNING
  EXPECT_TRUE(Contains(berthd_.Log(), "reconnected to the shim of task " + ns_ + "/t3"));

  Ctr(In({"task", "kill", "-s", "SIGKILL", "t3"}));
  ASSERT_TRUE(WaitStatus("t3", "STOPPED"));
  Ctr(In({"task", "rm", "t3"}));
  Ctr(In({"containers", "rm", "t3"}));
  EXPECT_FALSE(Exists(Bundle("t3")));
}

TEST_F(TasksTest, DeadShimIsCleanedUpOnRestart) {
  RunDetached("t4", {"sleep", "1000"});
  pid_t shim = ParentOf(Tasks()["t4"].first);
  ASSERT_GT(shim, 1);
  berthd_.Kill();
  // The shim dies while berthd is down: the next berthd cleans up after it.
  ASSERT_EQ(kill(shim, SIGKILL), 0);
  RunCommand({"runc", "--root", "/run/containerd/runc/" + ns_, "delete", "-f", "t4"}, "", 30s);
  ASSERT_TRUE(berthd_.Start());
  ASSERT_TRUE(berthd_.WaitServing());
  EXPECT_EQ(TaskStatus("t4"), "");
  EXPECT_FALSE(Exists(Bundle("t4"))) << berthd_.Log();
  EXPECT_TRUE(Contains(berthd_.Log(), "cleaned up the dead shim of task " + ns_ + "/t4"));
  Ctr(In({"containers", "rm", "t4"}));
}

TEST_F(TasksTest, ShimExitWhileServingDropsTheTask) {
  RunDetached("t5", {"sleep", "1000"});
  pid_t shim = ParentOf(Tasks()["t5"].first);
  ASSERT_GT(shim, 1);
  ASSERT_EQ(kill(shim, SIGKILL), 0);
  ASSERT_TRUE(WaitStatus("t5", ""));
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (Exists(Bundle("t5")) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_FALSE(Exists(Bundle("t5"))) << berthd_.Log();
  Ctr(In({"containers", "rm", "t5"}));
}

}  // namespace
}  // namespace berth::test
