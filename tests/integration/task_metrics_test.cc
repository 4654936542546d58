// Tasks.Metrics against a real berthd: `ctr tasks metrics ID` (the stock ctr)
// shows the cgroup figures of a running busybox task, with berth's
// containerd-shim-berth-v2 and with the stock containerd-shim-runc-v2, and
// the call's filters (containerd's syntax over id and namespace) pick the
// tasks sampled.
//
// Each test uses its own namespace; TearDown (tasks_fixture.h) kills
// whatever a failed test left.
#include <gtest/gtest.h>
#include <sys/vfs.h>

#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "containerd/services/tasks/v1/tasks.grpc.pb.h"
#include "tasks_fixture.h"

namespace berth::test {
namespace {

namespace tpb = containerd::services::tasks::v1;

// Whether this host runs the unified cgroup hierarchy (cgroup v2 only).
bool UnifiedCgroups() {
  struct statfs fs {};
  return statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == 0x63677270;
}

// ctr's metrics table ("NAME  VALUE" lines) as name → value.
std::map<std::string, std::string> MetricsTable(const std::string& out) {
  std::map<std::string, std::string> table;
  for (const std::string& line : OutputLines(out)) {
    std::istringstream fields(line);
    std::string name, value;
    fields >> name;
    std::getline(fields >> std::ws, value);
    while (!value.empty() && value.back() == ' ') value.pop_back();
    table[name] = value;
  }
  return table;
}

std::uint64_t Number(const std::map<std::string, std::string>& table, const std::string& name) {
  auto it = table.find(name);
  if (it == table.end() || it->second.empty() ||
      it->second.find_first_not_of("0123456789") != std::string::npos) {
    ADD_FAILURE() << name << " is no number in the table";
    return 0;
  }
  return std::stoull(it->second);
}

class TaskMetricsTest : public TasksFixture {
 protected:
  // `ctr tasks metrics` of a running task on `runtime` shows its figures,
  // the lines ctr prints against containerd.
  void ExpectCtrShowsFigures(const std::string& runtime);

  // Tasks.Metrics with `filters`, in the test's namespace.
  grpc::Status Metrics(const std::vector<std::string>& filters, tpb::MetricsResponse* resp) {
    tpb::MetricsRequest req;
    for (const std::string& f : filters) req.add_filters(f);
    return tpb::Tasks::NewStub(ChannelTo(berthd_))->Metrics(NamespaceContext(ns_).get(), req, resp);
  }
};

void TaskMetricsTest::ExpectCtrShowsFigures(const std::string& runtime) {
  RunDetached("m1", {"sleep", "1000"}, {"--runtime", runtime});
  ASSERT_TRUE(WaitStatus("m1", "RUNNING"));

  CommandResult r = berthd_.Ctr(In({"tasks", "metrics", "m1"}));
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << "\n" << berthd_.Log();
  auto table = MetricsTable(r.out);
  EXPECT_EQ(table.count("ID"), 1u) << r.out;
  EXPECT_EQ(table.count("m1"), 1u) << r.out;  // the task's line, with its timestamp
  EXPECT_EQ(table.count("METRIC"), 1u) << r.out;
  if (UnifiedCgroups()) {
    EXPECT_GT(Number(table, "memory.usage"), 0u) << r.out;
    EXPECT_EQ(table.count("cpu.usage_usec"), 1u) << r.out;
  } else {
    EXPECT_GT(Number(table, "memory.usage_in_bytes"), 0u) << r.out;
    EXPECT_GT(Number(table, "memory.limit_in_bytes"), 0u) << r.out;
    EXPECT_EQ(table.count("memory.stat.cache"), 1u) << r.out;
    EXPECT_EQ(table.count("cpuacct.usage"), 1u) << r.out;
    EXPECT_EQ(table.count("cpuacct.usage_percpu"), 1u) << r.out;
  }
  EXPECT_GE(Number(table, "pids.current"), 1u) << r.out;
  EXPECT_EQ(table.count("pids.limit"), 1u) << r.out;

  // The JSON form carries the whole message.
  CommandResult json = berthd_.Ctr(In({"tasks", "metrics", "--format", "json", "m1"}));
  ASSERT_EQ(json.exit_code, 0) << json.Describe() << "\n" << berthd_.Log();
  EXPECT_TRUE(Contains(json.out, "\"memory\"")) << json.out;
  EXPECT_TRUE(Contains(json.out, "\"pids\"")) << json.out;

  // A stopped task that is not deleted keeps its cgroup, and its figures.
  CommandResult kill = berthd_.Ctr(In({"tasks", "kill", "-s", "SIGKILL", "m1"}));
  ASSERT_EQ(kill.exit_code, 0) << kill.Describe();
  ASSERT_TRUE(WaitStatus("m1", "STOPPED"));
  CommandResult after = berthd_.Ctr(In({"tasks", "metrics", "m1"}));
  ASSERT_EQ(after.exit_code, 0) << after.Describe() << "\n" << berthd_.Log();
  EXPECT_EQ(MetricsTable(after.out).count("pids.current"), 1u) << after.out;
}

TEST_F(TaskMetricsTest, CtrShowsTheFiguresOfATaskOnTheBerthShim) {
  ExpectCtrShowsFigures(kBerthRuntime);
}

TEST_F(TaskMetricsTest, CtrShowsTheFiguresOfATaskOnTheStockShim) {
  ExpectCtrShowsFigures(kStockRuntime);
}

TEST_F(TaskMetricsTest, FiltersPickTheTasksSampled) {
  RunDetached("f1", {"sleep", "1000"}, {"--runtime", kBerthRuntime});
  RunDetached("f2", {"sleep", "1000"}, {"--runtime", kStockRuntime});
  ASSERT_TRUE(WaitStatus("f1", "RUNNING"));
  ASSERT_TRUE(WaitStatus("f2", "RUNNING"));
  const std::string type = UnifiedCgroups() ? "io.containerd.cgroups.v2.Metrics"
                                            : "io.containerd.cgroups.v1.Metrics";

  auto ids = [&](const std::vector<std::string>& filters) {
    tpb::MetricsResponse resp;
    grpc::Status s = Metrics(filters, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message() << "\n" << berthd_.Log();
    std::vector<std::string> out;
    for (const auto& m : resp.metrics()) {
      out.push_back(m.id());
      EXPECT_EQ(m.data().type_url(), type);
      EXPECT_FALSE(m.data().value().empty());
      EXPECT_GT(m.timestamp().seconds(), 0);
    }
    return out;
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(ids({}), (Ids{"f1", "f2"}));
  EXPECT_EQ(ids({"id==f1"}), (Ids{"f1"}));
  EXPECT_EQ(ids({"id==f2"}), (Ids{"f2"}));
  EXPECT_EQ(ids({"id==f1", "id==f2"}), (Ids{"f1", "f2"}));  // OR'd
  EXPECT_EQ(ids({"namespace==" + ns_ + ",id!=f1"}), (Ids{"f2"}));  // AND'd
  EXPECT_EQ(ids({"id~=^f"}), (Ids{"f1", "f2"}));
  EXPECT_EQ(ids({"id==nope"}), Ids{});
  EXPECT_EQ(ids({"namespace==other"}), Ids{});

  tpb::MetricsResponse resp;
  EXPECT_EQ(Metrics({"id=="}, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace berth::test
