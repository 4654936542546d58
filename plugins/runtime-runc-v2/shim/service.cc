// TaskService: registration, the container's lifecycle (Create, Start,
// Delete, State, Wait, Kill) and exits. The other methods: service_ops.cc.
#include "service.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "berth/mount.h"

namespace berth::shim {

TaskService::TaskService(boost::asio::io_context& io, Reaper& reaper, CommandRunner& runner,
                         EventForwarder& events, Logger& log, std::string ns,
                         std::function<void()> shutdown)
    : io_(io),
      reaper_(reaper),
      runner_(runner),
      events_(events),
      log_(log),
      ns_(std::move(ns)),
      shutdown_(std::move(shutdown)) {}

TaskService::~TaskService() = default;

template <typename Req>
Status TaskService::Bind(ttrpc::Server& server, const char* method,
                         void (TaskService::*fn)(const Req&, Responder)) {
  return server.RegisterAsync(
      kTaskService, method,
      [this, fn, method](const ttrpc::Context&, std::string payload, Responder r) {
        Req req;
        if (!req.ParseFromString(payload)) {
          r(Status::InvalidArgument(std::string("cannot parse request of ") + method));
          return;
        }
        (this->*fn)(req, std::move(r));
      });
}

Status TaskService::Register(ttrpc::Server& server) {
  BERTH_RETURN_IF_ERROR(Bind(server, "Create", &TaskService::Create));
  BERTH_RETURN_IF_ERROR(Bind(server, "Start", &TaskService::Start));
  BERTH_RETURN_IF_ERROR(Bind(server, "Delete", &TaskService::Delete));
  BERTH_RETURN_IF_ERROR(Bind(server, "Exec", &TaskService::Exec));
  BERTH_RETURN_IF_ERROR(Bind(server, "State", &TaskService::State));
  BERTH_RETURN_IF_ERROR(Bind(server, "Kill", &TaskService::Kill));
  BERTH_RETURN_IF_ERROR(Bind(server, "Wait", &TaskService::Wait));
  BERTH_RETURN_IF_ERROR(Bind(server, "Pids", &TaskService::Pids));
  BERTH_RETURN_IF_ERROR(Bind(server, "Pause", &TaskService::Pause));
  BERTH_RETURN_IF_ERROR(Bind(server, "Resume", &TaskService::Resume));
  BERTH_RETURN_IF_ERROR(Bind(server, "CloseIO", &TaskService::CloseIO));
  BERTH_RETURN_IF_ERROR(Bind(server, "ResizePty", &TaskService::ResizePty));
  BERTH_RETURN_IF_ERROR(Bind(server, "Update", &TaskService::Update));
  BERTH_RETURN_IF_ERROR(Bind(server, "Stats", &TaskService::Stats));
  BERTH_RETURN_IF_ERROR(Bind(server, "Checkpoint", &TaskService::Checkpoint));
  BERTH_RETURN_IF_ERROR(Bind(server, "Connect", &TaskService::Connect));
  return Bind(server, "Shutdown", &TaskService::Shutdown);
}

Container* TaskService::Get(const std::string& id) {
  if (container_ == nullptr || creating_ || container_->id != id) return nullptr;
  return container_.get();
}

Process* TaskService::ProcessOf(const std::string& id, const std::string& exec_id, Responder& r) {
  Container* c = Get(id);
  if (c == nullptr) {
    r(Status::NotFound("container not created"));
    return nullptr;
  }
  Process* p = c->Find(exec_id);
  if (p == nullptr) r(Status::NotFound("process does not exist " + exec_id));
  return p;
}

void TaskService::Publish(const char* topic, const char* name,
                          const google::protobuf::MessageLite& m) {
  events_.Publish(topic, name, m.SerializeAsString());
}

void TaskService::Create(const wire::CreateTaskRequest& req, Responder r) {
  if (container_ != nullptr) {
    r(Status::AlreadyExists("container " + container_->id + " already exists in this shim"));
    return;
  }
  Result<wire::RuncOptions> options = DecodeRuncOptions(req.options());
  if (!options.ok()) return r(options.status());
  auto c = std::make_unique<Container>();
  c->id = req.id();
  c->bundle = req.bundle();
  c->ns = ns_;
  c->options = *options;
  if (c->options.binary_name().empty()) c->options.set_binary_name("runc");
  c->kill_all_on_exit = ShouldKillAllOnExit(c->bundle);
  c->init.id = req.id();
  c->init.stdio = {req.stdin(), req.stdout(), req.stderr(), req.terminal()};
  Status s = WriteFileAtomic(c->bundle + "/options.json", OptionsJson(*options));
  if (s.ok()) s = WriteFileAtomic(c->bundle + "/runtime", c->options.binary_name());
  if (!s.ok()) return r(s);

  if (req.rootfs_size() > 0) {
    c->rootfs = c->bundle + "/rootfs";
    if (mkdir(c->rootfs.c_str(), 0711) != 0 && errno != EEXIST) {
      return r(Status::Unknown("mkdir " + c->rootfs + ": " + std::strerror(errno)));
    }
    std::vector<Mount> mounts;
    for (const wire::Mount& m : req.rootfs()) {
      mounts.push_back(
          {m.type(), m.source(), m.target(), {m.options().begin(), m.options().end()}});
    }
    Status ms = MountAll(mounts, c->rootfs);
    if (!ms.ok()) return r(ms.Annotate("failed to mount rootfs component"));
  }
  Result<std::unique_ptr<ProcessIo>> pio =
      ProcessIo::Create(io_, c->init.stdio, c->options.io_uid(), c->options.io_gid());
  if (!pio.ok()) {
    CleanupFailedCreate(c.get());
    return r(pio.status().Annotate("failed to create init process I/O"));
  }
  c->init.io = std::move(*pio);
  c->runc = std::make_shared<Runc>(
      runner_, RuncConfig{c->options.binary_name(), RuncRootFor(c->options, ns_),
                          c->bundle + "/log.json", c->options.systemd_cgroup()});
  Runc::CreateOptions create;
  create.bundle = c->bundle;
  create.pid_file = c->bundle + "/init.pid";
  create.console_socket = c->init.io->console_socket();
  create.no_pivot = c->options.no_pivot_root();
  create.no_new_keyring = c->options.no_new_keyring();
  create.stdio = c->init.io->child_stdio();
  container_ = std::move(c);
  creating_ = true;
  Container* cp = container_.get();
  cp->runc->Create(cp->id, create, [this, cp, req, r](Status status) {
    if (status.ok()) status = cp->init.io->Start().Annotate("failed to start io copy");
    Result<pid_t> pid = status.ok() ? ReadPidFile(cp->bundle + "/init.pid") : status;
    if (!pid.ok()) {
      if (status.ok()) cp->runc->Delete(cp->id, true, [](Status) {});
      CleanupFailedCreate(cp);
      container_.reset();
      creating_ = false;
      return r(pid.status());
    }
    creating_ = false;
    cp->init.pid = *pid;
    if (Result<CgroupPaths> cgroup = CgroupPathsOf(*pid); cgroup.ok()) cp->cgroup = *cgroup;
    reaper_.Watch(*pid, [this](int code) { OnExit("", code); });
    wire::TaskCreate e;
    e.set_container_id(cp->id);
    e.set_bundle(cp->bundle);
    *e.mutable_rootfs() = req.rootfs();
    e.mutable_io()->set_stdin(req.stdin());
    e.mutable_io()->set_stdout(req.stdout());
    e.mutable_io()->set_stderr(req.stderr());
    e.mutable_io()->set_terminal(req.terminal());
    e.set_checkpoint(req.checkpoint());
    e.set_pid(static_cast<uint32_t>(*pid));
    Publish("/tasks/create", "TaskCreate", e);
    wire::CreateTaskResponse resp;
    resp.set_pid(static_cast<uint32_t>(*pid));
    Reply(r, resp);
  });
  cp->init.io->CloseChildEnds();
}

void TaskService::CleanupFailedCreate(Container* c) {
  if (c->init.io) c->init.io->Close();
  if (!c->rootfs.empty()) {
    Status s = UnmountAll(c->rootfs);
    if (!s.ok()) log_.Warn("failed to cleanup rootfs mount: " + s.ToString());
  }
}

void TaskService::Start(const wire::StartRequest& req, Responder r) {
  Process* p = ProcessOf(req.id(), req.exec_id(), r);
  if (p == nullptr) return;
  if (p->state != ProcessState::kCreated || p->exit_seen || starting_.count(req.exec_id())) {
    return r(Status::FailedPrecondition("cannot start a process that is not created (" +
                                        std::string(wire::Status_Name(ToWireStatus(p->state))) +
                                        ")"));
  }
  Container* c = Get(req.id());
  if (req.exec_id().empty()) return StartInit(c, std::move(r));
  StartExec(c, p, std::move(r));
}

void TaskService::StartInit(Container* c, Responder r) {
  starting_.insert("");
  c->runc->Start(c->id, [this, id = c->id, r](Status status) {
    starting_.erase("");
    Container* c = Get(id);
    if (c == nullptr) return r(Status::NotFound("container deleted while starting"));
    if (status.ok()) {
      if (c->init.state == ProcessState::kCreated) c->init.state = ProcessState::kRunning;
      auto oom = std::make_unique<OomWatcher>(io_);
      Status ws = oom->Watch(c->init.pid, [this, id] {
        wire::TaskOOM e;
        e.set_container_id(id);
        Publish("/tasks/oom", "TaskOOM", e);
      });
      if (ws.ok()) {
        oom_ = std::move(oom);
      } else {
        log_.Debug("no OOM watch: " + ws.ToString());
      }
      wire::TaskStart e;
      e.set_container_id(id);
      e.set_pid(static_cast<uint32_t>(c->init.pid));
      Publish("/tasks/start", "TaskStart", e);
      wire::StartResponse resp;
      resp.set_pid(static_cast<uint32_t>(c->init.pid));
      Reply(r, resp);
    } else {
      r(status);
    }
    auto held = held_exits_.find("");
    if (held != held_exits_.end()) {
      int code = held->second;
      held_exits_.erase(held);
      OnExit("", code);
    }
  });
}

void TaskService::OnExit(const std::string& exec_id, int code) {
  Container* c = container_.get();
  Process* p = c ? c->Find(exec_id) : nullptr;
  if (p == nullptr || p->exit_seen) return;
  if (starting_.count(exec_id)) {
    held_exits_[exec_id] = code;
    return;
  }
  p->exit_seen = true;
  p->exited_at = std::chrono::system_clock::now();
  log_.Debug("process " + p->id + " (pid " + std::to_string(p->pid) + ") exited " +
             std::to_string(code));
  if (exec_id.empty() && c->kill_all_on_exit) {
    c->runc->Kill(c->id, SIGKILL, true, [this](Status s) {
      if (!s.ok()) log_.Debug("kill --all after init exit: " + s.ToString());
    });
  }
  if (p->io == nullptr) return Stopped(exec_id, code);
  // Whichever comes first: the output copied, or the bound.
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::seconds(1));
  timer->async_wait([this, exec_id, code, timer](const boost::system::error_code& ec) {
    if (!ec) Stopped(exec_id, code);
  });
  p->io->OnOutputDone([this, exec_id, code, timer] {
    timer->cancel();
    boost::asio::post(io_, [this, exec_id, code] { Stopped(exec_id, code); });
  });
}

void TaskService::Stopped(const std::string& exec_id, int code) {
  Container* c = container_.get();
  Process* p = c ? c->Find(exec_id) : nullptr;
  if (p == nullptr || p->stopped()) return;
  if (exec_id.empty()) oom_.reset();
  wire::TaskExit e;
  e.set_container_id(c->id);
  e.set_id(p->id);
  e.set_pid(static_cast<uint32_t>(p->pid));
  e.set_exit_status(static_cast<uint32_t>(code));
  ToWire(p->exited_at, e.mutable_exited_at());
  Publish("/tasks/exit", "TaskExit", e);
  p->SetExited(code);
}

void TaskService::Delete(const wire::DeleteRequest& req, Responder r) {
  Process* p = ProcessOf(req.id(), req.exec_id(), r);
  if (p == nullptr) return;
  if (p->state != ProcessState::kStopped && p->state != ProcessState::kCreated) {
    return r(Status::FailedPrecondition(
        "cannot delete a " + std::string(p->state == ProcessState::kPaused ? "paused" : "running") +
        " process"));
  }
  auto answer = [](const Process& p) {
    wire::DeleteResponse resp;
    resp.set_pid(static_cast<uint32_t>(p.pid));
    resp.set_exit_status(static_cast<uint32_t>(p.exit_status));
    if (p.exited_at.time_since_epoch().count() != 0) ToWire(p.exited_at, resp.mutable_exited_at());
    return resp;
  };
  Container* c = Get(req.id());
  if (!req.exec_id().empty()) {
    if (p->io) p->io->Close();
    unlink((c->bundle + "/" + req.exec_id() + ".pid").c_str());
    Reply(r, answer(*p));
    c->execs.erase(req.exec_id());
    return;
  }
  c->runc->Delete(c->id, false, [this, id = c->id, r, answer](Status status) {
    Container* c = Get(id);
    if (c == nullptr) return r(Status::NotFound("container not created"));
    if (!status.ok() && status.message().find("does not exist") == std::string::npos) {
      return r(status);
    }
    if (c->init.io) c->init.io->Close();
    for (auto& [exec_id, e] : c->execs) {
      if (e->io) e->io->Close();
    }
    if (!c->rootfs.empty()) {
      Status us = UnmountAll(c->rootfs);
      if (!us.ok()) {
        log_.Warn("failed to cleanup rootfs mount: " + us.ToString());
        return r(us.Annotate("failed rootfs umount"));
      }
    }
    oom_.reset();
    wire::DeleteResponse resp = answer(c->init);
    wire::TaskDelete e;
    e.set_container_id(c->id);
    e.set_pid(resp.pid());
    e.set_exit_status(resp.exit_status());
    *e.mutable_exited_at() = resp.exited_at();
    Publish("/tasks/delete", "TaskDelete", e);
    // Waiters of a process that never ran are answered now.
    c->init.SetExited(c->init.exit_status);
    container_.reset();
    Reply(r, resp);
  });
}

void TaskService::State(const wire::StateRequest& req, Responder r) {
  Process* p = ProcessOf(req.id(), req.exec_id(), r);
  if (p == nullptr) return;
  Container* c = Get(req.id());
  wire::StateResponse resp;
  resp.set_id(p->id);
  resp.set_bundle(c->bundle);
  resp.set_pid(static_cast<uint32_t>(p->pid));
  ProcessState state = p->state;
  // An exec shows its container's pause.
  if (!req.exec_id().empty() && !p->stopped() &&
      (c->init.state == ProcessState::kPaused || c->init.state == ProcessState::kPausing)) {
    state = c->init.state;
  }
  resp.set_status(ToWireStatus(state));
  resp.set_stdin(p->stdio.stdin_path);
  resp.set_stdout(p->stdio.stdout_path);
  resp.set_stderr(p->stdio.stderr_path);
  resp.set_terminal(p->stdio.terminal);
  resp.set_exit_status(static_cast<uint32_t>(p->exit_status));
  if (p->stopped()) ToWire(p->exited_at, resp.mutable_exited_at());
  resp.set_exec_id(req.exec_id());
  Reply(r, resp);
}

void TaskService::Wait(const wire::WaitRequest& req, Responder r) {
  Process* p = ProcessOf(req.id(), req.exec_id(), r);
  if (p == nullptr) return;
  auto answer = [r, p] {
    wire::WaitResponse resp;
    resp.set_exit_status(static_cast<uint32_t>(p->exit_status));
    if (p->exited_at.time_since_epoch().count() != 0)
      ToWire(p->exited_at, resp.mutable_exited_at());
    Reply(r, resp);
  };
  if (p->stopped()) return answer();
  p->waiters.push_back(std::move(answer));
}

namespace {

// containerd's checkKillError: which runtime answers mean "already gone".
Status KillError(const Status& s) {
  std::string m = s.message();
  std::string lower = m;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (m.find("os: process already finished") != std::string::npos ||
      m.find("container not running") != std::string::npos ||
      lower.find("no such process") != std::string::npos) {
    return Status::NotFound("process already finished");
  }
  if (m.find("does not exist") != std::string::npos) return Status::NotFound("no such container");
  return Status::Unknown("unknown error after kill: " + m);
}

}  // namespace

void TaskService::Kill(const wire::KillRequest& req, Responder r) {
  Process* p = ProcessOf(req.id(), req.exec_id(), r);
  if (p == nullptr) return;
  if (!req.exec_id().empty()) {
    if (p->pid == 0) return r(Status::FailedPrecondition("process not created"));
    if (p->exit_seen) return r(Status::NotFound("process already finished"));
    if (kill(p->pid, static_cast<int>(req.signal())) != 0) {
      return r(errno == ESRCH
                   ? Status::NotFound("process already finished")
                   : Status::Unknown(std::string("exec kill error: ") + std::strerror(errno)));
    }
    return Reply(r, wire::Empty());
  }
  Container* c = Get(req.id());
  c->runc->Kill(c->id, static_cast<int>(req.signal()), req.all(), [r](Status s) {
    if (!s.ok()) return r(KillError(s));
    Reply(r, wire::Empty());
  });
}

}  // namespace berth::shim
