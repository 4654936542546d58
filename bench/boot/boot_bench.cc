// boot_bench: how long from exec until the daemon answers a Version call on
// its socket, and its resident memory once idle. Runs berthd with its
// built-in plugins, berthd with N generated plugins (the cost of one plugin
// load), and containerd when installed, each several times; prints medians.
//
//   boot_bench [--runs N] [--plugins N] [--containerd PATH]
#include <sys/types.h>
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

#include "cleanup.h"
#include "daemon.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

using berth::bench::Cleanup;
using berth::bench::CleanupScope;
using berth::bench::Daemon;

struct Sample {
  double boot_ms;
  double rss_mib;
};

double RssMiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  }
  return 0;
}

// Starts `binary` on a fresh config in `dir`, waits for its socket to
// answer, samples RSS after a short idle, then stops the daemon. The boot
// time runs from right before the spawn until Version answers.
std::optional<Sample> BootOnce(const std::string& binary, const fs::path& dir,
                               const std::string& extra_toml) {
  Daemon d(binary, dir.string(), extra_toml);
  if (!d.WaitServing(std::chrono::microseconds(500))) return std::nullopt;
  const double ms =
      std::chrono::duration<double, std::milli>(Clock::now() - d.started_at()).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  return Sample{ms, RssMiB(d.pid())};
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
                const std::string& binary, const std::string& extra_toml) {
  std::vector<double> boots, rss;
  for (int i = 0; i < runs; ++i) {
    fs::remove_all(dir / "root");
    fs::remove_all(dir / "state");
    auto s = BootOnce(binary, dir, extra_toml);
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

}  // namespace

int main(int argc, char** argv) {
  Cleanup::Install();
  CleanupScope cleanup;
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
  Cleanup::AddDir(tmpl);
  fs::path dir(tmpl);
  std::string berthd = std::string(BERTH_BIN_DIR) + "/berthd";

  std::printf("boot_bench: exec -> Version answered on the socket; medians of %d runs\n", runs);
  Figures base = Measure("berthd (built-ins)", runs, dir, berthd, "");

  fs::path plugin_dir = dir / "plugins";
  fs::create_directories(plugin_dir);
  fs::permissions(plugin_dir, fs::perms(0755));
  for (int i = 0; i < plugins; ++i) {
    fs::copy_file(BENCH_TRIVIAL_PLUGIN, plugin_dir / ("trivial-" + std::to_string(i) + ".so"),
                  fs::copy_options::overwrite_existing);
  }
  Figures many = Measure("berthd (+" + std::to_string(plugins) + " plugins)", runs, dir,
                         berthd, "plugin_dir = \"" + plugin_dir.string() + "\"");
  if (plugins > 0 && base.ok && many.ok) {
    std::printf("%-28s %8.3f ms per plugin library\n", "plugin load cost",
                (many.boot_ms - base.boot_ms) / plugins);
  }

  if (access(containerd.c_str(), X_OK) == 0) {
    Figures c = Measure("containerd", runs, dir, containerd, "");
    if (c.ok && base.ok) {
      std::printf("%-28s %8.2fx boot, %5.2fx RSS (containerd / berthd; >1 means berthd wins)\n",
                  "ratio", c.boot_ms / base.boot_ms, c.rss_mib / base.rss_mib);
    }
  } else {
    std::printf("containerd not installed at %s: no comparison\n", containerd.c_str());
  }
  return 0;
}
