#include "run.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "cleanup.h"

namespace berth::bench {

Flags::Flags(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) values_[argv[i]] = argv[i + 1];
}

int Flags::Int(const std::string& name, int def, int min) const {
  const auto it = values_.find(name);
  return it == values_.end() ? def : std::max(min, std::atoi(it->second.c_str()));
}

std::string Flags::Str(const std::string& name, const std::string& def) const {
  const auto it = values_.find(name);
  return it == values_.end() ? def : it->second;
}

DaemonFlags ReadDaemonFlags(const Flags& flags, const std::string& bin_dir) {
  return {flags.Str("--berthd", bin_dir + "/berthd"),
          flags.Str("--containerd", "/usr/bin/containerd"), flags.Str("--dir", "/var/tmp")};
}

std::string MakeWorkDir(const std::string& base, const std::string& prefix) {
  std::string tmpl = base + "/" + prefix + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    return "";
  }
  Cleanup::AddDir(tmpl);
  return tmpl;
}

bool DaemonPair::WaitServing() {
  for (std::size_t k = 0; k < daemons.size(); ++k) {
    if (!daemons[k]->WaitServing()) {
      std::fprintf(stderr, "%s did not start; see %s\n", names[k].c_str(),
                   daemons[k]->log().c_str());
      return false;
    }
  }
  return true;
}

DaemonPair StartDaemons(const std::string& berthd, const std::string& containerd,
                        const std::string& dir, const std::string& berthd_toml,
                        const std::string& containerd_toml) {
  DaemonPair pair;
  pair.names.push_back("berthd");
  pair.daemons.push_back(std::make_unique<Daemon>(berthd, dir + "/berthd", berthd_toml));
  if (access(containerd.c_str(), X_OK) == 0) {
    pair.names.push_back("containerd");
    pair.daemons.push_back(
        std::make_unique<Daemon>(containerd, dir + "/containerd", containerd_toml));
  } else {
    std::printf("containerd not installed at %s: no comparison\n", containerd.c_str());
  }
  return pair;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

void PrintLatencyHeader(int width, const char* label, const std::vector<std::string>& names) {
  std::printf("\n%-*s", width, label);
  for (const std::string& name : names) std::printf(" %12s p50 %8s p99", name.c_str(), "");
  if (names.size() > 1) std::printf("   berthd/containerd p50");
  std::printf("\n");
}

void PrintLatencyRow(int width, const std::string& call,
                     const std::vector<std::vector<double>>& lat) {
  std::printf("%-*s", width, call.c_str());
  for (const auto& l : lat) std::printf(" %16.1f %12.1f", Percentile(l, 0.5), Percentile(l, 0.99));
  if (lat.size() > 1 && Percentile(lat[1], 0.5) > 0) {
    std::printf("   %.2fx", Percentile(lat[0], 0.5) / Percentile(lat[1], 0.5));
  }
  std::printf("\n");
}

}  // namespace berth::bench
