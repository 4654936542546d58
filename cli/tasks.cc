// `berthctl tasks` (or `task`): the tasks service, as ctr's `tasks`.
//   tasks ls|list [-q]
//   tasks ps ID
//   tasks kill [-s SIGNAL] [-a|--all] [--exec-id EID] ID
//   tasks exec [-t] --exec-id EID ID CMD [ARG...]
//   tasks rm|remove|delete|del [-f] ID
//   tasks metrics ID
// exec runs in the foreground with berthctl's stdio and exits with the
// process's status; its spec is the container's process with CMD as args.
// rm -f kills a running task (SIGKILL to all its processes) first.
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <iostream>
#include <map>

#include "args.h"
#include "command.h"
#include "containerd/services/containers/v1/containers.grpc.pb.h"
#include "oci_spec.h"
#include "snapshot_format.h"
#include "table.h"
#include "task_process.h"

namespace berth::cli {
namespace {

namespace containers_pb = containerd::services::containers::v1;
namespace types_pb = containerd::v1::types;

constexpr char kUsage[] =
    "usage: berthctl tasks COMMAND\n"
    "  ls|list [-q]\n"
    "  ps ID\n"
    "  kill [-s SIGNAL] [-a|--all] [--exec-id EID] ID   (default SIGTERM)\n"
    "  exec [-t] --exec-id EID ID CMD [ARG...]\n"
    "  rm|remove|delete|del [-f] ID\n"
    "  metrics ID\n";

constexpr char kProcessDetailsUrl[] = "containerd.runc.v1.ProcessDetails";

struct Call {
  Client& client;
  std::unique_ptr<tasks_pb::Tasks::Stub> stub;
  std::vector<std::string> words;
  po::variables_map vm;
};

int NeedId(const Call& call) {
  if (call.words.size() != 1 || call.words[0].empty()) {
    return ReportError("container id must be provided\n" + std::string(kUsage));
  }
  return 0;
}

int GetProcess(Call& call, const std::string& id, types_pb::Process* out) {
  tasks_pb::GetRequest req;
  req.set_container_id(id);
  tasks_pb::GetResponse resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->Get(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(call.client, s);
  *out = resp.process();
  return 0;
}

int RunList(Call& call) {
  tasks_pb::ListTasksRequest req;
  tasks_pb::ListTasksResponse resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->List(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(call.client, s);
  if (call.vm["quiet"].as<bool>()) {
    for (const auto& t : resp.tasks()) std::cout << t.id() << "\n";
    return 0;
  }
  Table table;
  table.AddRow({"TASK", "PID", "STATUS"});
  for (const auto& t : resp.tasks()) {
    table.AddRow({t.id(), std::to_string(t.pid()), types_pb::Status_Name(t.status())});
  }
  std::cout << table.Render();
  return 0;
}

// containerd.runc.v1.ProcessDetails{exec_id = 1} as gogo's String() prints
// it (what ctr shows); other infos by their type URL.
std::string InfoText(const google::protobuf::Any& info) {
  const std::string& v = info.value();
  if (info.type_url() == kProcessDetailsUrl) {
    if (v.empty()) return "&ProcessDetails{ExecID:,XXX_unrecognized:[],}";
    if (v.size() >= 2 && v[0] == 0x0a && static_cast<unsigned char>(v[1]) < 0x80 &&
        v.size() == 2u + static_cast<unsigned char>(v[1])) {
      return "&ProcessDetails{ExecID:" + v.substr(2) + ",XXX_unrecognized:[],}";
    }
  }
  return info.type_url();
}

int RunPs(Call& call) {
  if (int rc = NeedId(call); rc != 0) return rc;
  tasks_pb::ListPidsRequest req;
  req.set_container_id(call.words[0]);
  tasks_pb::ListPidsResponse resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->ListPids(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(call.client, s);
  Table table;
  table.AddRow({"PID", "INFO"});
  for (const auto& p : resp.processes()) {
    table.AddRow({std::to_string(p.pid()), p.has_info() ? InfoText(p.info()) : "-"});
  }
  std::cout << table.Render();
  return 0;
}

int RunKill(Call& call) {
  if (int rc = NeedId(call); rc != 0) return rc;
  const std::string name = call.vm["signal"].as<std::string>();
  const int sig = ParseSignal(name);
  if (sig == 0) return ReportError("unknown signal \"" + name + "\"");
  tasks_pb::KillRequest req;
  req.set_container_id(call.words[0]);
  if (call.vm.count("exec-id")) req.set_exec_id(call.vm["exec-id"].as<std::string>());
  req.set_signal(static_cast<std::uint32_t>(sig));
  req.set_all(call.vm["all"].as<bool>());
  google::protobuf::Empty resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->Kill(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(call.client, s);
  return 0;
}

int RunRemove(Call& call) {
  if (int rc = NeedId(call); rc != 0) return rc;
  const std::string& id = call.words[0];
  types_pb::Process process;
  if (int rc = GetProcess(call, id, &process); rc != 0) return rc;
  const bool stopped =
      process.status() == types_pb::STOPPED || process.status() == types_pb::CREATED;
  if (!stopped) {
    if (!call.vm["force"].as<bool>()) {
      std::string status = types_pb::Status_Name(process.status());
      for (char& ch : status) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return ReportError("task must be stopped before deletion: " + status +
                         ": failed precondition");
    }
    // containerd.WithProcessKill: SIGKILL to every process, then the exit.
    tasks_pb::KillRequest kill;
    kill.set_container_id(id);
    kill.set_signal(SIGKILL);
    kill.set_all(true);
    google::protobuf::Empty empty;
    auto kill_ctx = call.client.NewCallContext();
    grpc::Status s = call.stub->Kill(kill_ctx.get(), kill, &empty);
    if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) {
      return ReportCallError(call.client, s);
    }
    tasks_pb::WaitRequest wait;
    wait.set_container_id(id);
    tasks_pb::WaitResponse waited;
    auto wait_ctx = call.client.NewCallContext();
    s = call.stub->Wait(wait_ctx.get(), wait, &waited);
    if (!s.ok()) return ReportCallError(call.client, s);
  }
  return DeleteTask(call.client, *call.stub, id);
}

int RunMetrics(Call& call) {
  if (int rc = NeedId(call); rc != 0) return rc;
  const std::string& id = call.words[0];
  tasks_pb::MetricsRequest req;
  req.add_filters("id==" + id);
  tasks_pb::MetricsResponse resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->Metrics(ctx.get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    return ReportError("metrics of task " + id + ": the task's runtime reports none (" +
                       s.error_message() + "): not implemented");
  }
  if (!s.ok()) return ReportCallError(call.client, s);
  if (resp.metrics().empty()) return ReportError("no metrics received for task " + id);
  Table table;
  table.AddRow({"ID", "TIMESTAMP", "TYPE", "SIZE"});
  for (const auto& m : resp.metrics()) {
    std::string stamp = JsonTime(m.timestamp().seconds(), m.timestamp().nanos());
    if (stamp.size() >= 2 && stamp.front() == '"') stamp = stamp.substr(1, stamp.size() - 2);
    table.AddRow({m.id(), stamp, m.data().type_url(), std::to_string(m.data().value().size())});
  }
  std::cout << table.Render();
  return 0;
}

// `exec` parses its own words: the options end at the container id, the
// rest is the command.
int RunExec(Client& client, const std::vector<std::string>& args) {
  const std::size_t first = FirstWord(args, {"--exec-id"});
  std::vector<std::string> flags(args.begin(), args.begin() + first);
  if (!flags.empty() && flags.back() == "--") flags.pop_back();
  po::options_description options("tasks exec");
  // clang-format off
  options.add_options()
      ("tty,t", po::bool_switch())
      ("exec-id", po::value<std::string>());
  // clang-format on
  auto vm = ParseArgs(flags, options);
  if (!vm.ok()) return ReportError(vm.status().message() + "\n" + kUsage);
  std::vector<std::string> words(args.begin() + first, args.end());
  if (words.size() < 2 || words[0].empty()) {
    return ReportError("container id and a command must be provided\n" + std::string(kUsage));
  }
  if (!vm->count("exec-id") || (*vm)["exec-id"].as<std::string>().empty()) {
    return ReportError("exec-id must be provided");
  }
  const std::string id = words[0];
  const std::string exec_id = (*vm)["exec-id"].as<std::string>();
  const bool tty = (*vm)["tty"].as<bool>();
  BlockTaskSignals();  // before gRPC starts its threads

  auto containers = containers_pb::Containers::NewStub(client.channel());
  containers_pb::GetContainerRequest get;
  get.set_id(id);
  containers_pb::GetContainerResponse got;
  auto get_ctx = client.NewCallContext();
  grpc::Status s = containers->Get(get_ctx.get(), get, &got);
  if (!s.ok()) return ReportCallError(client, s);
  nlohmann::json spec =
      nlohmann::json::parse(got.container().spec().value(), nullptr, /*allow_exceptions=*/false);
  if (!spec.is_object() || !spec.contains("process") || !spec["process"].is_object()) {
    return ReportError("container " + id + " has no JSON spec with a process");
  }
  nlohmann::json process = spec["process"];
  process["args"] = std::vector<std::string>(words.begin() + 1, words.end());
  process["terminal"] = tty;

  auto made = TaskIo::Create(exec_id, tty);
  if (!made.ok()) return ReportError(made.status().message());
  std::unique_ptr<TaskIo> io = std::move(*made);
  io->StartOutput();
  RawTerminal raw(tty ? STDIN_FILENO : -1);
  auto tasks = tasks_pb::Tasks::NewStub(client.channel());
  tasks_pb::ExecProcessRequest req;
  req.set_container_id(id);
  req.set_exec_id(exec_id);
  req.set_stdin(io->stdin_path());
  req.set_stdout(io->stdout_path());
  req.set_stderr(io->stderr_path());
  req.set_terminal(tty);
  req.mutable_spec()->set_type_url(kProcessTypeUrl);
  req.mutable_spec()->set_value(process.dump());
  google::protobuf::Empty empty;
  auto exec_ctx = client.NewCallContext();
  s = tasks->Exec(exec_ctx.get(), req, &empty);
  if (!s.ok()) return ReportCallError(client, s);
  std::uint32_t exit_status = 0;
  int rc = StartAndWait(client, *tasks, id, exec_id, *io, &exit_status);
  tasks_pb::DeleteProcessRequest del;
  del.set_container_id(id);
  del.set_exec_id(exec_id);
  tasks_pb::DeleteResponse deleted;
  auto del_ctx = client.NewCallContext();
  grpc::Status ds = tasks->DeleteProcess(del_ctx.get(), del, &deleted);
  if (rc != 0) return rc;
  if (!ds.ok()) return ReportCallError(client, ds);
  return static_cast<int>(exit_status);
}

using VerbFn = int (*)(Call&);

VerbFn FindVerb(const std::string& verb) {
  static const std::map<std::string, VerbFn> verbs = {
      {"ls", RunList},       {"list", RunList},     {"ps", RunPs},
      {"kill", RunKill},     {"rm", RunRemove},     {"remove", RunRemove},
      {"delete", RunRemove}, {"del", RunRemove},    {"metrics", RunMetrics},
  };
  auto it = verbs.find(verb);
  return it == verbs.end() ? nullptr : it->second;
}

int RunTasks(Client& client, const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? 1 : 0;
  }
  if (args[0] == "exec") return RunExec(client, {args.begin() + 1, args.end()});
  const VerbFn verb = FindVerb(args[0]);
  if (verb == nullptr) {
    return ReportError("tasks: unknown command \"" + args[0] + "\"\n" + kUsage);
  }
  po::options_description options("tasks " + args[0]);
  // clang-format off
  options.add_options()
      ("quiet,q", po::bool_switch(), "print only the ids")
      ("signal,s", po::value<std::string>()->default_value("SIGTERM"), "signal to send")
      ("all,a", po::bool_switch(), "send the signal to every process of the task")
      ("exec-id", po::value<std::string>(), "the process to signal")
      ("force,f", po::bool_switch(), "kill a running task first")
      ("word", po::value<std::vector<std::string>>(), "arguments");
  // clang-format on
  auto vm = ParseArgs(std::vector<std::string>(args.begin() + 1, args.end()), options, "word");
  if (!vm.ok()) return ReportError(vm.status().message() + "\n" + kUsage);
  Call call{client, tasks_pb::Tasks::NewStub(client.channel()), Words(*vm, "word"),
            std::move(*vm)};
  return verb(call);
}

}  // namespace

CommandGroup TasksGroup() {
  return {"tasks", "manage tasks (ls, ps, kill, exec, rm, metrics)", RunTasks};
}

CommandGroup TaskGroup() {
  return {"task", "alias of tasks", RunTasks};
}

}  // namespace berth::cli
