#include "task_runtime.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <utility>

#include "berth/executor.h"
#include "berth/identifiers.h"
#include "shim_process.h"
#include "task_wire.pb.h"

namespace berth::runtime_v2 {
namespace {

namespace fs = std::filesystem;
namespace wire = berth::task::wire;
using std::chrono::milliseconds;

constexpr milliseconds kShimDeleteTimeout{30000};
constexpr milliseconds kLoadTimeout{5000};

std::string Describe(const CommandOutput& out) {
  std::string text = out.err.empty() ? out.out : out.err;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text + ": exit status " + std::to_string(out.exit_code);
}

Timestamp FromWire(const wire::Timestamp& t) {
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(
      std::chrono::seconds(t.seconds()) + std::chrono::nanoseconds(t.nanos())));
}

// The event payloads containerd publishes after a dead shim, encoded with
// the wire messages (the same bytes as containerd.events.*).
Any PackExit(const std::string& id, const ProcessExit& e) {
  wire::TaskExit m;
  m.set_container_id(id);
  m.set_id(id);
  m.set_pid(e.pid);
  m.set_exit_status(e.exit_status);
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(e.exited_at.time_since_epoch());
  m.mutable_exited_at()->set_seconds(ns.count() / 1000000000);
  m.mutable_exited_at()->set_nanos(static_cast<int>(ns.count() % 1000000000));
  return {"containerd.events.TaskExit", m.SerializeAsString()};
}

Any PackDelete(const std::string& id, const ProcessExit& e) {
  wire::TaskDelete m;
  m.set_container_id(id);
  m.set_pid(e.pid);
  m.set_exit_status(e.exit_status);
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(e.exited_at.time_since_epoch());
  m.mutable_exited_at()->set_seconds(ns.count() / 1000000000);
  m.mutable_exited_at()->set_nanos(static_cast<int>(ns.count() % 1000000000));
  return {"containerd.events.TaskDelete", m.SerializeAsString()};
}

std::vector<std::string> DirNames(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.empty() && name[0] != '.' && entry.is_directory(ec)) names.push_back(name);
  }
  return names;
}

// Unlinks the unix socket named by the bundle's `address` file, if it is
// still there.
void RemoveShimSocket(const Bundle& bundle) {
  auto address = bundle.Read("address");
  if (!address.ok()) return;
  std::string socket = address->rfind("unix://", 0) == 0 ? address->substr(7) : *address;
  struct stat st {};
  if (!socket.empty() && lstat(socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    unlink(socket.c_str());
  }
}

}  // namespace

std::shared_ptr<ShimRuntime> ShimRuntime::Open(RuntimeEnv env) {
  auto runtime = std::make_shared<ShimRuntime>(std::move(env));
  runtime->LoadExisting();
  return runtime;
}

ShimRuntime::ShimRuntime(RuntimeEnv env)
    : env_(std::move(env)),
      self_dir_(fs::path(env_.self_exe).parent_path().string()),
      monitor_(std::make_shared<ShimMonitor>(env_.log)) {}

ShimRuntime::~ShimRuntime() { (void)Close(); }

Status ShimRuntime::Close() {
  std::map<Key, std::shared_ptr<ShimTask>> tasks;
  {
    MutexLock lock(&mu_);
    tasks.swap(tasks_);
  }
  for (auto& [key, task] : tasks) task->Close();
  return Status::Ok();
}

std::vector<std::string> ShimRuntime::ShimArgs(const std::string& binary,
                                               const Bundle& bundle) const {
  return {binary,        "-namespace", bundle.ns, "-address", env_.grpc_address, "-publish-binary",
          env_.self_exe, "-id",        bundle.id};
}

Result<std::shared_ptr<Task>> ShimRuntime::Create(std::string_view ns,
                                                  const TaskCreateOptions& options) {
  BERTH_RETURN_IF_ERROR(ValidateIdentifier(ns));
  Status valid = ValidateIdentifier(options.id);
  if (!valid.ok()) return valid.Annotate("invalid task id " + options.id);
  Key key{std::string(ns), options.id};
  {
    MutexLock lock(&mu_);
    if (tasks_.count(key) != 0 || creating_.count(key) != 0) {
      return Status::AlreadyExists("task " + options.id);
    }
    creating_.insert(key);
  }
  auto release = [&] {
    MutexLock lock(&mu_);
    creating_.erase(key);
  };
  auto binary = ResolveShimBinary(options.runtime, self_dir_);
  if (!binary.ok()) {
    release();
    return binary.status().Annotate("failed to start shim: failed to resolve runtime path");
  }
  Bundle bundle = Bundle::Of(env_.root, env_.state, key.first, key.second);
  Status made = bundle.Create(options.spec.value);
  if (!made.ok()) {
    release();
    return made;
  }
  const Any& topts = options.task_options.empty() ? options.runtime_options : options.task_options;
  auto task = StartShim(bundle, *binary, topts);
  if (!task.ok()) {
    Status removed = bundle.Delete();
    if (!removed.ok()) env_.log->Warn("remove bundle " + bundle.path + ": " + removed.ToString());
    release();
    return task.status().Annotate("failed to start shim: start failed");
  }
  auto pid = (*task)->CreateInShim(options, topts);
  if (!pid.ok()) {
    // As containerd cleans up a shim whose Create failed: stop it, let the
    // shim binary clean up after runc, remove the bundle.
    (*task)->Shutdown();
    (*task)->Close();
    (void)CleanupDeadShim(bundle, *binary);
    release();
    return pid.status().Annotate("failed to create shim task");
  }
  MutexLock lock(&mu_);
  creating_.erase(key);
  tasks_[key] = *task;
  return std::shared_ptr<Task>(*task);
}

Result<std::shared_ptr<ShimTask>> ShimRuntime::StartShim(const Bundle& bundle,
                                                         const std::string& binary,
                                                         const Any& options) {
  CommandSpec cmd;
  cmd.argv = ShimArgs(binary, bundle);
  cmd.argv.push_back("start");
  cmd.cwd = bundle.path;
  cmd.extra_env = {"GOMAXPROCS=2", "TTRPC_ADDRESS=" + env_.ttrpc_address};
  if (!options.empty()) {
    wire::Any any;
    any.set_type_url(options.type_url);
    any.set_value(options.value);
    cmd.stdin_data = any.SerializeAsString();
  }
  cmd.timeout = env_.shim_start_timeout;
  // The shim opens its log fifo for writing as it starts and fails when
  // there is none: make it, with our reading end, first.
  auto log_fd = OpenLogFifo(bundle.File("log"));
  if (!log_fd.ok()) return log_fd.status();
  auto out = RunCommand(cmd);
  auto close_log = [&] { close(*log_fd); };
  if (!out.ok()) {
    close_log();
    return out.status();
  }
  if (out->exit_code != 0) {
    close_log();
    return Status::Unknown(Describe(*out));
  }
  std::string address = out->out;
  while (!address.empty() && (address.back() == '\n' || address.back() == ' ')) {
    address.pop_back();
  }
  Status written = bundle.Write("shim-binary-path", binary);
  auto task = written.ok() ? ConnectShim(bundle, binary, address)
                           : Result<std::shared_ptr<ShimTask>>(written);
  if (!task.ok()) {
    close_log();
    return task.status();
  }
  auto info = (*task)->Connect(kLoadTimeout);
  Watch(*task, info.ok() ? info->shim_pid : 0, *log_fd);
  return task;
}

Result<std::shared_ptr<ShimTask>> ShimRuntime::ConnectShim(const Bundle& bundle,
                                                           const std::string& binary,
                                                           const std::string& address) {
  std::string path = address;
  if (path.rfind("unix://", 0) == 0) path = path.substr(7);
  if (path.empty()) return Status::Unknown("shim printed no address");
  auto client = ttrpc::Client::Connect(monitor_->io(), path);
  if (!client.ok()) return client.status().Annotate("connect to shim at " + path);
  return std::make_shared<ShimTask>(bundle, binary, monitor_, std::move(*client));
}

void ShimRuntime::Watch(const std::shared_ptr<ShimTask>& task, pid_t shim_pid, int log_fd) {
  if (shim_pid <= 0) {
    auto text = task->bundle_dir().Read("shim.pid");
    if (text.ok()) shim_pid = static_cast<pid_t>(std::atoi(text->c_str()));
  }
  int pidfd = -1;
  if (shim_pid > 0) {
    auto fd = OpenPidfd(shim_pid);
    if (fd.ok()) pidfd = *fd;
  }
  if (pidfd < 0) env_.log->Warn("shim of " + task->ns() + "/" + task->id() + ": exit not watched");
  if (log_fd < 0) {
    auto fd = OpenLogFifo(task->bundle_dir().File("log"));
    if (fd.ok()) log_fd = *fd;
  }
  std::weak_ptr<ShimRuntime> weak = weak_from_this();
  std::weak_ptr<ShimTask> weak_task = task;
  task->Watch(log_fd, pidfd, [weak, weak_task] {
    auto self = weak.lock();
    auto t = weak_task.lock();
    if (self && t) self->OnShimExit(t);
  });
}

void ShimRuntime::OnShimExit(const std::shared_ptr<ShimTask>& task) {
  {
    MutexLock lock(&mu_);
    auto it = tasks_.find(Key{task->ns(), task->id()});
    if (it == tasks_.end() || it->second != task) return;  // deleted on purpose
    tasks_.erase(it);
  }
  env_.log->Warn("shim of " + task->ns() + "/" + task->id() + " exited; cleaning up");
  std::weak_ptr<ShimRuntime> weak = weak_from_this();
  Executor::Shared().Submit([weak, task] {
    auto self = weak.lock();
    task->Close();
    if (!self) return;
    auto exit = self->CleanupDeadShim(task->bundle_dir(), task->shim_binary());
    ProcessExit e = exit.ok() ? *exit : ProcessExit{0, 255, std::chrono::system_clock::now()};
    if (self->env_.events != nullptr) {
      (void)self->env_.events->Publish(task->ns(), "/tasks/exit", PackExit(task->id(), e));
      (void)self->env_.events->Publish(task->ns(), "/tasks/delete", PackDelete(task->id(), e));
    }
  });
}

Result<ProcessExit> ShimRuntime::CleanupDeadShim(const Bundle& bundle, const std::string& binary) {
  Result<ProcessExit> exit = Status::Unknown("no shim binary");
  if (!binary.empty()) {
    CommandSpec cmd;
    cmd.argv = ShimArgs(binary, bundle);
    cmd.argv.insert(cmd.argv.end(), {"-bundle", bundle.path, "delete"});
    cmd.cwd = bundle.path;
    cmd.extra_env = {"TTRPC_ADDRESS=" + env_.ttrpc_address};
    cmd.timeout = kShimDeleteTimeout;
    auto out = RunCommand(cmd);
    if (!out.ok()) {
      exit = out.status();
    } else if (out->exit_code != 0) {
      exit = Status::Unknown(Describe(*out));
    } else {
      wire::DeleteResponse resp;
      if (resp.ParseFromString(out->out)) {
        exit = ProcessExit{resp.pid(), resp.exit_status(),
                           resp.has_exited_at() ? FromWire(resp.exited_at()) : Timestamp{}};
      } else {
        exit = Status::Unknown("cannot parse the shim's delete answer");
      }
    }
    if (!exit.ok()) {
      env_.log->Warn("shim delete of " + bundle.ns + "/" + bundle.id + ": " +
                     exit.status().ToString());
    }
  }
  RemoveShimSocket(bundle);  // a killed shim leaves its socket behind
  Status removed = bundle.Delete();
  if (!removed.ok()) env_.log->Warn("remove bundle " + bundle.path + ": " + removed.ToString());
  return exit;
}

Result<std::shared_ptr<Task>> ShimRuntime::Get(std::string_view ns, std::string_view id) {
  MutexLock lock(&mu_);
  auto it = tasks_.find(Key{std::string(ns), std::string(id)});
  if (it == tasks_.end()) return Status::NotFound("task " + std::string(id));
  return std::shared_ptr<Task>(it->second);
}

std::vector<std::shared_ptr<Task>> ShimRuntime::List(std::string_view ns) {
  std::vector<std::shared_ptr<Task>> out;
  MutexLock lock(&mu_);
  for (auto it = tasks_.lower_bound(Key{std::string(ns), ""});
       it != tasks_.end() && it->first.first == ns; ++it) {
    out.push_back(it->second);
  }
  return out;
}

Result<ProcessExit> ShimRuntime::Delete(std::string_view ns, std::string_view id) {
  std::shared_ptr<ShimTask> task;
  {
    MutexLock lock(&mu_);
    auto it = tasks_.find(Key{std::string(ns), std::string(id)});
    if (it == tasks_.end()) return Status::NotFound("task " + std::string(id));
    task = it->second;
  }
  auto exit = task->DeleteInit();
  if (!exit.ok() && !exit.status().Is(Code::kUnavailable) && !exit.status().Is(Code::kNotFound)) {
    return exit.status();  // e.g. still running: the task stays
  }
  {
    MutexLock lock(&mu_);
    auto it = tasks_.find(Key{std::string(ns), std::string(id)});
    if (it != tasks_.end() && it->second == task) tasks_.erase(it);
  }
  task->Shutdown();
  task->Close();
  // A shim told to shut down may exit before it removes its socket.
  RemoveShimSocket(task->bundle_dir());
  Status removed = task->bundle_dir().Delete();
  if (!removed.ok()) env_.log->Warn("remove bundle " + task->bundle() + ": " + removed.ToString());
  return exit;
}

void ShimRuntime::LoadExisting() {
  for (const std::string& ns : DirNames(env_.state)) {
    if (!ValidateIdentifier(ns).ok()) continue;
    for (const std::string& id : DirNames(env_.state + "/" + ns)) {
      if (!ValidateIdentifier(id).ok()) continue;
      LoadBundle(Bundle::Of(env_.root, env_.state, ns, id));
    }
    // Work folders no task owns any more (containerd's cleanupWorkDirs).
    for (const std::string& id : DirNames(env_.root + "/" + ns)) {
      MutexLock lock(&mu_);
      if (tasks_.count(Key{ns, id}) != 0) continue;
      std::error_code ec;
      fs::remove_all(env_.root + "/" + ns + "/" + id, ec);
    }
  }
}

void ShimRuntime::LoadBundle(const Bundle& bundle) {
  const std::string name = bundle.ns + "/" + bundle.id;
  auto binary = bundle.Read("shim-binary-path");
  auto address = bundle.Read("address");
  if (binary.ok() && address.ok()) {
    auto task = ConnectShim(bundle, *binary, *address);
    if (task.ok()) {
      auto info = (*task)->Connect(kLoadTimeout);
      if (info.ok()) {
        Watch(*task, info->shim_pid, -1);
        MutexLock lock(&mu_);
        tasks_[Key{bundle.ns, bundle.id}] = *task;
        env_.log->Info("reconnected to the shim of task " + name + " (shim pid " +
                       std::to_string(info->shim_pid) + ", task pid " +
                       std::to_string(info->task_pid) + ")");
        return;
      }
      (*task)->Close();
      env_.log->Warn("shim of task " + name + " does not answer: " + info.status().ToString());
    } else {
      env_.log->Warn("shim of task " + name + " is gone: " + task.status().ToString());
    }
  } else {
    env_.log->Warn("bundle of task " + name + " has no live shim (no " +
                   (binary.ok() ? "address" : "shim-binary-path") + ")");
  }
  auto exit = CleanupDeadShim(bundle, binary.ok() ? *binary : "");
  env_.log->Info("cleaned up the dead shim of task " + name +
                 (exit.ok() ? " (exit status " + std::to_string(exit->exit_status) + ")" : ""));
  // As after a shim that dies while we serve (OnShimExit): subscribers
  // inside the daemon learn that the task is gone.
  ProcessExit e = exit.ok() ? *exit : ProcessExit{0, 255, std::chrono::system_clock::now()};
  if (env_.events != nullptr) {
    (void)env_.events->Publish(bundle.ns, "/tasks/exit", PackExit(bundle.id, e));
    (void)env_.events->Publish(bundle.ns, "/tasks/delete", PackDelete(bundle.id, e));
  }
}

}  // namespace berth::runtime_v2
