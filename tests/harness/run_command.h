// Running a child process with bounded waits: RunCommand captures its output
// and kills it (SIGKILL) when it outlives the bound; SpawnProcess starts one
// with the given descriptors for callers that manage it themselves.
//
// Both build everything the child needs before fork() and call only
// async-signal-safe functions in the child, so they are safe in a process
// that runs other threads (gRPC's). Thread-safe.
#ifndef BERTH_TESTS_HARNESS_RUN_COMMAND_H_
#define BERTH_TESTS_HARNESS_RUN_COMMAND_H_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace berth::test {

struct CommandResult {
  int exit_code = -1;      // the exit status, or 128 + signal number
  bool timed_out = false;  // killed for outliving the bound
  std::string out;
  std::string err;
  // "exit N; stdout: ...; stderr: ..." for assertion messages.
  std::string Describe() const;
};

struct ProcessOptions {
  std::vector<std::string> env;  // "NAME=value", added over the environment
  std::string cwd;               // "" = the caller's
};

// Runs argv[0] (looked up in PATH if it holds no '/'), feeds it `stdin_data`,
// and waits at most `timeout`.
CommandResult RunCommand(
    const std::vector<std::string>& argv, const std::string& stdin_data = "",
    std::chrono::milliseconds timeout = std::chrono::seconds(60),
    const ProcessOptions& options = {});

// Starts argv with stdin, stdout and stderr on the given descriptors (which
// the caller keeps and closes). The child's exec failure shows as exit 127.
// Returns the pid, or -1 when fork fails.
pid_t SpawnProcess(const std::vector<std::string>& argv, int stdin_fd,
                   int stdout_fd, int stderr_fd,
                   const ProcessOptions& options = {});

// Waits up to `bound` for `pid` to exit and reaps it. Returns its exit code
// (128 + signal when signalled), or nullopt if it is still running.
std::optional<int> WaitForExit(pid_t pid, std::chrono::milliseconds bound);

// Converts a waitpid status to an exit code (128 + signal when signalled).
int ExitCodeOf(int wait_status);

}  // namespace berth::test

#endif  // BERTH_TESTS_HARNESS_RUN_COMMAND_H_
