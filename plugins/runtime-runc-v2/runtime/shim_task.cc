#include "shim_task.h"

#include <utility>

#include "berth/ttrpc/metadata.h"
#include "task_wire.pb.h"

namespace berth::runtime_v2 {
namespace {

namespace wire = berth::task::wire;
using std::chrono::milliseconds;

// State reads and signals answer at once; creating, starting and deleting
// run runc and may take a while on a loaded machine.
constexpr milliseconds kShort{10000};
constexpr milliseconds kLong{60000};
constexpr milliseconds kShutdown{3000};

Timestamp FromWire(const wire::Timestamp& t) {
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(
      std::chrono::seconds(t.seconds()) + std::chrono::nanoseconds(t.nanos())));
}

void ToWire(const Any& a, wire::Any* out) {
  out->set_type_url(a.type_url);
  out->set_value(a.value);
}

ProcessStatus StatusOf(wire::Status s) {
  switch (s) {
    case wire::CREATED:
      return ProcessStatus::kCreated;
    case wire::RUNNING:
      return ProcessStatus::kRunning;
    case wire::STOPPED:
      return ProcessStatus::kStopped;
    case wire::PAUSED:
      return ProcessStatus::kPaused;
    case wire::PAUSING:
      return ProcessStatus::kPausing;
    default:
      return ProcessStatus::kUnknown;
  }
}

}  // namespace

ShimTask::ShimTask(Bundle bundle, std::string shim_binary, std::shared_ptr<ShimMonitor> monitor,
                   std::unique_ptr<ttrpc::Client> client)
    : bundle_(std::move(bundle)),
      shim_binary_(std::move(shim_binary)),
      monitor_(std::move(monitor)),
      client_(std::move(client)) {}

ShimTask::~ShimTask() { Close(); }

ttrpc::CallOptions ShimTask::Options(milliseconds timeout) const {
  ttrpc::CallOptions o;
  o.metadata.emplace(std::string(ttrpc::kNamespaceKey), bundle_.ns);
  o.timeout = timeout;
  return o;
}

template <typename Resp>
Result<Resp> ShimTask::Call(const char* method, const google::protobuf::MessageLite& req,
                            milliseconds timeout) {
  return client_->Call<Resp>(kTaskService, method, req, Options(timeout));
}

Status ShimTask::CallEmpty(const char* method, const google::protobuf::MessageLite& req,
                           milliseconds timeout) {
  return Call<wire::Empty>(method, req, timeout).status();
}

Result<std::uint32_t> ShimTask::CreateInShim(const TaskCreateOptions& options,
                                             const Any& task_options) {
  wire::CreateTaskRequest req;
  req.set_id(bundle_.id);
  req.set_bundle(bundle_.path);
  for (const Mount& m : options.rootfs) {
    wire::Mount* w = req.add_rootfs();
    w->set_type(m.type);
    w->set_source(m.source);
    for (const std::string& o : m.options) w->add_options(o);
  }
  req.set_terminal(options.io.terminal);
  req.set_stdin(options.io.stdin_path);
  req.set_stdout(options.io.stdout_path);
  req.set_stderr(options.io.stderr_path);
  if (!task_options.empty()) ToWire(task_options, req.mutable_options());
  auto resp = Call<wire::CreateTaskResponse>("Create", req, kLong);
  if (!resp.ok()) return resp.status();
  return resp->pid();
}

Result<ShimInfo> ShimTask::Connect(milliseconds timeout) {
  wire::ConnectRequest req;
  req.set_id(bundle_.id);
  auto resp = Call<wire::ConnectResponse>("Connect", req, timeout);
  if (!resp.ok()) return resp.status();
  return ShimInfo{static_cast<pid_t>(resp->shim_pid()), resp->task_pid()};
}

Result<ProcessExit> ShimTask::DeleteInit() { return DeleteProcess(""); }

void ShimTask::Shutdown() {
  wire::ShutdownRequest req;
  req.set_id(bundle_.id);
  (void)CallEmpty("Shutdown", req, kShutdown);  // the shim may close before answering
}

void ShimTask::Watch(int log_fd, int pidfd, std::function<void()> on_exit) {
  watch_ = monitor_->Watch(bundle_.ns + "/" + bundle_.id, log_fd, pidfd, std::move(on_exit));
}

void ShimTask::Close() {
  client_->Close();
  std::uint64_t w = watch_.exchange(0);
  if (w != 0) monitor_->Unwatch(w);
}

Result<std::uint32_t> ShimTask::Start(std::string_view exec_id) {
  wire::StartRequest req;
  req.set_id(bundle_.id);
  req.set_exec_id(std::string(exec_id));
  auto resp = Call<wire::StartResponse>("Start", req, kLong);
  if (!resp.ok()) return resp.status();
  return resp->pid();
}

Result<ProcessState> ShimTask::State(std::string_view exec_id) {
  wire::StateRequest req;
  req.set_id(bundle_.id);
  req.set_exec_id(std::string(exec_id));
  auto resp = Call<wire::StateResponse>("State", req, kShort);
  if (!resp.ok()) return resp.status();
  ProcessState s;
  s.id = exec_id.empty() ? bundle_.id : std::string(exec_id);
  s.pid = resp->pid();
  s.status = StatusOf(resp->status());
  s.io = {resp->stdin(), resp->stdout(), resp->stderr(), resp->terminal()};
  s.exit_status = resp->exit_status();
  if (resp->has_exited_at()) s.exited_at = FromWire(resp->exited_at());
  return s;
}

Status ShimTask::Kill(std::string_view exec_id, std::uint32_t signal, bool all) {
  wire::KillRequest req;
  req.set_id(bundle_.id);
  req.set_exec_id(std::string(exec_id));
  req.set_signal(signal);
  req.set_all(all);
  return CallEmpty("Kill", req, kShort);
}

void ShimTask::Wait(std::string_view exec_id, WaitCallback done) {
  wire::WaitRequest req;
  req.set_id(bundle_.id);
  req.set_exec_id(std::string(exec_id));
  client_->CallAsync(kTaskService, "Wait", req.SerializeAsString(), Options(milliseconds{0}),
                     [done = std::move(done)](Result<std::string> raw) {
                       if (!raw.ok()) return done(raw.status());
                       wire::WaitResponse resp;
                       if (!resp.ParseFromString(*raw)) {
                         return done(Status::InvalidArgument("ttrpc: cannot parse Wait answer"));
                       }
                       ProcessExit e;
                       e.exit_status = resp.exit_status();
                       if (resp.has_exited_at()) e.exited_at = FromWire(resp.exited_at());
                       done(e);
                     });
}

Status ShimTask::Exec(std::string_view exec_id, const ProcessIO& io, const Any& spec) {
  wire::ExecProcessRequest req;
  req.set_id(bundle_.id);
  req.set_exec_id(std::string(exec_id));
  req.set_terminal(io.terminal);
  req.set_stdin(io.stdin_path);
  req.set_stdout(io.stdout_path);
  req.set_stderr(io.stderr_path);
  ToWire(spec, req.mutable_spec());
  return CallEmpty("Exec", req, kLong);
}

Status ShimTask::ResizePty(std::string_view exec_id, std::uint32_t width, std::uint32_t height) {
  wire::ResizePtyRequest req;
  req.set_id(bundle_.id);
  req.set_exec_id(std::string(exec_id));
  req.set_width(width);
  req.set_height(height);
  return CallEmpty("ResizePty", req, kShort);
}

Status ShimTask::CloseIO(std::string_view exec_id, bool stdin) {
  wire::CloseIORequest req;
  req.set_id(bundle_.id);
  req.set_exec_id(std::string(exec_id));
  req.set_stdin(stdin);
  return CallEmpty("CloseIO", req, kShort);
}

Result<ProcessExit> ShimTask::DeleteProcess(std::string_view exec_id) {
  wire::DeleteRequest req;
  req.set_id(bundle_.id);
  req.set_exec_id(std::string(exec_id));
  auto resp = Call<wire::DeleteResponse>("Delete", req, kLong);
  if (!resp.ok()) return resp.status();
  ProcessExit e;
  e.pid = resp->pid();
  e.exit_status = resp->exit_status();
  if (resp->has_exited_at()) e.exited_at = FromWire(resp->exited_at());
  return e;
}

Result<std::vector<ProcessInfo>> ShimTask::Pids() {
  wire::PidsRequest req;
  req.set_id(bundle_.id);
  auto resp = Call<wire::PidsResponse>("Pids", req, kShort);
  if (!resp.ok()) return resp.status();
  std::vector<ProcessInfo> out;
  for (const wire::ProcessInfo& p : resp->processes()) {
    ProcessInfo info;
    info.pid = p.pid();
    if (p.has_info()) info.info = {p.info().type_url(), p.info().value()};
    out.push_back(std::move(info));
  }
  return out;
}

Status ShimTask::Pause() {
  wire::PauseRequest req;
  req.set_id(bundle_.id);
  return CallEmpty("Pause", req, kLong);
}

Status ShimTask::Resume() {
  wire::ResumeRequest req;
  req.set_id(bundle_.id);
  return CallEmpty("Resume", req, kLong);
}

Status ShimTask::Update(const Any& resources,
                        const std::map<std::string, std::string>& annotations) {
  wire::UpdateTaskRequest req;
  req.set_id(bundle_.id);
  if (!resources.empty()) ToWire(resources, req.mutable_resources());
  for (const auto& [k, v] : annotations) (*req.mutable_annotations())[k] = v;
  return CallEmpty("Update", req, kLong);
}

Result<Any> ShimTask::Stats() {
  wire::StatsRequest req;
  req.set_id(bundle_.id);
  auto resp = Call<wire::StatsResponse>("Stats", req, kShort);
  if (!resp.ok()) return resp.status();
  if (!resp->has_stats()) return Status::NotFound("shim reported no stats for " + bundle_.id);
  return Any{resp->stats().type_url(), resp->stats().value()};
}

}  // namespace berth::runtime_v2
