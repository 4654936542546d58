#include "cleanup.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>
#include <vector>

#include "berth/mutex.h"

namespace berth::bench {
namespace {

// What Run() undoes.
struct Undo {
  Mutex mu;
  std::vector<std::string> dirs BERTH_GUARDED_BY(mu);
  std::set<pid_t> children BERTH_GUARDED_BY(mu);
};

Undo& Pending() {
  static Undo undo;
  return undo;
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
  Undo& u = Pending();
  MutexLock lock(&u.mu);
  u.dirs.push_back(dir);
}

void Cleanup::AddChild(pid_t pid) {
  Undo& u = Pending();
  MutexLock lock(&u.mu);
  u.children.insert(pid);
}

void Cleanup::RemoveChild(pid_t pid) {
  Undo& u = Pending();
  MutexLock lock(&u.mu);
  u.children.erase(pid);
}

void Cleanup::Run() {
  Undo& u = Pending();
  MutexLock lock(&u.mu);
  for (pid_t pid : u.children) {
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
  }
  u.children.clear();
  for (auto it = u.dirs.rbegin(); it != u.dirs.rend(); ++it) {
    std::error_code ec;
    std::filesystem::remove_all(*it, ec);
  }
  u.dirs.clear();
}

}  // namespace berth::bench
