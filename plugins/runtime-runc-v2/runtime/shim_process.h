// The platform side of running shims: finding a shim binary by runtime name
// as containerd does, running a shim command (`start`, `delete`) to its end
// with a bound, and the small Linux calls around it (pidfd, mkfifo). Kept
// here so the runtime's logic reads free of fork/exec details.
//
// Thread-safe (no state). RunCommand may be called from any thread of a
// multi-threaded process (it spawns with posix_spawn).
#ifndef BERTH_PLUGINS_RUNTIME_RUNC_V2_RUNTIME_SHIM_PROCESS_H_
#define BERTH_PLUGINS_RUNTIME_RUNC_V2_RUNTIME_SHIM_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "berth/status.h"

namespace berth::runtime_v2 {

// containerd's shim binary name for a runtime name: "io.containerd.runc.v2"
// → "containerd-shim-runc-v2" (the last two dotted parts). "" when the name
// has fewer than two parts.
std::string ShimBinaryName(std::string_view runtime);

// The shim binary for `runtime`: an absolute path as is (NotFound when no
// file is there); else ShimBinaryName looked up in `self_dir` (berthd's own
// folder), then on PATH. InvalidArgument for a name without a binary name;
// NotFound naming the binary when none is installed.
Result<std::string> ResolveShimBinary(std::string_view runtime, const std::string& self_dir);

// The path of the running executable (/proc/self/exe).
std::string SelfExecutable();

struct CommandSpec {
  std::vector<std::string> argv;       // argv[0] is the program's path
  std::string cwd;                     // "" = inherit
  std::vector<std::string> extra_env;  // "NAME=value", added to the environment
  std::string stdin_data;              // written to the child's stdin, then closed
  std::chrono::milliseconds timeout{30000};
};

struct CommandOutput {
  int exit_code = -1;  // 128 + signal when signalled
  std::string out;
  std::string err;
};

// Runs the command in a process group of its own and collects its stdout
// and stderr until both close and it exits. The child's process group is
// SIGKILLed when `timeout` passes first (DeadlineExceeded). Unknown with the errno text
// when it cannot be spawned. A non-zero exit is not an error here.
Result<CommandOutput> RunCommand(const CommandSpec& spec);

// A pidfd for `pid` (pidfd_open), readable once the process has exited.
// NotFound when no such process.
Result<int> OpenPidfd(pid_t pid);

// Makes a fifo at `path` (an existing one is kept) and opens it read-write,
// non-blocking, close-on-exec: a writer's open never blocks on it and it
// never reads end-of-file while open.
Result<int> OpenLogFifo(const std::string& path);

}  // namespace berth::runtime_v2

#endif  // BERTH_PLUGINS_RUNTIME_RUNC_V2_RUNTIME_SHIM_PROCESS_H_
