// TaskService: execs, and the methods around a running container (Pids,
// Pause, Resume, CloseIO, ResizePty, Update, Stats, Checkpoint, Connect,
// Shutdown).
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "service.h"
#include "stats.h"

namespace berth::shim {

void TaskService::Exec(const wire::ExecProcessRequest& req, Responder r) {
  Container* c = Get(req.id());
  if (c == nullptr) return r(Status::NotFound("container not created"));
  if (req.exec_id().empty()) return r(Status::InvalidArgument("exec id must not be empty"));
  if (c->execs.count(req.exec_id()) || c->reserved.count(req.exec_id())) {
    return r(Status::AlreadyExists("id " + req.exec_id()));
  }
  if (c->init.state != ProcessState::kRunning && c->init.state != ProcessState::kCreated) {
    return r(Status::FailedPrecondition(
        "cannot exec in a " + std::string(c->init.stopped() ? "stopped" : "paused") + " state"));
  }
  auto p = std::make_unique<Process>();
  p->id = req.exec_id();
  p->exec_id = req.exec_id();
  p->stdio = {req.stdin(), req.stdout(), req.stderr(), req.terminal()};
  // Parsed, not rewritten by hand: "terminal" set in place, keys in the client's order.
  auto spec = nlohmann::ordered_json::parse(req.spec().value(), nullptr, /*allow_exceptions=*/false);
  if (!spec.is_object()) return r(Status::InvalidArgument("exec process spec is no JSON object"));
  spec["terminal"] = req.terminal();
  p->spec_json = spec.dump();
  c->execs[req.exec_id()] = std::move(p);
  wire::TaskExecAdded e;
  e.set_container_id(c->id);
  e.set_exec_id(req.exec_id());
  Publish("/tasks/exec-added", "TaskExecAdded", e);
  Reply(r, wire::Empty());
}

void TaskService::StartExec(Container* c, Process* p, Responder r) {
  const std::string exec_id = p->exec_id;
  Result<std::unique_ptr<ProcessIo>> pio =
      ProcessIo::Create(io_, p->stdio, c->options.io_uid(), c->options.io_gid());
  if (!pio.ok()) return r(pio.status().Annotate("failed to create exec process I/O"));
  p->io = std::move(*pio);
  std::string process_file = c->bundle + "/.process-" + exec_id + ".json";
  Status ws = WriteFileAtomic(process_file, p->spec_json);
  if (!ws.ok()) return r(ws);
  Runc::ExecOptions options;
  options.process_file = process_file;
  options.pid_file = c->bundle + "/" + exec_id + ".pid";
  options.console_socket = p->io->console_socket();
  options.stdio = p->io->child_stdio();
  starting_.insert(exec_id);
  c->runc->Exec(c->id, options, [this, id = c->id, exec_id, process_file, r](Status status) {
    starting_.erase(exec_id);
    unlink(process_file.c_str());
    Container* c = Get(id);
    Process* p = c ? c->Find(exec_id) : nullptr;
    if (p == nullptr) return r(Status::NotFound("exec deleted while starting"));
    if (status.ok()) status = p->io->Start().Annotate("failed to start io copy");
    Result<pid_t> pid = status.ok() ? ReadPidFile(c->bundle + "/" + exec_id + ".pid") : status;
    if (!pid.ok()) {
      p->io->Close();
      p->SetExited(0);
      held_exits_.erase(exec_id);
      return r(pid.status());
    }
    p->pid = *pid;
    p->state = ProcessState::kRunning;
    reaper_.Watch(*pid, [this, exec_id](int code) { OnExit(exec_id, code); });
    wire::TaskExecStarted e;
    e.set_container_id(id);
    e.set_exec_id(exec_id);
    e.set_pid(static_cast<uint32_t>(*pid));
    Publish("/tasks/exec-started", "TaskExecStarted", e);
    wire::StartResponse resp;
    resp.set_pid(static_cast<uint32_t>(*pid));
    Reply(r, resp);
    auto held = held_exits_.find(exec_id);
    if (held != held_exits_.end()) {
      int code = held->second;
      held_exits_.erase(held);
      OnExit(exec_id, code);
    }
  });
  p->io->CloseChildEnds();
}

void TaskService::Pids(const wire::PidsRequest& req, Responder r) {
  Container* c = Get(req.id());
  if (c == nullptr) return r(Status::NotFound("container not created"));
  c->runc->Ps(c->id, [this, id = c->id, r](Result<std::vector<int>> pids) {
    if (!pids.ok()) return r(pids.status());
    Container* c = Get(id);
    wire::PidsResponse resp;
    for (int pid : *pids) {
      wire::ProcessInfo* info = resp.add_processes();
      info->set_pid(static_cast<uint32_t>(pid));
      if (c == nullptr) continue;
      for (const auto& [exec_id, p] : c->execs) {
        if (p->pid != pid) continue;
        wire::ProcessDetails details;
        details.set_exec_id(exec_id);
        info->mutable_info()->set_type_url("containerd.runc.v1.ProcessDetails");
        info->mutable_info()->set_value(details.SerializeAsString());
        break;
      }
    }
    Reply(r, resp);
  });
}

void TaskService::Pause(const wire::PauseRequest& req, Responder r) {
  Container* c = Get(req.id());
  if (c == nullptr) return r(Status::NotFound("container not created"));
  if (c->init.state != ProcessState::kRunning) {
    return r(Status::FailedPrecondition(
        "cannot pause task in " + std::string(wire::Status_Name(ToWireStatus(c->init.state))) +
        " state"));
  }
  c->init.state = ProcessState::kPausing;
  c->runc->Pause(c->id, [this, id = c->id, r](Status s) {
    Container* c = Get(id);
    if (c == nullptr) return r(Status::NotFound("container not created"));
    if (c->init.state == ProcessState::kPausing) {
      c->init.state = s.ok() ? ProcessState::kPaused : ProcessState::kRunning;
    }
    if (!s.ok()) return r(s);
    wire::TaskPaused e;
    e.set_container_id(id);
    Publish("/tasks/paused", "TaskPaused", e);
    Reply(r, wire::Empty());
  });
}

void TaskService::Resume(const wire::ResumeRequest& req, Responder r) {
  Container* c = Get(req.id());
  if (c == nullptr) return r(Status::NotFound("container not created"));
  if (c->init.state != ProcessState::kPaused) {
    return r(Status::FailedPrecondition("cannot resume a task that is not paused"));
  }
  c->runc->Resume(c->id, [this, id = c->id, r](Status s) {
    Container* c = Get(id);
    if (c == nullptr) return r(Status::NotFound("container not created"));
    if (!s.ok()) return r(s);
    if (c->init.state == ProcessState::kPaused) c->init.state = ProcessState::kRunning;
    wire::TaskResumed e;
    e.set_container_id(id);
    Publish("/tasks/resumed", "TaskResumed", e);
    Reply(r, wire::Empty());
  });
}

void TaskService::CloseIO(const wire::CloseIORequest& req, Responder r) {
  Process* p = ProcessOf(req.id(), req.exec_id(), r);
  if (p == nullptr) return;
  if (p->io) p->io->CloseStdinWriter();
  Reply(r, wire::Empty());
}

void TaskService::ResizePty(const wire::ResizePtyRequest& req, Responder r) {
  Process* p = ProcessOf(req.id(), req.exec_id(), r);
  if (p == nullptr) return;
  if (p->io) {
    Status s = p->io->Resize(req.width(), req.height());
    if (!s.ok()) return r(s);
  }
  Reply(r, wire::Empty());
}

void TaskService::Update(const wire::UpdateTaskRequest& req, Responder r) {
  Container* c = Get(req.id());
  if (c == nullptr) return r(Status::NotFound("container not created"));
  if (c->init.stopped()) return r(Status::FailedPrecondition("cannot update a stopped container"));
  // containerd sends the OCI LinuxResources JSON-marshalled in the Any's value.
  auto resources =
      nlohmann::ordered_json::parse(req.resources().value(), nullptr, /*allow_exceptions=*/false);
  if (!resources.is_object()) {
    return r(Status::InvalidArgument("update resources are no JSON object"));
  }
  std::string file = c->bundle + "/.update-resources.json";
  Status ws = WriteFileAtomic(file, resources.dump());
  if (!ws.ok()) return r(ws);
  c->runc->Update(c->id, file, [file, r](Status s) {
    unlink(file.c_str());
    if (!s.ok()) return r(s);
    Reply(r, wire::Empty());
  });
}

void TaskService::Stats(const wire::StatsRequest& req, Responder r) {
  Container* c = Get(req.id());
  if (c == nullptr) return r(Status::NotFound("container not created"));
  if (!c->cgroup) return r(Status::NotFound("cgroup of " + c->id + " does not exist"));
  Result<wire::Any> stats = CgroupMetrics(*c->cgroup);
  if (!stats.ok()) return r(stats.status());
  wire::StatsResponse resp;
  *resp.mutable_stats() = std::move(*stats);
  Reply(r, resp);
}

void TaskService::Checkpoint(const wire::CheckpointTaskRequest&, Responder r) {
  r(Status::NotImplemented("containerd-shim-berth-v2 does not checkpoint"));
}

void TaskService::Connect(const wire::ConnectRequest& req, Responder r) {
  wire::ConnectResponse resp;
  resp.set_shim_pid(static_cast<uint32_t>(getpid()));
  if (Container* c = Get(req.id())) resp.set_task_pid(static_cast<uint32_t>(c->init.pid));
  resp.set_version(BERTH_SHIM_VERSION);
  Reply(r, resp);
}

void TaskService::Shutdown(const wire::ShutdownRequest& req, Responder r) {
  if (container_ != nullptr && !req.now()) return Reply(r, wire::Empty());
  Reply(r, wire::Empty());
  boost::asio::post(io_, shutdown_);
}

}  // namespace berth::shim
