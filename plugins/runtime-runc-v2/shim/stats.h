// The figures of a container's cgroup, as the shim's Stats answers them:
// containerd's cgroups metrics (io.containerd.cgroups.v1.Metrics on cgroup v1
// hierarchies, io.containerd.cgroups.v2.Metrics on the unified one), read
// from the cgroup files of the container's init process.
//
// What is read: pids (current, limit), cpu (cpuacct usage total, user,
// kernel, per cpu; cpu.stat throttling), memory (memory.stat, usage, swap,
// kernel and kernel tcp counters, oom control or memory.events) and block
// I/O (blkio.*_recursive, falling back to blkio.throttle.*; io.stat). A
// controller the container is not in, or a file the kernel does not offer,
// is left out (zero), as containerd's library does.
//
// The readers only read files (cgroupfs answers at once); stateless and
// thread-safe.
#ifndef BERTH_SHIM_STATS_H_
#define BERTH_SHIM_STATS_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <string_view>

#include "berth/status.h"
#include "cgroups_wire.pb.h"
#include "task_wire.pb.h"

namespace berth::shim {

namespace wire = ::berth::task::wire;

inline constexpr char kCgroupsV1Metrics[] = "io.containerd.cgroups.v1.Metrics";
inline constexpr char kCgroupsV2Metrics[] = "io.containerd.cgroups.v2.Metrics";

// Where a process's cgroup lives.
struct CgroupPaths {
  bool unified = false;  // cgroup v2: `dir`; else the v1 `controllers`
  std::string dir;
  // v1 controller name ("memory", "cpuacct") → its cgroup directory.
  std::map<std::string, std::string> controllers;
};

// From the texts of /proc/<pid>/cgroup and /proc/self/mountinfo. `unified`
// says /sys/fs/cgroup is a cgroup2 mount (then the "0::" line counts and
// `unified_root` is where it is mounted). A v1 controller is found where its
// hierarchy is mounted; the process's path is taken relative to the mount's
// root. Controllers without a mount are left out.
CgroupPaths ParseCgroupPaths(std::string_view proc_cgroup, std::string_view mountinfo,
                             bool unified, const std::string& unified_root = "/sys/fs/cgroup");

// The cgroup of process `pid`. NotFound when the process is gone or has no
// cgroup this host mounts.
Result<CgroupPaths> CgroupPathsOf(pid_t pid);

// The metrics of a v1 cgroup. `partitions` is /proc/partitions' text, for
// block device names.
wire::cgroups::V1::Metrics ReadV1Metrics(const CgroupPaths& paths, std::string_view partitions);
// The metrics of a v2 cgroup directory.
wire::cgroups::V2::Metrics ReadV2Metrics(const std::string& dir);

// The Stats answer for process `pid`'s cgroup: an Any of its v1 or v2
// Metrics. NotFound as CgroupPathsOf, or when the cgroup's directories are
// gone.
Result<wire::Any> CgroupMetricsOf(pid_t pid);
// The same for a cgroup found before: what Stats answers after the init
// exited, while runc keeps the cgroup until the task is deleted.
Result<wire::Any> CgroupMetrics(const CgroupPaths& paths);

}  // namespace berth::shim

#endif  // BERTH_SHIM_STATS_H_
