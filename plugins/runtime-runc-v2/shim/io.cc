#include "io.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>

namespace berth::shim {

// Copies one descriptor to another until the source ends, then closes both.
// A destination that fails (the reader went away) is dropped and the source
// drained, so the process never blocks on a full pipe.
class Pump : public std::enable_shared_from_this<Pump> {
 public:
  Pump(boost::asio::io_context& io, int src, int dst, std::function<void()> on_end)
      : src_(io, src), dst_(io, dst), on_end_(std::move(on_end)) {}

  void Read() {
    auto self = shared_from_this();
    src_.async_read_some(
        boost::asio::buffer(buffer_), [self](const boost::system::error_code& ec, size_t n) {
          if (ec) return self->End();
          if (!self->dst_.is_open()) return self->Read();
          boost::asio::async_write(self->dst_, boost::asio::buffer(self->buffer_.data(), n),
                                   [self](const boost::system::error_code& wec, size_t) {
                                     if (wec) {
                                       boost::system::error_code ignored;
                                       self->dst_.close(ignored);
                                     }
                                     self->Read();
                                   });
        });
  }
  // Ends without telling anyone.
  void Stop() {
    on_end_ = nullptr;
    CloseBoth();
  }

 private:
  void End() {
    CloseBoth();
    if (auto fn = std::move(on_end_)) {
      on_end_ = nullptr;
      fn();
    }
  }
  void CloseBoth() {
    boost::system::error_code ignored;
    src_.close(ignored);
    dst_.close(ignored);
  }

  boost::asio::posix::stream_descriptor src_;
  boost::asio::posix::stream_descriptor dst_;
  std::array<char, 8192> buffer_{};
  std::function<void()> on_end_;
};

namespace {

Status Errno(const std::string& what) {
  return Status::Unknown(what + ": " + std::strerror(errno));
}

void CloseFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// The client's output path: a FIFO opened read-write (never blocks, and the
// shim's own reader keeps writes from failing while the client is away), or a
// file opened for appending.
Result<int> OpenOutput(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return Errno("stat " + path);
  int fd = S_ISFIFO(st.st_mode) ? open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC)
                                : open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return Errno("open " + path);
  return fd;
}

// The pty master runc sends over the console socket.
Result<int> ReceiveMaster(int listen_fd) {
  int conn = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (conn < 0) return Errno("accept console socket");
  char data[256];
  iovec iov{data, sizeof(data)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  int saved = errno;
  close(conn);
  errno = saved;
  if (n < 0) return Errno("receive pty master");
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
      return fd;
    }
  }
  return Status::Unknown("console socket: no pty master received");
}

}  // namespace

ProcessIo::~ProcessIo() { Close(); }

Result<std::unique_ptr<ProcessIo>> ProcessIo::Create(boost::asio::io_context& io,
                                                     const StdioPaths& paths, uid_t uid,
                                                     gid_t gid) {
  std::unique_ptr<ProcessIo> p(new ProcessIo(io, paths));
  if (paths.terminal) {
    char dir[] = "/tmp/pty-XXXXXX";
    if (mkdtemp(dir) == nullptr) return Errno("console socket dir");
    p->console_dir_ = dir;
    p->console_socket_path_ = p->console_dir_ + "/pty.sock";
    p->listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (p->listen_fd_ < 0) return Errno("console socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, p->console_socket_path_.c_str(), sizeof(addr.sun_path) - 1);
    if (bind(p->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(p->listen_fd_, 1) != 0) {
      return Errno("console socket " + p->console_socket_path_);
    }
    return p;
  }
  const std::string* wanted[3] = {&paths.stdin_path, &paths.stdout_path, &paths.stderr_path};
  for (int i = 0; i < 3; ++i) {
    if (wanted[i]->empty()) continue;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return Errno("pipe");
    // stdin: the child reads fds[0]; stdout/stderr: the child writes fds[1].
    p->child_[i] = i == 0 ? fds[0] : fds[1];
    p->parent_[i] = i == 0 ? fds[1] : fds[0];
    SetNonBlocking(p->parent_[i]);
    if ((uid != 0 || gid != 0) && fchown(p->child_[i], uid, gid) != 0) {
      return Errno("chown stdio pipe");
    }
  }
  return p;
}

void ProcessIo::CloseChildEnds() {
  for (int& fd : child_) CloseFd(&fd);
}

Status ProcessIo::Start() { return paths_.terminal ? StartConsole() : StartPipes(); }

Status ProcessIo::StartPipes() {
  if (!paths_.stdin_path.empty()) {
    // Reader first: a non-blocking writer open needs one.
    int reader = open(paths_.stdin_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (reader < 0) return Errno("open stdin " + paths_.stdin_path);
    stdin_writer_ = open(paths_.stdin_path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    auto pump = std::make_shared<Pump>(io_, reader, parent_[0], nullptr);
    parent_[0] = -1;
    pumps_.push_back(pump);
    pump->Read();
  }
  const std::string* outputs[2] = {&paths_.stdout_path, &paths_.stderr_path};
  for (int i = 1; i < 3; ++i) {
    if (parent_[i] < 0) continue;
    Result<int> dst = OpenOutput(*outputs[i - 1]);
    if (!dst.ok()) return dst.status();
    auto pump = std::make_shared<Pump>(io_, parent_[i], *dst, [this] { OutputEnded(); });
    parent_[i] = -1;
    ++outputs_running_;
    pumps_.push_back(pump);
    pump->Read();
  }
  return Status::Ok();
}

Status ProcessIo::StartConsole() {
  Result<int> master = ReceiveMaster(listen_fd_);
  CloseFd(&listen_fd_);
  unlink(console_socket_path_.c_str());
  rmdir(console_dir_.c_str());
  if (!master.ok()) return master.status();
  master_fd_ = *master;
  SetNonBlocking(master_fd_);
  if (!paths_.stdin_path.empty()) {
    int reader = open(paths_.stdin_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (reader < 0) return Errno("open stdin " + paths_.stdin_path);
    stdin_writer_ = open(paths_.stdin_path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    auto pump = std::make_shared<Pump>(io_, reader, fcntl(master_fd_, F_DUPFD_CLOEXEC, 3), nullptr);
    pumps_.push_back(pump);
    pump->Read();
  }
  if (!paths_.stdout_path.empty()) {
    Result<int> dst = OpenOutput(paths_.stdout_path);
    if (!dst.ok()) return dst.status();
    auto pump = std::make_shared<Pump>(io_, fcntl(master_fd_, F_DUPFD_CLOEXEC, 3), *dst,
                                       [this] { OutputEnded(); });
    ++outputs_running_;
    pumps_.push_back(pump);
    pump->Read();
  }
  return Status::Ok();
}

void ProcessIo::CloseStdinWriter() { CloseFd(&stdin_writer_); }

Status ProcessIo::Resize(unsigned width, unsigned height) {
  if (master_fd_ < 0) return Status::Ok();
  winsize ws{};
  ws.ws_col = static_cast<unsigned short>(width);
  ws.ws_row = static_cast<unsigned short>(height);
  if (ioctl(master_fd_, TIOCSWINSZ, &ws) != 0) return Errno("resize pty");
  return Status::Ok();
}

void ProcessIo::OnOutputDone(std::function<void()> fn) {
  if (outputs_running_ == 0) return fn();
  on_output_done_.push_back(std::move(fn));
}

void ProcessIo::OutputEnded() {
  if (--outputs_running_ > 0) return;
  auto fns = std::move(on_output_done_);
  on_output_done_.clear();
  for (auto& fn : fns) fn();
}

void ProcessIo::Close() {
  for (auto& pump : pumps_) pump->Stop();
  pumps_.clear();
  outputs_running_ = 0;
  on_output_done_.clear();
  CloseChildEnds();
  for (int& fd : parent_) CloseFd(&fd);
  CloseFd(&stdin_writer_);
  CloseFd(&master_fd_);
  if (listen_fd_ >= 0) {
    CloseFd(&listen_fd_);
    unlink(console_socket_path_.c_str());
    rmdir(console_dir_.c_str());
  }
}

}  // namespace berth::shim
