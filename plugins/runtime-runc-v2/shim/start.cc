#include "start.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "berth/digest.h"
#include "berth/mount.h"
#include "process.h"
#include "runc.h"

extern char** environ;

namespace berth::shim {
namespace {

constexpr char kSocketDir[] = "/run/containerd/s";

std::string WorkingDir() {
  std::error_code ec;
  return std::filesystem::current_path(ec).string();
}

// Sandbox grouping as containerd's runc shim: containers sharing a group
// label share a shim address.
std::string Grouping(const std::string& id) {
  Result<std::string> text = ReadWholeFile("config.json");
  if (!text.ok()) return id;
  nlohmann::json spec = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  auto annotations = spec.find("annotations");  // end() also when spec is no object
  if (annotations == spec.end()) return id;
  for (const char* label : {"io.containerd.runc.v2.group", "io.kubernetes.cri.sandbox-id"}) {
    if (std::string group = JsonString(*annotations, label); !group.empty()) return group;
  }
  return id;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "containerd-shim-berth-v2: %s\n", message.c_str());
  return 1;
}

bool Connects(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// A listening socket at `path`, or -1 with errno set.
int BindSocket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      chmod(path.c_str(), 0600) != 0 || listen(fd, 128) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

void AdjustOomScore(pid_t child) {
  Result<std::string> parent =
      ReadWholeFile("/proc/" + std::to_string(getppid()) + "/oom_score_adj");
  if (!parent.ok()) return;
  int score = std::atoi(parent->c_str()) + 1;
  if (score > 1000) score = 1000;
  (void)WriteFileAtomic("/proc/" + std::to_string(child) + "/oom_score_adj", std::to_string(score));
}

}  // namespace

std::string SocketPathOf(const std::string& address) {
  return address.rfind("unix://", 0) == 0 ? address.substr(7) : address;
}

Result<Flags> ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      f.action = arg;
      break;
    }
    if (arg == "--") {
      if (i + 1 < argc) f.action = argv[i + 1];
      break;
    }
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "debug" || name == "v") {
      bool on = !has_value || value == "true" || value == "1";
      (name == "debug" ? f.debug : f.version) = on;
      continue;
    }
    std::string* target = name == "namespace"        ? &f.ns
                          : name == "id"             ? &f.id
                          : name == "address"        ? &f.address
                          : name == "publish-binary" ? &f.publish_binary
                          : name == "socket"         ? &f.socket
                          : name == "bundle"         ? &f.bundle
                                                     : nullptr;
    if (target == nullptr)
      return Status::InvalidArgument("flag provided but not defined: -" + name);
    if (!has_value) {
      if (i + 1 >= argc) return Status::InvalidArgument("flag needs an argument: -" + name);
      value = argv[++i];
    }
    *target = value;
  }
  return f;
}

int RunStart(const Flags& flags, int argc, char** argv) {
  // containerd writes the runc options on stdin; nothing here needs them,
  // but the pipe is read to its end as containerd's shim does.
  char buf[4096];
  while (read(0, buf, sizeof(buf)) > 0) {
  }
  std::string key = flags.address + "/" + flags.ns + "/" + Grouping(flags.id);
  std::string digest = Sha256Of(key);
  std::string path = std::string(kSocketDir) + "/" + digest.substr(digest.find(':') + 1);
  std::string address = "unix://" + path;
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) return Fail("socket path too long: " + path);

  std::error_code ec;
  std::filesystem::create_directories(kSocketDir, ec);
  int fd = BindSocket(path);
  if (fd < 0 && errno == EADDRINUSE) {
    if (Connects(path)) {
      // A shim of the same group serves there already.
      Status s = WriteFileAtomic("address", address);
      if (!s.ok()) return Fail("write existing socket for shim: " + s.ToString());
      std::fwrite(address.data(), 1, address.size(), stdout);
      return 0;
    }
    unlink(path.c_str());
    fd = BindSocket(path);
  }
  if (fd < 0) return Fail("create new shim socket " + path + ": " + std::strerror(errno));
  Status s = WriteFileAtomic("address", address);
  if (!s.ok()) {
    close(fd);
    unlink(path.c_str());
    return Fail(s.ToString());
  }

  std::vector<std::string> args = {argv[0],  "-namespace", flags.ns,     "-id",
                                   flags.id, "-address",   flags.address};
  if (!flags.publish_binary.empty())
    args.insert(args.end(), {"-publish-binary", flags.publish_binary});
  if (flags.debug) args.push_back("-debug");
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (self.empty()) self = argv[0];
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    if (fd == 3) {
      fcntl(3, F_SETFD, 0);
    } else {
      dup2(fd, 3);
    }
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    close_range(4, ~0U, 0);
    execve(self.c_str(), cargs.data(), environ);
    _exit(127);
  }
  close(fd);
  if (null_fd >= 0) close(null_fd);
  if (pid < 0) {
    unlink(path.c_str());
    return Fail(std::string("fork: ") + std::strerror(errno));
  }
  AdjustOomScore(pid);
  std::fwrite(address.data(), 1, address.size(), stdout);
  std::fflush(stdout);
  return 0;
}

int RunDelete(const Flags& flags) {
  std::string bundle = flags.bundle.empty() ? WorkingDir() : flags.bundle;
  Result<std::string> runtime = ReadWholeFile(bundle + "/runtime");
  Result<std::string> options_json = ReadWholeFile(bundle + "/options.json");
  wire::RuncOptions options =
      options_json.ok() ? ParseOptionsJson(*options_json) : wire::RuncOptions();
  RuncConfig config;
  config.binary = runtime.ok() && !runtime->empty() ? *runtime : "runc";
  config.root = RuncRootFor(options, flags.ns);
  config.log_path = bundle + "/log.json";
  config.systemd_cgroup = options.systemd_cgroup();
  // A one-shot action: runc runs synchronously.
  std::vector<std::string> argv;
  {
    std::vector<std::string> base = {config.binary};
    base.insert(base.end(),
                {"--root", config.root, "--log", config.log_path, "--log-format", "json"});
    if (config.systemd_cgroup) base.push_back("--systemd-cgroup");
    base.insert(base.end(), {"delete", "--force", flags.id});
    argv = std::move(base);
  }
  std::vector<char*> cargs;
  for (auto& a : argv) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(2, 1);  // stdout carries the response only
    execvp(cargs[0], cargs.data());
    _exit(127);
  }
  if (pid > 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "failed to remove runc container %s\n", flags.id.c_str());
    }
  }
  Status us = UnmountAll(bundle + "/rootfs");
  if (!us.ok()) std::fprintf(stderr, "failed to cleanup rootfs mount: %s\n", us.ToString().c_str());
  Result<pid_t> init = ReadPidFile(bundle + "/init.pid");
  wire::DeleteResponse resp;
  resp.set_pid(init.ok() ? static_cast<uint32_t>(*init) : 0);
  resp.set_exit_status(128 + SIGKILL);
  ToWire(std::chrono::system_clock::now(), resp.mutable_exited_at());
  std::string out = resp.SerializeAsString();
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace berth::shim
