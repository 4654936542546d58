// Runc: the OCI runtime CLI (runc, or crun: the same flags) driven the way
// containerd's shim drives it — `<binary> --root <Root>/<ns> --log
// <bundle>/log.json --log-format json [--systemd-cgroup] <command> ...` —
// every call asynchronous on the CommandRunner.
//
// Errors: a failed invocation answers Unknown "<what>: <message>", the
// message being runc's output, else the last error line of log.json, else
// "exit status N". Single-threaded; callbacks on the io thread.
#ifndef BERTH_SHIM_RUNC_H_
#define BERTH_SHIM_RUNC_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "berth/status.h"
#include "command.h"

namespace berth::shim {

struct RuncConfig {
  std::string binary = "runc";  // RuncOptions.binary_name; default "runc"
  std::string root;             // <RuncOptions.root or /run/containerd/runc>/<namespace>
  std::string log_path;         // <bundle>/log.json
  bool systemd_cgroup = false;
};

// The child's 0, 1, 2; -1 as CommandSpec.
struct RuncStdio {
  int in = -1;
  int out = -1;
  int err = -1;
  // -1 means /dev/null, not the capture of runc's output (create, exec).
  bool container = false;
};

// Held by shared_ptr: an invocation in flight keeps its Runc.
class Runc : public std::enable_shared_from_this<Runc> {
 public:
  using Done = std::function<void(Status)>;

  Runc(CommandRunner& runner, RuncConfig config) : runner_(runner), config_(std::move(config)) {}

  struct CreateOptions {
    std::string bundle;
    std::string pid_file;
    std::string console_socket;  // "" without a terminal
    bool no_pivot = false;
    bool no_new_keyring = false;
    RuncStdio stdio;
  };
  void Create(const std::string& id, const CreateOptions& options, Done done);
  struct ExecOptions {
    std::string process_file;  // the process spec as JSON
    std::string pid_file;
    std::string console_socket;
    RuncStdio stdio;
  };
  // `exec --detach`: done once the process runs and the pid file is written.
  void Exec(const std::string& id, const ExecOptions& options, Done done);
  void Start(const std::string& id, Done done);
  void Delete(const std::string& id, bool force, Done done);
  void Kill(const std::string& id, int signal, bool all, Done done);
  void Pause(const std::string& id, Done done);
  void Resume(const std::string& id, Done done);
  // `update --resources <file>` with a JSON LinuxResources.
  void Update(const std::string& id, const std::string& resources_file, Done done);
  // `ps --format json`: the container's host pids.
  void Ps(const std::string& id, std::function<void(Result<std::vector<int>>)> done);

  // The argv of `<binary> <global flags> args...` (also for the blocking
  // `delete` action).
  std::vector<std::string> Command(std::vector<std::string> args) const;
  // The last "error" message in log.json, "" when none.
  std::string LastLogError() const;
  const RuncConfig& config() const { return config_; }

 private:
  void RunOrError(std::vector<std::string> args, RuncStdio stdio, std::string what, Done done);

  CommandRunner& runner_;
  RuncConfig config_;
};

}  // namespace berth::shim

#endif  // BERTH_SHIM_RUNC_H_
