#include "run_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace berth::test {
namespace {

using Clock = std::chrono::steady_clock;

// The child's environment: ours with `overrides` replacing same-named entries.
std::vector<std::string> BuildEnvironment(
    const std::vector<std::string>& overrides) {
  std::vector<std::string> env;
  auto name_of = [](const std::string& entry) {
    return entry.substr(0, entry.find('='));
  };
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string current = *entry;
    bool overridden = false;
    for (const auto& o : overrides)
      overridden |= name_of(o) == name_of(current);
    if (!overridden) env.push_back(std::move(current));
  }
  env.insert(env.end(), overrides.begin(), overrides.end());
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (auto& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Runs in the forked child: only async-signal-safe calls.
[[noreturn]] void ExecChild(char** argv, char** envp, int in, int out, int err,
                            const char* cwd) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(127);
  if (cwd != nullptr && chdir(cwd) != 0) _exit(127);
  execvpe(argv[0], argv, envp);
  const char message[] = "exec failed: ";
  (void)!write(2, message, sizeof(message) - 1);
  (void)!write(2, argv[0], strlen(argv[0]));
  (void)!write(2, "\n", 1);
  _exit(127);
}

struct Pipe {
  int read = -1;
  int write = -1;
  bool Open() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return false;
    read = fds[0];
    write = fds[1];
    return true;
  }
};

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

int MillisUntil(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Moves data between the child's pipes until both outputs close or the
// deadline passes. Returns false on timeout.
bool PumpPipes(int& in_fd, const std::string& input, int& out_fd, int& err_fd,
               CommandResult& result, Clock::time_point deadline) {
  std::size_t written = 0;
  if (input.empty()) CloseFd(in_fd);
  while (out_fd >= 0 || err_fd >= 0) {
    pollfd fds[3] = {
        {out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {in_fd, POLLOUT, 0}};
    int ready = poll(fds, 3, MillisUntil(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    char buffer[65536];
    int* fds_out[2] = {&out_fd, &err_fd};
    std::string* sinks[2] = {&result.out, &result.err};
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) continue;
      ssize_t n = read(*fds_out[i], buffer, sizeof(buffer));
      if (n > 0) sinks[i]->append(buffer, static_cast<std::size_t>(n));
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
        CloseFd(*fds_out[i]);
    }
    if (fds[2].revents != 0) {
      ssize_t n = write(in_fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      if (n < 0 && errno != EINTR && errno != EAGAIN) CloseFd(in_fd);
      if (written == input.size()) CloseFd(in_fd);
    }
  }
  return true;
}

}  // namespace

std::string CommandResult::Describe() const {
  return "exit " + std::to_string(exit_code) +
         (timed_out ? " (timed out, killed)" : "") + "\n--- stdout:\n" + out +
         "\n--- stderr:\n" + err;
}

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

pid_t SpawnProcess(const std::vector<std::string>& argv, int stdin_fd,
                   int stdout_fd, int stderr_fd,
                   const ProcessOptions& options) {
  std::vector<std::string> args = argv;
  std::vector<std::string> env = BuildEnvironment(options.env);
  std::vector<char*> c_args = CStrings(args);
  std::vector<char*> c_env = CStrings(env);
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  pid_t pid = fork();
  if (pid == 0) {
    ExecChild(c_args.data(), c_env.data(), stdin_fd, stdout_fd, stderr_fd, cwd);
  }
  return pid;
}

std::optional<int> WaitForExit(pid_t pid, std::chrono::milliseconds bound) {
  const auto deadline = Clock::now() + bound;
  while (true) {
    int wait_status = 0;
    pid_t done = waitpid(pid, &wait_status, WNOHANG);
    if (done == pid) return ExitCodeOf(wait_status);
    if (done < 0 && errno != EINTR) return -1;  // not our child (reaped)
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::string& stdin_data,
                         std::chrono::milliseconds timeout,
                         const ProcessOptions& options) {
  signal(SIGPIPE, SIG_IGN);  // a child that stops reading must not kill us
  CommandResult result;
  Pipe in, out, err;
  if (!in.Open() || !out.Open() || !err.Open()) {
    result.err = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  const auto deadline = Clock::now() + timeout;
  pid_t pid = SpawnProcess(argv, in.read, out.write, err.write, options);
  CloseFd(in.read);
  CloseFd(out.write);
  CloseFd(err.write);
  if (pid < 0) {
    result.err = std::string("fork: ") + std::strerror(errno);
  } else {
    fcntl(in.write, F_SETFL, O_NONBLOCK);
    bool finished =
        PumpPipes(in.write, stdin_data, out.read, err.read, result, deadline);
    std::optional<int> code;
    if (finished)
      code = WaitForExit(pid, std::chrono::milliseconds(MillisUntil(deadline)));
    if (!code) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      code = WaitForExit(pid, std::chrono::seconds(10));
    }
    result.exit_code = code.value_or(-1);
  }
  CloseFd(in.write);
  CloseFd(out.read);
  CloseFd(err.read);
  return result;
}

}  // namespace berth::test
