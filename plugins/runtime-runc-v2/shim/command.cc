#include "command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

extern char** environ;

namespace berth::shim {
namespace {

struct Running {
  explicit Running(boost::asio::io_context& io) : pipe(io) {}
  boost::asio::posix::stream_descriptor pipe;
  std::array<char, 4096> buffer{};
  std::string output;
  CommandRunner::Done done;

  void Read(std::shared_ptr<Running> self) {
    if (!pipe.is_open()) return;
    pipe.async_read_some(boost::asio::buffer(buffer),
                         [self](const boost::system::error_code& ec, size_t n) {
                           if (ec) return;  // EOF or closed at exit
                           self->output.append(self->buffer.data(), n);
                           self->Read(self);
                         });
  }
  // What is left in the pipe once the child exited (its own writes are done;
  // a grandchild that kept the pipe is not waited for).
  void Drain() {
    if (!pipe.is_open()) return;
    int fd = pipe.native_handle();
    for (;;) {
      ssize_t n = read(fd, buffer.data(), buffer.size());
      if (n <= 0) break;
      output.append(buffer.data(), static_cast<size_t>(n));
    }
    boost::system::error_code ignored;
    pipe.close(ignored);
  }
};

// Whether `name` names an executable, as execvp would find it: a path as
// given, else the first match in $PATH.
bool Executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    const std::size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    if (dir.empty()) dir = ".";
    if (access((dir + "/" + name).c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) return false;
    dirs.remove_prefix(colon + 1);
  }
}

}  // namespace

void CommandRunner::Run(CommandSpec spec, Done done) {
  if (spec.argv.empty()) {
    boost::asio::post(io_, [done] { done(Status::InvalidArgument("empty command")); });
    return;
  }
  // An exec failure in the child shows only as exit 127; say which binary.
  if (!Executable(spec.argv[0])) {
    std::string message = "exec: \"" + spec.argv[0] + "\": executable file not found in $PATH";
    boost::asio::post(io_, [done, message] { done(Status::NotFound(message)); });
    return;
  }
  // Everything the child needs is built before fork.
  std::vector<char*> argv;
  for (auto& a : spec.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    // NOTIFY_SOCKET changes runc's behaviour; only systemd should set it.
    if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) envp.push_back(*e);
  }
  envp.push_back(nullptr);

  int capture[2] = {-1, -1};
  bool capturing = !spec.null_output && (spec.stdout_fd < 0 || spec.stderr_fd < 0);
  if (capturing && pipe2(capture, O_CLOEXEC) != 0) {
    std::string err = std::strerror(errno);
    boost::asio::post(io_, [done, err] { done(Status::Unknown("pipe: " + err)); });
    return;
  }
  if (capturing) fcntl(capture[0], F_SETFL, O_NONBLOCK);
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  int in = spec.stdin_fd >= 0 ? spec.stdin_fd : null_fd;
  int unset_output = spec.null_output ? null_fd : capture[1];
  int out = spec.stdout_fd >= 0 ? spec.stdout_fd : unset_output;
  int err = spec.stderr_fd >= 0 ? spec.stderr_fd : unset_output;
  pid_t parent = getpid();

  pid_t pid = fork();
  if (pid == 0) {
    if (spec.kill_with_parent) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    // dup2 onto 0..2 clears CLOEXEC; a descriptor already in place keeps it,
    // so clear it by hand.
    int fds[3] = {in, out, err};
    for (int i = 0; i < 3; ++i) {
      if (fds[i] < 0) continue;
      if (fds[i] == i) {
        fcntl(i, F_SETFD, 0);
      } else {
        dup2(fds[i], i);
      }
    }
    close_range(3, ~0U, 0);
    execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  int fork_errno = errno;
  if (null_fd >= 0) close(null_fd);
  if (capture[1] >= 0) close(capture[1]);
  if (pid < 0) {
    if (capture[0] >= 0) close(capture[0]);
    std::string text = std::strerror(fork_errno);
    boost::asio::post(io_, [done, text] { done(Status::Unknown("fork: " + text)); });
    return;
  }
  if (log_.Enabled(LogLevel::kDebug)) {
    std::string line = "run";
    for (const auto& a : spec.argv) line += " " + a;
    log_.Debug(line + " (pid " + std::to_string(pid) + ")");
  }
  auto running = std::make_shared<Running>(io_);
  running->done = std::move(done);
  if (capture[0] >= 0) {
    running->pipe.assign(capture[0]);
    running->Read(running);
  }
  reaper_.WatchChild(pid, [running](int code) {
    running->Drain();
    CommandOutcome outcome{code, std::move(running->output)};
    running->done(std::move(outcome));
  });
}

}  // namespace berth::shim
