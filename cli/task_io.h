// The stdio of one task process as berthctl attaches it, like ctr's cio:
// fifos in a fresh folder under $XDG_RUNTIME_DIR/berth/fifo or
// /run/berth/fifo (<id>-stdin, -stdout, -stderr; no stderr with a
// terminal), whose paths go to Tasks.Create or Tasks.Exec, and threads
// copying berthctl's stdin to the stdin fifo and the output fifos to its
// stdout and stderr.
//
// Until ReleaseHold(), berthctl holds a writer on each output fifo itself,
// so that a reader never sees end-of-file before the shim has opened its
// end; call it once the process has started. Every descriptor is
// non-blocking and every thread polls with a short period, so Stop() always
// ends them promptly.
//
// Also RawTerminal (the local terminal in raw mode, restored on
// destruction), ResizeWatcher (SIGWINCH to a callback) and SignalForwarder.
//
// TaskIo's methods are called from one thread; its copying threads touch
// only their own descriptors and the atomics.
#ifndef BERTH_CLI_TASK_IO_H_
#define BERTH_CLI_TASK_IO_H_

#include <termios.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "berth/status.h"

namespace berth::cli {

class TaskIo {
 public:
  // Makes the folder and the fifos and opens berthctl's ends. Unknown with
  // the errno text when a step fails (what was made is removed).
  static Result<std::unique_ptr<TaskIo>> Create(const std::string& id, bool terminal);
  // Stops the threads, closes every descriptor, removes the fifos and the
  // folder.
  ~TaskIo();
  TaskIo(const TaskIo&) = delete;
  TaskIo& operator=(const TaskIo&) = delete;

  const std::string& stdin_path() const { return stdin_path_; }
  const std::string& stdout_path() const { return stdout_path_; }
  const std::string& stderr_path() const { return stderr_path_; }  // "" with a terminal
  bool terminal() const { return terminal_; }

  // Starts copying the output fifos to berthctl's stdout and stderr.
  void StartOutput();
  // Starts copying berthctl's stdin to the stdin fifo; when it ends, closes
  // berthctl's end and calls `on_eof` (on the copying thread), e.g. for
  // Tasks.CloseIO.
  void StartInput(std::function<void()> on_eof);
  // Drops berthctl's own writers of the output fifos (see above).
  void ReleaseHold();
  // Waits up to `bound` for the output fifos to reach end-of-file; true when
  // they did.
  bool WaitOutput(std::chrono::milliseconds bound);
  // Ends and joins every thread. Idempotent.
  void Stop();

 private:
  TaskIo() = default;
  void CopyOut(int from, int to, std::atomic<bool>* done);
  void CopyIn(std::function<void()> on_eof);

  bool terminal_ = false;
  std::string dir_;
  std::string stdin_path_, stdout_path_, stderr_path_;
  int stdin_fd_ = -1;              // O_RDWR on the stdin fifo
  std::vector<int> output_fds_;    // readers of stdout (and stderr)
  std::vector<int> hold_fds_;      // berthctl's writers until ReleaseHold
  std::atomic<bool> stop_{false};
  std::atomic<bool> stdout_done_{false}, stderr_done_{false};
  std::vector<std::thread> threads_;
};

// The terminal on `fd` in raw mode while this lives (nothing when `fd` is
// not a terminal).
class RawTerminal {
 public:
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  int fd_;
  bool active_ = false;
  struct termios saved_ {};
};

// Calls `resize(width, height)` with the size of the terminal on stdin now
// and after each SIGWINCH, from its own thread, until destroyed. Does
// nothing when stdin is not a terminal.
// REQUIRES: BlockTaskSignals() ran before any thread was started.
class ResizeWatcher {
 public:
  explicit ResizeWatcher(std::function<void(unsigned width, unsigned height)> resize);
  ~ResizeWatcher();
  ResizeWatcher(const ResizeWatcher&) = delete;
  ResizeWatcher& operator=(const ResizeWatcher&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Sends the signals berthctl gets (SIGINT, SIGTERM, SIGHUP, SIGQUIT,
// SIGUSR1, SIGUSR2) to a process through `forward(signal)`, from its own
// thread, until destroyed (ctr's ForwardAllSignals).
// REQUIRES: BlockTaskSignals() ran before any thread was started.
class SignalForwarder {
 public:
  explicit SignalForwarder(std::function<void(int signal)> forward);
  ~SignalForwarder();
  SignalForwarder(const SignalForwarder&) = delete;
  SignalForwarder& operator=(const SignalForwarder&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Blocks SIGWINCH and the forwarded signals in the calling thread (and the
// threads it starts later), so that ResizeWatcher and SignalForwarder take
// them; ignores SIGPIPE. Until a SignalForwarder runs, the forwarded
// signals stay pending (a Ctrl-C while the container is made reaches the
// process once it starts).
void BlockTaskSignals();

}  // namespace berth::cli

#endif  // BERTH_CLI_TASK_IO_H_
