// ProcessIo: the stdio of one container process, copied on the event loop
// between the process and the paths containerd's client gave (FIFOs, which
// ctr creates and reads; or plain files). Never blocks: every descriptor is
// non-blocking and copied with Asio.
//
// Without a terminal: one pipe per stdio path the client gave (the process
// gets /dev/null for the others); the child ends go to runc, the shim keeps
// the others. With a terminal: a console socket the runtime sends the pty
// master to (SCM_RIGHTS); stdin is copied to the master, the master to
// stdout.
//
// Like containerd's shim, the stdin FIFO is also held open for writing, so
// the process sees EOF only after CloseIO and the client closing its end.
//
// Single-threaded (the io thread). The ProcessIo must outlive nothing: its
// pumps hold what they need.
#ifndef BERTH_SHIM_IO_H_
#define BERTH_SHIM_IO_H_

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "berth/status.h"
#include "runc.h"

namespace berth::shim {

struct StdioPaths {
  std::string stdin_path;
  std::string stdout_path;
  std::string stderr_path;
  bool terminal = false;
};

class Pump;

class ProcessIo {
 public:
  ~ProcessIo();
  ProcessIo(const ProcessIo&) = delete;
  ProcessIo& operator=(const ProcessIo&) = delete;

  // Pipes (no terminal) or a console socket (terminal). `uid`/`gid` own the
  // child ends of the pipes (RuncOptions io_uid/io_gid; 0 leaves them).
  // Unknown with errno text on failure.
  static Result<std::unique_ptr<ProcessIo>> Create(boost::asio::io_context& io,
                                                   const StdioPaths& paths, uid_t uid, gid_t gid);

  // What runc gets as 0, 1, 2 (-1 = /dev/null), and the console socket path
  // ("" without a terminal).
  RuncStdio child_stdio() const { return {child_[0], child_[1], child_[2]}; }
  const std::string& console_socket() const { return console_socket_path_; }
  // Closes the child ends once runc has them.
  void CloseChildEnds();

  // After a successful create/exec: takes the pty master from the console
  // socket (terminal), opens the client's paths and starts copying.
  // Unknown naming the path that failed.
  Status Start();

  // CloseIO: drops the shim's own writer of the stdin FIFO.
  void CloseStdinWriter();
  // TIOCSWINSZ on the pty master; nothing without a terminal.
  Status Resize(unsigned width, unsigned height);
  // Runs `fn` once every output copy (stdout, stderr, or the master) ended;
  // at once (synchronously) when none runs.
  void OnOutputDone(std::function<void()> fn);
  // Stops every copy and closes every descriptor. Idempotent.
  void Close();

 private:
  ProcessIo(boost::asio::io_context& io, StdioPaths paths) : io_(io), paths_(std::move(paths)) {}
  Status StartPipes();
  Status StartConsole();
  void OutputEnded();

  boost::asio::io_context& io_;
  StdioPaths paths_;
  int child_[3] = {-1, -1, -1};
  int parent_[3] = {-1, -1, -1};  // our ends: stdin write, stdout read, stderr read
  int listen_fd_ = -1;            // console socket
  std::string console_dir_;
  std::string console_socket_path_;
  int master_fd_ = -1;  // pty master (kept for resize)
  int stdin_writer_ = -1;
  std::vector<std::shared_ptr<Pump>> pumps_;
  int outputs_running_ = 0;
  std::vector<std::function<void()>> on_output_done_;
};

}  // namespace berth::shim

#endif  // BERTH_SHIM_IO_H_
