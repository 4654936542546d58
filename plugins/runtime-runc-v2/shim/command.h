// CommandRunner: runs a helper program (runc, crun) without ever blocking the
// loop: fork+exec, its exit collected by the Reaper, its stdout and stderr
// (when not redirected) captured through one pipe read as it comes.
//
// Single-threaded: `done` runs on the io_context's thread, never inside Run.
#ifndef BERTH_SHIM_COMMAND_H_
#define BERTH_SHIM_COMMAND_H_

#include <boost/asio/io_context.hpp>
#include <functional>
#include <string>
#include <vector>

#include "berth/logger.h"
#include "berth/status.h"
#include "reaper.h"

namespace berth::shim {

struct CommandSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it holds no '/'
  // Descriptors for the child's 0, 1, 2 (kept by the caller). -1: /dev/null
  // for stdin; the capture pipe for stdout and stderr.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // Unset stdout and stderr go to /dev/null instead (nothing is captured):
  // for runc create/exec of a process without stdio, whose descriptors the
  // container inherits and must outlive the capture.
  bool null_output = false;
  // Default on: the child gets SIGKILL when the shim dies (as containerd's
  // shim runs runc).
  bool kill_with_parent = true;
};

struct CommandOutcome {
  int exit_code = 0;   // the exit status, or 128 + signal
  std::string output;  // stdout and stderr interleaved, when captured
};

class CommandRunner {
 public:
  using Done = std::function<void(Result<CommandOutcome>)>;

  CommandRunner(boost::asio::io_context& io, Reaper& reaper, Logger& log)
      : io_(io), reaper_(reaper), log_(log) {}

  // Starts `spec`. `done` gets the outcome when the child exits (a non-zero
  // exit is an outcome, not an error), or Unknown with errno text when it
  // cannot be started.
  void Run(CommandSpec spec, Done done);

 private:
  boost::asio::io_context& io_;
  Reaper& reaper_;
  Logger& log_;
};

}  // namespace berth::shim

#endif  // BERTH_SHIM_COMMAND_H_
