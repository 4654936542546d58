#include "cleanup.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace berth::bench {
namespace {

std::mutex& Mu() {
  static std::mutex mu;
  return mu;
}
std::vector<std::string>& Dirs() {
  static std::vector<std::string> dirs;
  return dirs;
}
std::set<pid_t>& Children() {
  static std::set<pid_t> children;
  return children;
}

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void Cleanup::Install() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) return;
    std::fprintf(stderr, "\n%s: signal %d, cleaning up\n", program_invocation_short_name, sig);
    Run();
    _exit(128 + sig);
  }).detach();
}

void Cleanup::AddDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(Mu());
  Dirs().push_back(dir);
}

void Cleanup::AddChild(pid_t pid) {
  std::lock_guard<std::mutex> lock(Mu());
  Children().insert(pid);
}

void Cleanup::RemoveChild(pid_t pid) {
  std::lock_guard<std::mutex> lock(Mu());
  Children().erase(pid);
}

void Cleanup::Run() {
  std::lock_guard<std::mutex> lock(Mu());
  for (pid_t pid : Children()) {
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
  }
  Children().clear();
  for (auto it = Dirs().rbegin(); it != Dirs().rend(); ++it) {
    std::error_code ec;
    std::filesystem::remove_all(*it, ec);
  }
  Dirs().clear();
}

}  // namespace berth::bench
