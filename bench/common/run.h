// What the main() of a daemon benchmark does before and after it measures:
// read its `--flag value` pairs, make a work folder, start berthd and (when
// installed) containerd side by side and wait for both, take percentiles and
// print a p50/p99 table with the berthd/containerd ratio. Not thread-safe;
// meant for main().
#ifndef BERTH_BENCH_COMMON_RUN_H_
#define BERTH_BENCH_COMMON_RUN_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon.h"

namespace berth::bench {

// Extra config that keeps a daemon from doing work the benchmarks do not
// measure: berthd without its GC scheduler, containerd without CRI.
inline constexpr char kNoGcToml[] = "disabled_plugins = [\"io.containerd.gc.v1.scheduler\"]\n";
inline constexpr char kNoCriToml[] = "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n";

// The command line as `--name value` pairs from argv[1]; a later pair of the
// same name wins, names nobody asks for are ignored, a trailing lone word too.
class Flags {
 public:
  Flags(int argc, char** argv);
  // The value of `name` (atoi), at least `min`; `def` when not given.
  int Int(const std::string& name, int def, int min) const;
  std::string Str(const std::string& name, const std::string& def) const;

 private:
  std::map<std::string, std::string> values_;
};

// The flags every daemon benchmark takes.
struct DaemonFlags {
  std::string berthd;      // --berthd PATH, default `<bin_dir>/berthd`
  std::string containerd;  // --containerd PATH, default /usr/bin/containerd
  std::string base;        // --dir DIR (where the work folder goes), default
                           // /var/tmp: a real disk, overlay cannot sit on
                           // tmpfs or overlay
};
DaemonFlags ReadDaemonFlags(const Flags& flags, const std::string& bin_dir);

// Makes `<base>/<prefix>-XXXXXX` (mkdtemp) and registers it with Cleanup.
// Empty (after perror) when it cannot be made.
std::string MakeWorkDir(const std::string& base, const std::string& prefix);

// berthd, and containerd beside it when installed. Index 0 is berthd, 1
// containerd; `names` holds "berthd" and "containerd" alike.
struct DaemonPair {
  std::vector<std::string> names;
  std::vector<std::unique_ptr<Daemon>> daemons;

  bool has_containerd() const { return daemons.size() > 1; }
  // Waits for each in turn; false, having said on stderr which did not start
  // and where its log is, when one did not.
  bool WaitServing();
};

// Starts berthd on `<dir>/berthd` with `berthd_toml` and, when `containerd`
// is executable, containerd on `<dir>/containerd` with `containerd_toml`;
// else prints that there is no comparison. Does not wait.
DaemonPair StartDaemons(const std::string& berthd, const std::string& containerd,
                        const std::string& dir, const std::string& berthd_toml,
                        const std::string& containerd_toml);

// The value at rank floor(p * size) of `v` (clamped to the last); 0 when
// empty.
double Percentile(std::vector<double> v, double p);

// A table of latencies, one row per call: `label` in a column `width` wide,
// then p50 and p99 per daemon and, with two, the ratio berthd/containerd of
// the medians (< 1: berthd is faster).
void PrintLatencyHeader(int width, const char* label, const std::vector<std::string>& names);
// `lat[k]`: the latencies (µs) of daemon k.
void PrintLatencyRow(int width, const std::string& call,
                     const std::vector<std::vector<double>>& lat);

}  // namespace berth::bench

#endif  // BERTH_BENCH_COMMON_RUN_H_
