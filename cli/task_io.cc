#include "task_io.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace berth::cli {
namespace {

constexpr int kPollMs = 100;
constexpr std::size_t kBufferBytes = 32 << 10;

Status Errno(const std::string& what) {
  return Status::Unknown(what + ": " + std::strerror(errno));
}

// Where the fifo folders go: $XDG_RUNTIME_DIR/berth/fifo for a user with
// one, else /run/berth/fifo (ctr: /run/containerd/fifo).
std::string FifoBase() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (geteuid() != 0 && xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/berth/fifo";
  }
  return "/run/berth/fifo";
}

// Writes all of `data` to the non-blocking `fd`, waiting for room while
// not stopped. False when the fd fails or a stop is asked.
bool WriteAll(int fd, const char* data, std::size_t size, const std::atomic<bool>& stop) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    if (stop.load()) return false;
    struct pollfd p = {fd, POLLOUT, 0};
    (void)poll(&p, 1, kPollMs);
  }
  return true;
}

sigset_t ForwardedSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaddset(&set, sig);
  return set;
}

}  // namespace

Result<std::unique_ptr<TaskIo>> TaskIo::Create(const std::string& id, bool terminal) {
  std::unique_ptr<TaskIo> io(new TaskIo());
  io->terminal_ = terminal;
  std::error_code ec;
  const std::string base = FifoBase();
  std::filesystem::create_directories(base, ec);
  if (ec) return Status::Unknown("creating " + base + ": " + ec.message());
  std::string tmpl = base + "/XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return Errno("creating a folder in " + base);
  io->dir_ = tmpl;  // from here on the destructor removes what exists
  io->stdin_path_ = io->dir_ + "/" + id + "-stdin";
  io->stdout_path_ = io->dir_ + "/" + id + "-stdout";
  if (!terminal) io->stderr_path_ = io->dir_ + "/" + id + "-stderr";
  for (const std::string* path : {&io->stdin_path_, &io->stdout_path_, &io->stderr_path_}) {
    if (path->empty()) continue;
    if (mkfifo(path->c_str(), 0700) != 0) return Errno("mkfifo " + *path);
  }
  // O_RDWR on a fifo never blocks and never sees EPIPE; the shim reads.
  io->stdin_fd_ = open(io->stdin_path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (io->stdin_fd_ < 0) return Errno("opening " + io->stdin_path_);
  for (const std::string* path : {&io->stdout_path_, &io->stderr_path_}) {
    if (path->empty()) continue;
    int reader = open(path->c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (reader < 0) return Errno("opening " + *path);
    io->output_fds_.push_back(reader);
    int hold = open(path->c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (hold < 0) return Errno("opening " + *path);
    io->hold_fds_.push_back(hold);
  }
  return io;
}

TaskIo::~TaskIo() {
  Stop();
  ReleaseHold();
  if (stdin_fd_ >= 0) close(stdin_fd_);
  for (int fd : output_fds_) close(fd);
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void TaskIo::StartOutput() {
  threads_.emplace_back(&TaskIo::CopyOut, this, output_fds_[0], STDOUT_FILENO, &stdout_done_);
  if (output_fds_.size() > 1) {
    threads_.emplace_back(&TaskIo::CopyOut, this, output_fds_[1], STDERR_FILENO, &stderr_done_);
  } else {
    stderr_done_ = true;
  }
}

void TaskIo::StartInput(std::function<void()> on_eof) {
  threads_.emplace_back(&TaskIo::CopyIn, this, std::move(on_eof));
}

void TaskIo::ReleaseHold() {
  for (int fd : hold_fds_) close(fd);
  hold_fds_.clear();
}

bool TaskIo::WaitOutput(std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!(stdout_done_.load() && stderr_done_.load())) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void TaskIo::Stop() {
  stop_ = true;
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

void TaskIo::CopyOut(int from, int to, std::atomic<bool>* done) {
  char buf[kBufferBytes];
  while (!stop_.load()) {
    struct pollfd p = {from, POLLIN, 0};
    int ready = poll(&p, 1, kPollMs);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    ssize_t n = read(from, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;  // end-of-file: every writer closed
    if (!WriteAll(to, buf, static_cast<std::size_t>(n), stop_)) break;
  }
  *done = true;
}

void TaskIo::CopyIn(std::function<void()> on_eof) {
  char buf[kBufferBytes];
  bool ended = false;
  while (!stop_.load()) {
    struct pollfd p = {STDIN_FILENO, POLLIN, 0};
    int ready = poll(&p, 1, kPollMs);
    if (ready < 0 && errno != EINTR) {
      ended = true;
      break;
    }
    if (ready <= 0) continue;
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0 || !WriteAll(stdin_fd_, buf, static_cast<std::size_t>(n), stop_)) {
      ended = n <= 0;
      break;
    }
  }
  if (ended) {
    close(stdin_fd_);
    stdin_fd_ = -1;
    if (on_eof) on_eof();
  }
}

RawTerminal::RawTerminal(int fd) : fd_(fd) {
  if (isatty(fd_) != 1 || tcgetattr(fd_, &saved_) != 0) return;
  struct termios raw = saved_;
  cfmakeraw(&raw);
  active_ = tcsetattr(fd_, TCSANOW, &raw) == 0;
}

RawTerminal::~RawTerminal() {
  if (active_) (void)tcsetattr(fd_, TCSANOW, &saved_);
}

void BlockTaskSignals() {
  sigset_t set = ForwardedSignals();
  sigaddset(&set, SIGWINCH);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

SignalForwarder::SignalForwarder(std::function<void(int)> forward) {
  thread_ = std::thread([this, forward = std::move(forward)] {
    const sigset_t set = ForwardedSignals();
    while (!stop_.load()) {
      struct timespec period = {0, kPollMs * 1000000L};
      const int sig = sigtimedwait(&set, nullptr, &period);
      if (sig > 0) forward(sig);
    }
  });
}

SignalForwarder::~SignalForwarder() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

ResizeWatcher::ResizeWatcher(std::function<void(unsigned, unsigned)> resize) {
  if (isatty(STDIN_FILENO) != 1) return;
  thread_ = std::thread([this, resize = std::move(resize)] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    bool changed = true;  // the size at start
    while (!stop_.load()) {
      if (changed) {
        struct winsize ws {};
        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
          resize(ws.ws_col, ws.ws_row);
        }
      }
      struct timespec period = {0, kPollMs * 1000000L};
      changed = sigtimedwait(&set, nullptr, &period) == SIGWINCH;
    }
  });
}

ResizeWatcher::~ResizeWatcher() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

}  // namespace berth::cli
