#include "services/tasks_service.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "berth/containers.h"
#include "berth/filters.h"
#include "berth/grpc/call.h"
#include "berth/grpc/convert.h"
#include "berth/grpc/status.h"
#include "berth/grpc_service.h"
#include "berth/init_context.h"
#include "berth/mutex.h"
#include "berth/plugin_types.h"
#include "berth/runtime.h"
#include "berth/thread_annotations.h"
#include "containerd/services/tasks/v1/tasks.grpc.pb.h"

namespace berth::host {
namespace {

namespace tpb = containerd::services::tasks::v1;
namespace types_pb = containerd::v1::types;
using google::protobuf::Empty;

constexpr grpc_util::CallRules kRules{.namespace_required = true};

void ToProto(const Any& a, google::protobuf::Any* out) {
  out->set_type_url(a.type_url);
  out->set_value(a.value);
}

Any FromProto(const google::protobuf::Any& a) { return {a.type_url(), a.value()}; }

void ToProto(const std::string& container_id, const ProcessState& s, types_pb::Process* out) {
  out->set_container_id(container_id);
  out->set_id(s.id);
  out->set_pid(s.pid);
  out->set_status(static_cast<types_pb::Status>(static_cast<int>(s.status)));
  out->set_stdin(s.io.stdin_path);
  out->set_stdout(s.io.stdout_path);
  out->set_stderr(s.io.stderr_path);
  out->set_terminal(s.io.terminal);
  out->set_exit_status(s.exit_status);
  grpc_util::ToProto(s.exited_at, out->mutable_exited_at());
}

// A task's fields for the filters of Metrics: id and namespace.
filters::Adaptor AdaptTask(const Task& t) {
  return [&t](const std::vector<std::string>& path) -> std::optional<std::string> {
    if (path.empty()) return std::nullopt;
    if (path[0] == "id") return t.id();
    if (path[0] == "namespace") return t.ns();
    return std::nullopt;
  };
}

void ToProto(const ProcessExit& e, tpb::DeleteResponse* out) {
  out->set_pid(e.pid);
  out->set_exit_status(e.exit_status);
  grpc_util::ToProto(e.exited_at, out->mutable_exited_at());
}

// One Wait call: finished once, by the runtime's callback or by the
// client's cancellation, whichever comes first. The state outlives the
// reactor (gRPC deletes it in OnDone) so that a late callback finds it
// finished and touches nothing of the call.
class WaitReactor final : public grpc::ServerUnaryReactor {
 public:
  struct State {
    Mutex mu;
    bool finished BERTH_GUARDED_BY(mu) = false;
    WaitReactor* reactor BERTH_GUARDED_BY(mu);
    tpb::WaitResponse* resp BERTH_GUARDED_BY(mu);

    void Finish(const Result<ProcessExit>& exit) BERTH_EXCLUDES(mu) {
      MutexLock lock(&mu);
      if (finished) return;
      finished = true;
      if (exit.ok()) {
        resp->set_exit_status(exit->exit_status);
        grpc_util::ToProto(exit->exited_at, resp->mutable_exited_at());
      }
      reactor->Finish(grpc_util::ToGrpc(exit.status()));
    }
  };

  explicit WaitReactor(tpb::WaitResponse* resp) : state_(std::make_shared<State>()) {
    MutexLock lock(&state_->mu);
    state_->reactor = this;
    state_->resp = resp;
  }
  void OnCancel() override { state_->Finish(Status::Canceled("wait canceled")); }
  void OnDone() override { delete this; }
  const std::shared_ptr<State>& state() const { return state_; }

 private:
  std::shared_ptr<State> state_;
};

class TasksService final : public tpb::Tasks::CallbackService {
 public:
  TasksService(TaskRuntime* runtime, ContainerStore* containers)
      : runtime_(runtime), containers_(containers) {}

  grpc::ServerUnaryReactor* Create(grpc::CallbackServerContext* ctx,
                                   const tpb::CreateTaskRequest* req,
                                   tpb::CreateTaskResponse* resp) override {
    return Serve(ctx, [this, req, resp](const CallContext& call) -> Status {
      if (req->has_checkpoint() && !req->checkpoint().digest().empty()) {
        return Status::NotImplemented("checkpoint restore is not supported");
      }
      auto c = containers_->GetContainer(call.ns, req->container_id());
      if (!c.ok()) return c.status();
      if (runtime_->Get(call.ns, req->container_id()).ok()) {
        return Status::AlreadyExists("task " + req->container_id());
      }
      TaskCreateOptions o;
      o.id = c->id;
      o.spec = c->spec;
      o.rootfs = grpc_util::FromProto(req->rootfs());
      o.io = {req->stdin(), req->stdout(), req->stderr(), req->terminal()};
      o.runtime = req->runtime_path().empty() ? c->runtime.name : req->runtime_path();
      o.runtime_options = c->runtime.options;
      if (req->has_options()) o.task_options = FromProto(req->options());
      auto task = runtime_->Create(call.ns, o);
      if (!task.ok()) return task.status();
      auto state = (*task)->State("");
      if (!state.ok()) return state.status().Annotate("failed to get task pid");
      resp->set_container_id(c->id);
      resp->set_pid(state->pid);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Start(grpc::CallbackServerContext* ctx, const tpb::StartRequest* req,
                                  tpb::StartResponse* resp) override {
    return ServeTask(ctx, req->container_id(), [req, resp](Task& t) -> Status {
      auto pid = t.Start(req->exec_id());
      if (!pid.ok()) return pid.status();
      resp->set_pid(*pid);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const tpb::DeleteTaskRequest* req,
                                   tpb::DeleteResponse* resp) override {
    return Serve(ctx, [this, req, resp](const CallContext& call) -> Status {
      auto exit = runtime_->Delete(call.ns, req->container_id());
      if (!exit.ok()) return exit.status();
      ToProto(*exit, resp);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* DeleteProcess(grpc::CallbackServerContext* ctx,
                                          const tpb::DeleteProcessRequest* req,
                                          tpb::DeleteResponse* resp) override {
    if (req->exec_id().empty()) {
      return grpc_util::FinishNow(ctx, Status::InvalidArgument("exec id cannot be empty"));
    }
    return ServeTask(ctx, req->container_id(), [req, resp](Task& t) -> Status {
      auto exit = t.DeleteProcess(req->exec_id());
      if (!exit.ok()) return exit.status();
      ToProto(*exit, resp);
      resp->set_id(req->exec_id());
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const tpb::GetRequest* req,
                                tpb::GetResponse* resp) override {
    return ServeTask(ctx, req->container_id(), [req, resp](Task& t) -> Status {
      auto state = t.State(req->exec_id());
      if (!state.ok()) return state.status();
      ToProto(t.id(), *state, resp->mutable_process());
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* ctx, const tpb::ListTasksRequest*,
                                 tpb::ListTasksResponse* resp) override {
    return Serve(ctx, [this, resp](const CallContext& call) -> Status {
      for (const std::shared_ptr<Task>& t : runtime_->List(call.ns)) {
        auto state = t->State("");
        if (!state.ok()) continue;  // deleted meanwhile, or its shim is gone
        ToProto(t->id(), *state, resp->add_tasks());
      }
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Kill(grpc::CallbackServerContext* ctx, const tpb::KillRequest* req,
                                 Empty*) override {
    return ServeTask(ctx, req->container_id(),
                     [req](Task& t) { return t.Kill(req->exec_id(), req->signal(), req->all()); });
  }

  grpc::ServerUnaryReactor* Exec(grpc::CallbackServerContext* ctx,
                                 const tpb::ExecProcessRequest* req, Empty*) override {
    if (req->exec_id().empty()) {
      return grpc_util::FinishNow(ctx, Status::InvalidArgument("exec id cannot be empty"));
    }
    return ServeTask(ctx, req->container_id(), [req](Task& t) {
      return t.Exec(req->exec_id(), {req->stdin(), req->stdout(), req->stderr(), req->terminal()},
                    FromProto(req->spec()));
    });
  }

  grpc::ServerUnaryReactor* ResizePty(grpc::CallbackServerContext* ctx,
                                      const tpb::ResizePtyRequest* req, Empty*) override {
    return ServeTask(ctx, req->container_id(), [req](Task& t) {
      return t.ResizePty(req->exec_id(), req->width(), req->height());
    });
  }

  grpc::ServerUnaryReactor* CloseIO(grpc::CallbackServerContext* ctx,
                                    const tpb::CloseIORequest* req, Empty*) override {
    return ServeTask(ctx, req->container_id(),
                     [req](Task& t) { return t.CloseIO(req->exec_id(), req->stdin()); });
  }

  grpc::ServerUnaryReactor* Pause(grpc::CallbackServerContext* ctx,
                                  const tpb::PauseTaskRequest* req, Empty*) override {
    return ServeTask(ctx, req->container_id(), [](Task& t) { return t.Pause(); });
  }

  grpc::ServerUnaryReactor* Resume(grpc::CallbackServerContext* ctx,
                                   const tpb::ResumeTaskRequest* req, Empty*) override {
    return ServeTask(ctx, req->container_id(), [](Task& t) { return t.Resume(); });
  }

  grpc::ServerUnaryReactor* ListPids(grpc::CallbackServerContext* ctx,
                                     const tpb::ListPidsRequest* req,
                                     tpb::ListPidsResponse* resp) override {
    return ServeTask(ctx, req->container_id(), [resp](Task& t) -> Status {
      auto pids = t.Pids();
      if (!pids.ok()) return pids.status();
      for (const ProcessInfo& p : *pids) {
        types_pb::ProcessInfo* out = resp->add_processes();
        out->set_pid(p.pid);
        if (!p.info.empty()) ToProto(p.info, out->mutable_info());
      }
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Checkpoint(grpc::CallbackServerContext* ctx,
                                       const tpb::CheckpointTaskRequest*,
                                       tpb::CheckpointTaskResponse*) override {
    return grpc_util::FinishNow(ctx, Status::NotImplemented("checkpoint is not supported"));
  }

  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* ctx,
                                   const tpb::UpdateTaskRequest* req, Empty*) override {
    return ServeTask(ctx, req->container_id(), [req](Task& t) {
      std::map<std::string, std::string> annotations(req->annotations().begin(),
                                                     req->annotations().end());
      return t.Update(req->has_resources() ? FromProto(req->resources()) : Any{}, annotations);
    });
  }

  // The namespace's tasks that match the filters (fields id and namespace;
  // ctr sends `id==ID`), each with the runtime's figures. A task with
  // nothing to report (stopped, no cgroup, shim gone) is left out, as
  // containerd does.
  grpc::ServerUnaryReactor* Metrics(grpc::CallbackServerContext* ctx,
                                    const tpb::MetricsRequest* req,
                                    tpb::MetricsResponse* resp) override {
    auto filter = filters::ParseAll({req->filters().begin(), req->filters().end()});
    if (!filter.ok()) return grpc_util::FinishNow(ctx, filter.status());
    return Serve(ctx, [this, filter = std::move(*filter), resp](const CallContext& call) -> Status {
      for (const std::shared_ptr<Task>& t : runtime_->List(call.ns)) {
        if (!filter.Match(AdaptTask(*t))) continue;
        auto collected = std::chrono::system_clock::now();
        auto stats = t->Stats();
        if (!stats.ok()) continue;
        containerd::types::Metric* m = resp->add_metrics();
        grpc_util::ToProto(collected, m->mutable_timestamp());
        m->set_id(t->id());
        ToProto(*stats, m->mutable_data());
      }
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Wait(grpc::CallbackServerContext* ctx, const tpb::WaitRequest* req,
                                 tpb::WaitResponse* resp) override {
    auto call = grpc_util::CallContextOf(*ctx, kRules);
    if (!call.ok()) return grpc_util::FinishNow(ctx, call.status());
    auto* reactor = new WaitReactor(resp);
    // The lookup may reach a runtime that blocks; the wait itself only
    // starts there and answers through the callback.
    kRules.RunOn().Submit([this, ns = call->ns, id = req->container_id(), exec = req->exec_id(),
                           state = reactor->state()] {
      auto task = Guard([&] { return runtime_->Get(ns, id); });
      if (!task.ok()) return state->Finish(task.status());
      Status started = Guard([&]() -> Status {
        (*task)->Wait(exec, [state](Result<ProcessExit> exit) { state->Finish(exit); });
        return Status::Ok();
      });
      if (!started.ok()) state->Finish(started);
    });
    return reactor;
  }

 private:
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* ctx, grpc_util::UnaryBody body) {
    return grpc_util::ServeUnary(ctx, kRules, std::move(body));
  }

  // Runs `body` on the namespace's task `id` (NotFound when there is none).
  template <typename Body>
  grpc::ServerUnaryReactor* ServeTask(grpc::CallbackServerContext* ctx, const std::string& id,
                                      Body body) {
    return Serve(ctx, [this, &id, body = std::move(body)](const CallContext& call) -> Status {
      auto task = runtime_->Get(call.ns, id);
      if (!task.ok()) return task.status();
      return body(**task);
    });
  }

  TaskRuntime* runtime_;
  ContainerStore* containers_;
};

class TasksServicePlugin final : public GrpcServicePlugin {
 public:
  TasksServicePlugin(std::shared_ptr<TaskRuntime> runtime,
                     std::shared_ptr<ContainerStore> containers)
      : runtime_(std::move(runtime)),
        containers_(std::move(containers)),
        service_(runtime_.get(), containers_.get()) {}
  std::vector<grpc::Service*> Services() override { return {&service_}; }

 private:
  std::shared_ptr<TaskRuntime> runtime_;
  std::shared_ptr<ContainerStore> containers_;
  TasksService service_;
};

}  // namespace

Registration TasksServiceRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "tasks";
  r.required_types = {std::string(types::kRuntimeV2), std::string(types::kMetadata)};
  r.init = [](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    auto runtime = ctx.GetAs<TaskRuntime>(types::kRuntimeV2);
    if (!runtime.ok()) return runtime.status();
    auto containers = ctx.GetAs<ContainerStore>(types::kMetadata);
    if (!containers.ok()) return containers.status();
    return std::shared_ptr<Plugin>(
        std::make_shared<TasksServicePlugin>(std::move(*runtime), std::move(*containers)));
  };
  return r;
}

}  // namespace berth::host
