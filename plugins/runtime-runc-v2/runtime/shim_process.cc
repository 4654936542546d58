#include "shim_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "berth/fs.h"

extern char** environ;

namespace berth::runtime_v2 {
namespace {

namespace fs = std::filesystem;

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

// Closes what it holds on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() { Close(); }
  void Close() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

Status MakePipe(Fd* read_end, Fd* write_end) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return ErrnoStatus("pipe", "", errno);
  read_end->fd = p[0];
  write_end->fd = p[1];
  return Status::Ok();
}

int ExitCodeOf(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return -1;
}

}  // namespace

std::string ShimBinaryName(std::string_view runtime) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = runtime.find('.', start);
    parts.push_back(runtime.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() < 2 || parts[parts.size() - 2].empty() || parts.back().empty()) return "";
  return "containerd-shim-" + std::string(parts[parts.size() - 2]) + "-" +
         std::string(parts.back());
}

Result<std::string> ResolveShimBinary(std::string_view runtime, const std::string& self_dir) {
  if (runtime.empty()) return Status::InvalidArgument("no runtime name");
  if (runtime.front() == '/') {
    std::string path(runtime);
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
      std::string why = std::strerror(errno);  // as Go prints it: lower case
      if (!why.empty()) why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
      return Status::NotFound("invalid custom binary path: stat " + path + ": " + why);
    }
    if (!IsExecutableFile(path)) return Status::NotFound("invalid custom binary path: " + path);
    return path;
  }
  std::string name = ShimBinaryName(runtime);
  if (name.empty() || name.find('/') != std::string::npos) {
    return Status::InvalidArgument("invalid runtime name " + std::string(runtime) +
                                   ", correct runtime name should be either format like "
                                   "`io.containerd.runc.v1` or a full path to the binary");
  }
  if (!self_dir.empty() && IsExecutableFile(self_dir + "/" + name)) return self_dir + "/" + name;
  const char* path_env = getenv("PATH");
  std::stringstream dirs(path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (IsExecutableFile(candidate)) return fs::absolute(candidate).string();
  }
  return Status::NotFound("runtime \"" + std::string(runtime) + "\" binary not installed \"" +
                          name + "\"");
}

std::string SelfExecutable() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : self.string();
}

Result<CommandOutput> RunCommand(const CommandSpec& spec) {
  if (spec.argv.empty()) return Status::InvalidArgument("no command");
  Fd in_r, in_w, out_r, out_w, err_r, err_w;
  BERTH_RETURN_IF_ERROR(MakePipe(&in_r, &in_w));
  BERTH_RETURN_IF_ERROR(MakePipe(&out_r, &out_w));
  BERTH_RETURN_IF_ERROR(MakePipe(&err_r, &err_w));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_r.fd, 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.fd, 2);
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, spec.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> env_store;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env_store.emplace_back(*e);
  for (const std::string& e : spec.extra_env) env_store.push_back(e);
  std::vector<char*> envp;
  for (std::string& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_store = spec.argv;
  std::vector<char*> argv;
  for (std::string& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return ErrnoStatus("spawn", spec.argv[0], rc);
  in_r.Close();
  out_w.Close();
  err_w.Close();
  if (spec.stdin_data.empty()) in_w.Close();
  if (in_w.fd >= 0) fcntl(in_w.fd, F_SETFL, O_NONBLOCK);

  CommandOutput result;
  std::size_t written = 0;
  auto deadline = std::chrono::steady_clock::now() + spec.timeout;
  bool timed_out = false;
  while (out_r.fd >= 0 || err_r.fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[3];
    int n = 0;
    if (out_r.fd >= 0) fds[n++] = {out_r.fd, POLLIN, 0};
    if (err_r.fd >= 0) fds[n++] = {err_r.fd, POLLIN, 0};
    if (in_w.fd >= 0) fds[n++] = {in_w.fd, POLLOUT, 0};
    int ready = poll(fds, n, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < n && ready > 0; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_w.fd) {
        ssize_t w =
            write(in_w.fd, spec.stdin_data.data() + written, spec.stdin_data.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) written = spec.stdin_data.size();
        if (written >= spec.stdin_data.size()) in_w.Close();
        continue;
      }
      char buf[4096];
      ssize_t r = read(fds[i].fd, buf, sizeof buf);
      if (r > 0) {
        (fds[i].fd == out_r.fd ? result.out : result.err).append(buf, static_cast<std::size_t>(r));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        (fds[i].fd == out_r.fd ? out_r : err_r).Close();
      }
    }
  }
  in_w.Close();
  // The whole process group: a shim script's own children (a `sleep`
  // holding our stdout) go with it.
  if (timed_out) kill(-pid, SIGKILL);
  // The outputs have closed (or the child was killed): its exit follows
  // promptly. A child that closed both outputs yet lingers is killed at the
  // deadline too.
  int wstatus = 0;
  while (true) {
    pid_t w = waitpid(pid, &wstatus, timed_out ? 0 : WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return ErrnoStatus("waitpid", spec.argv[0], errno);
    if (w == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(-pid, SIGKILL);
        timed_out = true;
        continue;
      }
      usleep(2000);
    }
  }
  if (timed_out) {
    return Status::DeadlineExceeded(spec.argv[0] + " did not finish within " +
                                    std::to_string(spec.timeout.count()) + "ms");
  }
  result.exit_code = ExitCodeOf(wstatus);
  return result;
}

Result<int> OpenPidfd(pid_t pid) {
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    if (errno == ESRCH) return Status::NotFound("process " + std::to_string(pid) + " not running");
    return ErrnoStatus("pidfd_open", std::to_string(pid), errno);
  }
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

Result<int> OpenLogFifo(const std::string& path) {
  if (mkfifo(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus("mkfifo", path, errno);
  }
  int fd = open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  return fd;
}

}  // namespace berth::runtime_v2
