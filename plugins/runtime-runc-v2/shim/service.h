// TaskService: containerd's task v2 API ("containerd.task.v2.Task") for the
// shim's one container, over runc, on the shim's single io thread.
//
// Every runc call is asynchronous: a method that needs runc answers through
// its Responder when runc exits. Exits come from the Reaper; a process turns
// STOPPED (Wait answers, /tasks/exit goes out) once its output is copied, or
// after a bound of 1 s when something else keeps the pipes open.
//
// Methods: Create, Start, Delete, Exec, State, Kill, Wait, Pids, Pause,
// Resume, CloseIO, ResizePty, Update, Stats (stats.h), Connect, Shutdown.
// Checkpoint answers Unimplemented.
//
// Single-threaded; everything runs on the io thread.
#ifndef BERTH_SHIM_SERVICE_H_
#define BERTH_SHIM_SERVICE_H_

#include <google/protobuf/message_lite.h>

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>

#include "berth/logger.h"
#include "berth/ttrpc/server.h"
#include "command.h"
#include "events.h"
#include "oom.h"
#include "process.h"
#include "reaper.h"

namespace berth::shim {

inline constexpr char kTaskService[] = "containerd.task.v2.Task";

class TaskService {
 public:
  // `shutdown` ends the shim (Shutdown with nothing left, or now=true); it is
  // posted, so the answer goes out first.
  TaskService(boost::asio::io_context& io, Reaper& reaper, CommandRunner& runner,
              EventForwarder& events, Logger& log, std::string ns, std::function<void()> shutdown);
  ~TaskService();

  // Registers every method. REQUIRES: before Listen/ServeFd.
  [[nodiscard]] Status Register(ttrpc::Server& server);

 private:
  using Responder = ttrpc::Responder;
  template <typename Req>
  Status Bind(ttrpc::Server& server, const char* method,
              void (TaskService::*fn)(const Req&, Responder));

  void Create(const wire::CreateTaskRequest& req, Responder r);
  void Start(const wire::StartRequest& req, Responder r);
  void Delete(const wire::DeleteRequest& req, Responder r);
  void Exec(const wire::ExecProcessRequest& req, Responder r);
  void State(const wire::StateRequest& req, Responder r);
  void Kill(const wire::KillRequest& req, Responder r);
  void Wait(const wire::WaitRequest& req, Responder r);
  void Pids(const wire::PidsRequest& req, Responder r);
  void Pause(const wire::PauseRequest& req, Responder r);
  void Resume(const wire::ResumeRequest& req, Responder r);
  void CloseIO(const wire::CloseIORequest& req, Responder r);
  void ResizePty(const wire::ResizePtyRequest& req, Responder r);
  void Update(const wire::UpdateTaskRequest& req, Responder r);
  void Stats(const wire::StatsRequest& req, Responder r);
  void Checkpoint(const wire::CheckpointTaskRequest& req, Responder r);
  void Connect(const wire::ConnectRequest& req, Responder r);
  void Shutdown(const wire::ShutdownRequest& req, Responder r);

  void StartInit(Container* c, Responder r);
  void StartExec(Container* c, Process* p, Responder r);
  // The container `id` names, not while it is being created; null otherwise.
  Container* Get(const std::string& id);
  // The process of a request, or answers r with NotFound and returns null.
  Process* ProcessOf(const std::string& id, const std::string& exec_id, Responder& r);
  void OnExit(const std::string& exec_id, int code);
  void Stopped(const std::string& exec_id, int code);
  void Publish(const char* topic, const char* name, const google::protobuf::MessageLite& m);
  // Tears down what Create set up (IO, rootfs mounts).
  void CleanupFailedCreate(Container* c);

  boost::asio::io_context& io_;
  Reaper& reaper_;
  CommandRunner& runner_;
  EventForwarder& events_;
  Logger& log_;
  std::string ns_;
  std::function<void()> shutdown_;
  std::unique_ptr<Container> container_;
  bool creating_ = false;
  std::unique_ptr<OomWatcher> oom_;
  // Exits held back while that process's start is in flight, so that
  // /tasks/start always precedes /tasks/exit (exec id → code).
  std::map<std::string, int> held_exits_;
  std::set<std::string> starting_;
};

// One ttrpc answer from a message.
inline void Reply(const ttrpc::Responder& r, const google::protobuf::MessageLite& m) {
  r(Result<std::string>(m.SerializeAsString()));
}

}  // namespace berth::shim

#endif  // BERTH_SHIM_SERVICE_H_
