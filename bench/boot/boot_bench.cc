// boot_bench: how long from exec until the daemon answers a Version call on
// its socket, and its resident memory once idle. Runs berthd with its
// built-in plugins, berthd with N generated plugins (the cost of one plugin
// load), and containerd when installed, each several times; prints medians.
//
//   boot_bench [--runs N] [--plugins N] [--containerd PATH]
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "containerd/services/version/v1/version.grpc.pb.h"

extern char** environ;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Sample {
  double boot_ms;
  double rss_mib;
};

bool SocketAccepts(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

bool VersionAnswers(const std::string& path) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel("unix://" + path,
                                           grpc::InsecureChannelCredentials(), args);
  auto stub = containerd::services::version::v1::Version::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  google::protobuf::Empty req;
  containerd::services::version::v1::VersionResponse resp;
  return stub->Version(&ctx, req, &resp).ok();
}

double RssMiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  }
  return 0;
}

// Starts argv, waits (at most 20 s) for the socket to answer, samples RSS
// after a short idle, then stops the daemon with SIGTERM.
std::optional<Sample> BootOnce(const std::vector<std::string>& argv,
                               const std::string& socket_path, const std::string& log) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid;
  auto start = Clock::now();
  int rc = posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return std::nullopt;
  std::optional<Sample> sample;
  auto deadline = start + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    if (SocketAccepts(socket_path) && VersionAnswers(socket_path)) {
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      sample = Sample{ms, RssMiB(pid)};
      break;
    }
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  kill(pid, SIGTERM);
  int status;
  auto stop_deadline = Clock::now() + std::chrono::seconds(15);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > stop_deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return sample;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Figures {
  double boot_ms = 0, rss_mib = 0;
  int ok = 0;
};

Figures Measure(const std::string& name, int runs, const fs::path& dir,
                const std::string& config_text, const std::vector<std::string>& argv_prefix,
                const std::string& socket_path) {
  std::vector<double> boots, rss;
  for (int i = 0; i < runs; ++i) {
    fs::remove_all(dir / "root");
    fs::remove_all(dir / "state");
    std::ofstream(dir / "config.toml") << config_text;
    auto argv = argv_prefix;
    argv.push_back("--config");
    argv.push_back((dir / "config.toml").string());
    auto s = BootOnce(argv, socket_path, (dir / "daemon.log").string());
    if (!s) {
      std::fprintf(stderr, "%s: run %d did not come up; see %s\n", name.c_str(), i,
                   (dir / "daemon.log").c_str());
      continue;
    }
    boots.push_back(s->boot_ms);
    rss.push_back(s->rss_mib);
  }
  Figures f{Median(boots), Median(rss), static_cast<int>(boots.size())};
  std::printf("%-28s boot %8.1f ms  idle RSS %6.1f MiB  (%d/%d runs)\n", name.c_str(),
              f.boot_ms, f.rss_mib, f.ok, runs);
  return f;
}

std::string DaemonConfig(const fs::path& dir, const std::string& plugin_dir) {
  std::string c = "version = 2\nroot = \"" + (dir / "root").string() + "\"\nstate = \"" +
                  (dir / "state").string() + "\"\n";
  if (!plugin_dir.empty()) c += "plugin_dir = \"" + plugin_dir + "\"\n";
  c += "[grpc]\n  address = \"" + (dir / "sock").string() + "\"\n";
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 9, plugins = 200;
  std::string containerd = "/usr/bin/containerd";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--runs") runs = std::atoi(argv[i + 1]);
    else if (a == "--plugins") plugins = std::atoi(argv[i + 1]);
    else if (a == "--containerd") containerd = argv[i + 1];
  }
  char tmpl[] = "/var/tmp/berth-boot-bench.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  fs::path dir(tmpl);
  std::string berthd = std::string(BERTH_BIN_DIR) + "/berthd";

  std::printf("boot_bench: exec -> Version answered on the socket; medians of %d runs\n", runs);
  Figures base = Measure("berthd (built-ins)", runs, dir, DaemonConfig(dir, ""), {berthd},
                         (dir / "sock").string());

  fs::path plugin_dir = dir / "plugins";
  fs::create_directories(plugin_dir);
  fs::permissions(plugin_dir, fs::perms(0755));
  for (int i = 0; i < plugins; ++i) {
    fs::copy_file(BENCH_TRIVIAL_PLUGIN, plugin_dir / ("trivial-" + std::to_string(i) + ".so"),
                  fs::copy_options::overwrite_existing);
  }
  Figures many = Measure("berthd (+" + std::to_string(plugins) + " plugins)", runs, dir,
                         DaemonConfig(dir, plugin_dir.string()), {berthd},
                         (dir / "sock").string());
  if (plugins > 0 && base.ok && many.ok) {
    std::printf("%-28s %8.3f ms per plugin library\n", "plugin load cost",
                (many.boot_ms - base.boot_ms) / plugins);
  }

  if (access(containerd.c_str(), X_OK) == 0) {
    Figures c = Measure("containerd", runs, dir, DaemonConfig(dir, ""), {containerd},
                        (dir / "sock").string());
    if (c.ok && base.ok) {
      std::printf("%-28s %8.2fx boot, %5.2fx RSS (containerd / berthd; >1 means berthd wins)\n",
                  "ratio", c.boot_ms / base.boot_ms, c.rss_mib / base.rss_mib);
    }
  } else {
    std::printf("containerd not installed at %s: no comparison\n", containerd.c_str());
  }
  fs::remove_all(dir);
  return 0;
}
