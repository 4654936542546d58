// The shim's record of its container and the container's processes (init and
// execs), with the bundle files containerd's shim keeps beside config.json:
// options.json (the runc options, for `delete` when the serving shim is gone),
// runtime (the binary name), init.pid and <exec id>.pid.
//
// Single-threaded (the io thread).
#ifndef BERTH_SHIM_PROCESS_H_
#define BERTH_SHIM_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "berth/status.h"
#include "io.h"
#include "runc.h"
#include "stats.h"
#include "task_wire.pb.h"

namespace berth::shim {

namespace wire = ::berth::task::wire;

// Frozen: the names State answers through wire::Status.
enum class ProcessState { kCreated, kRunning, kPausing, kPaused, kStopped };

struct Process {
  std::string id;       // the container id for init, the exec id for an exec
  std::string exec_id;  // "" for init
  pid_t pid = 0;
  ProcessState state = ProcessState::kCreated;
  bool exit_seen = false;  // reaped; stdout may still drain before kStopped
  int exit_status = 0;
  std::chrono::system_clock::time_point exited_at{};
  StdioPaths stdio;
  std::unique_ptr<ProcessIo> io;
  std::string spec_json;                       // an exec's process spec, as the client sent it
  std::vector<std::function<void()>> waiters;  // run once, at kStopped

  bool stopped() const { return state == ProcessState::kStopped; }
  // kStopped with `code`, now; runs the waiters.
  void SetExited(int code);
};

struct Container {
  std::string id;
  std::string bundle;
  std::string rootfs;  // <bundle>/rootfs when mounts were given, else ""
  std::string ns;
  wire::RuncOptions options;
  std::shared_ptr<Runc> runc;
  Process init;
  std::map<std::string, std::unique_ptr<Process>> execs;
  std::set<std::string> reserved;  // exec ids between Exec and its answer
  bool kill_all_on_exit = true;    // no private pid namespace
  // The init's cgroup, found once it was created; Stats reads it after the
  // init exited too (its pid may be another's by then).
  std::optional<CgroupPaths> cgroup;

  // The process `exec_id` names; null when none (FailedPrecondition/NotFound
  // is the caller's to answer).
  Process* Find(const std::string& exec_id);
};

// The runc options of a CreateTaskRequest: none, or an Any typed
// "containerd.runc.v1.Options". InvalidArgument for another type or bytes
// that do not parse.
Result<wire::RuncOptions> DecodeRuncOptions(const wire::Any& any);
// "<root or /run/containerd/runc>/<ns>".
std::string RuncRootFor(const wire::RuncOptions& options, const std::string& ns);
// options.json as containerd's shim writes it (protobuf JSON names, empty
// fields omitted), and back (only the fields `delete` needs).
std::string OptionsJson(const wire::RuncOptions& options);
wire::RuncOptions ParseOptionsJson(const std::string& json);

// Whether config.json gives the container no pid namespace of its own (then
// init's exit must kill the rest, as containerd's ShouldKillAllOnExit).
bool ShouldKillAllOnExit(const std::string& bundle);
// The pid a runtime wrote; InvalidArgument or Unknown when missing or bad.
Result<pid_t> ReadPidFile(const std::string& path);
// Writes through a temporary file and rename. Unknown with errno text.
Status WriteFileAtomic(const std::string& path, const std::string& content, int mode = 0600);
Result<std::string> ReadWholeFile(const std::string& path);
// The string member `key` of the JSON object `j`; "" when `j` is no object or
// the member is absent or no string. Never throws.
std::string JsonString(const nlohmann::json& j, const char* key);

void ToWire(std::chrono::system_clock::time_point t, wire::Timestamp* out);
wire::Status ToWireStatus(ProcessState state);

}  // namespace berth::shim

#endif  // BERTH_SHIM_PROCESS_H_
