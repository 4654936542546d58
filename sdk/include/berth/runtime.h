// TaskRuntime: what the tasks service needs from a runtime
// (io.containerd.runtime.v2): tasks — a container's running side, its init
// process and the processes exec'd into it — created, found, listed and
// deleted per namespace. containerd's runtime.PlatformRuntime and
// runtime.Task, in berth's terms.
//
// Every call may block on another process (a shim) and so belongs on an
// executor, never on a gRPC or ttrpc loop thread — except Task::Wait, which
// only starts the wait and answers through its callback. Errors follow
// containerd's errdefs: NotFound for an unknown task or process,
// AlreadyExists, FailedPrecondition (e.g. deleting a running process),
// Unavailable when the task's shim is gone.
//
// Ownership: the runtime holds each Task until it is deleted or its shim
// exits; callers hold shared_ptrs only for the span of one request. A Task
// whose shim has gone answers Unavailable (or NotFound) from then on.
//
// Thread-safe.
#ifndef BERTH_RUNTIME_H_
#define BERTH_RUNTIME_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "berth/any.h"
#include "berth/content.h"
#include "berth/mount.h"
#include "berth/plugin.h"
#include "berth/status.h"

namespace berth {

// Frozen: containerd.v1.types.Status values.
enum class ProcessStatus : int {
  kUnknown = 0,
  kCreated = 1,
  kRunning = 2,
  kStopped = 3,
  kPaused = 4,
  kPausing = 5,
};

// A process's stdio: host paths (fifos) the shim opens; empty = none.
struct ProcessIO {
  std::string stdin_path;
  std::string stdout_path;
  std::string stderr_path;
  bool terminal = false;  // a pty; stderr then is part of stdout
};

// What a process looks like now.
struct ProcessState {
  std::string id;  // the exec id; the task's id for its init process
  std::uint32_t pid = 0;
  ProcessStatus status = ProcessStatus::kUnknown;
  ProcessIO io;
  std::uint32_t exit_status = 0;  // set when kStopped
  Timestamp exited_at{};
};

// How a process ended (Wait, Delete).
struct ProcessExit {
  std::uint32_t pid = 0;
  std::uint32_t exit_status = 0;
  Timestamp exited_at{};
};

// One process of a task (ListPids).
struct ProcessInfo {
  std::uint32_t pid = 0;
  Any info;  // runtime details, e.g. containerd.runc.v1.ProcessDetails
};

// Task creation: containerd's runtime.CreateOpts.
struct TaskCreateOptions {
  std::string id;             // the container's id (an identifier)
  Any spec;                   // the OCI runtime spec (config.json)
  std::vector<Mount> rootfs;  // mounted by the shim on <bundle>/rootfs
  ProcessIO io;
  std::string runtime;  // "io.containerd.runc.v2" or a shim's path
  Any runtime_options;  // the container's (e.g. containerd.runc.v1.Options)
  Any task_options;     // the request's; preferred when set
};

class Task {
 public:
  using WaitCallback = std::function<void(Result<ProcessExit>)>;

  virtual ~Task();

  virtual const std::string& id() const = 0;
  virtual const std::string& ns() const = 0;
  // The bundle directory the task runs from.
  virtual const std::string& bundle() const = 0;

  // In every call below an empty `exec_id` names the init process.

  // Starts the process; its pid. FailedPrecondition when already started.
  virtual Result<std::uint32_t> Start(std::string_view exec_id) = 0;
  virtual Result<ProcessState> State(std::string_view exec_id) = 0;
  // Sends `signal`; `all` signals every process of the task.
  virtual Status Kill(std::string_view exec_id, std::uint32_t signal, bool all) = 0;
  // Calls `done` once, when the process has exited (at once if it already
  // has), or with the error that ended the wait (Unavailable: shim gone).
  // Never blocks and never calls `done` inside Wait; `done` runs on a
  // runtime thread and must not block.
  virtual void Wait(std::string_view exec_id, WaitCallback done) = 0;
  // Adds process `exec_id` (not started). AlreadyExists when taken.
  virtual Status Exec(std::string_view exec_id, const ProcessIO& io, const Any& spec) = 0;
  virtual Status ResizePty(std::string_view exec_id, std::uint32_t width, std::uint32_t height) = 0;
  // Closes the process's stdin (when `stdin`).
  virtual Status CloseIO(std::string_view exec_id, bool stdin) = 0;
  // Deletes an exec'd process that has exited. REQUIRES: !exec_id.empty()
  // (the init process goes with TaskRuntime::Delete).
  virtual Result<ProcessExit> DeleteProcess(std::string_view exec_id) = 0;

  virtual Result<std::vector<ProcessInfo>> Pids() = 0;
  virtual Status Pause() = 0;
  virtual Status Resume() = 0;
  // Changes resources (an OCI LinuxResources Any) and annotations.
  virtual Status Update(const Any& resources,
                        const std::map<std::string, std::string>& annotations) = 0;
  // The task's resource figures as the runtime reports them, e.g. an
  // io.containerd.cgroups.v1.Metrics (or .v2) message. NotFound when there
  // is nothing to sample (no cgroup, the task has stopped); NotImplemented
  // when the runtime does not report them.
  virtual Result<Any> Stats() = 0;
};

class TaskRuntime : public virtual Plugin {
 public:
  ~TaskRuntime() override;

  // Creates (does not start) the task of container `options.id` in `ns`.
  // AlreadyExists when the namespace has that task; InvalidArgument for a
  // bad id or runtime name; NotFound when no shim binary serves the runtime.
  virtual Result<std::shared_ptr<Task>> Create(std::string_view ns,
                                               const TaskCreateOptions& options) = 0;
  // NotFound when the namespace has no such task.
  virtual Result<std::shared_ptr<Task>> Get(std::string_view ns, std::string_view id) = 0;
  // The namespace's tasks, in id order.
  virtual std::vector<std::shared_ptr<Task>> List(std::string_view ns) = 0;
  // Deletes the task: its init process (FailedPrecondition while it runs),
  // then its shim and bundle. How the init process ended. NotFound.
  virtual Result<ProcessExit> Delete(std::string_view ns, std::string_view id) = 0;
};

}  // namespace berth

#endif  // BERTH_RUNTIME_H_
