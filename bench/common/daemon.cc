#include "daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "cleanup.h"
#include "containerd/services/version/v1/version.grpc.pb.h"

namespace berth::bench {
namespace {

using Clock = std::chrono::steady_clock;

// A plain connect first: cheap, and skips building a channel while the
// socket does not exist yet.
bool SocketAccepts(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

bool VersionAnswers(const std::string& socket) {
  if (!SocketAccepts(socket)) return false;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel("unix://" + socket,
                                           grpc::InsecureChannelCredentials(), args);
  auto stub = containerd::services::version::v1::Version::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  google::protobuf::Empty req;
  containerd::services::version::v1::VersionResponse resp;
  return stub->Version(&ctx, req, &resp).ok();
}

// fork + exec; the child only makes async-signal-safe calls. Every argument
// is prepared before the fork. `started_at`, when given, is read right
// before the fork.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& stdin_path,
            const std::string& log_path, Clock::time_point* started_at = nullptr) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const pid_t parent = getpid();
  if (started_at != nullptr) *started_at = Clock::now();
  const pid_t pid = fork();
  if (pid != 0) {
    if (pid > 0) Cleanup::AddChild(pid);
    return pid;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  const int in = open(stdin_path.c_str(), O_RDONLY);
  const int out = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) {
    _exit(127);
  }
  execv(cargv[0], cargv.data());
  _exit(127);
}

int ExitCode(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

Daemon::Daemon(const std::string& binary, const std::string& dir,
               const std::string& extra_toml)
    : socket_(dir + "/daemon.sock"), log_(dir + "/daemon.log") {
  std::filesystem::create_directories(dir);
  const std::string config = dir + "/config.toml";
  std::ofstream(config) << "version = 2\n"
                        << "root = \"" << dir << "/root\"\n"
                        << "state = \"" << dir << "/state\"\n"
                        << extra_toml << "\n"
                        << "[grpc]\n  address = \"" << socket_ << "\"\n";
  pid_ = Spawn({binary, "--config", config}, "/dev/null", log_, &started_at_);
}

Daemon::~Daemon() { Stop(); }

bool Daemon::WaitServing(std::chrono::microseconds poll) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (pid_ > 0 && Clock::now() < deadline) {
    if (VersionAnswers(socket_)) return true;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      Cleanup::RemoveChild(pid_);
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(poll);
  }
  return false;
}

void Daemon::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  int status;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Cleanup::RemoveChild(pid_);
  pid_ = -1;
}

int RunToCompletion(const std::vector<std::string>& argv, const std::string& stdin_path,
                    const std::string& log_path) {
  const pid_t pid = Spawn(argv, stdin_path, log_path);
  if (pid < 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  Cleanup::RemoveChild(pid);
  return ExitCode(status);
}

}  // namespace berth::bench
