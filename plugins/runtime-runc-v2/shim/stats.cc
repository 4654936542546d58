#include "stats.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace berth::shim {
namespace {

namespace cg = ::berth::task::wire::cgroups;
using V1 = cg::V1;
using V2 = cg::V2;

constexpr long kCgroup2SuperMagic = 0x63677270;
constexpr std::uint64_t kNanosPerSecond = 1000000000;

// The whole of a (small, pseudo) file; nullopt when it cannot be read.
std::optional<std::string> ReadText(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// A decimal counter; negative values (the kernel's "no limit" on some
// files) read as 0, as containerd's parseUint has it.
std::optional<std::uint64_t> ParseU64(std::string_view text) {
  std::string s(Trim(text));
  if (s.empty()) return std::nullopt;
  bool negative = s[0] == '-';
  size_t start = negative ? 1 : 0;
  if (start == s.size() || s.find_first_not_of("0123456789", start) != std::string::npos) {
    return std::nullopt;
  }
  if (negative) return 0;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<std::uint64_t>(v);
}

std::optional<std::uint64_t> ReadU64(const std::string& path) {
  auto text = ReadText(path);
  if (!text) return std::nullopt;
  return ParseU64(*text);
}

std::vector<std::string_view> Fields(std::string_view line, std::string_view separators = " \t") {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    size_t start = line.find_first_not_of(separators, i);
    if (start == std::string_view::npos) break;
    size_t end = line.find_first_of(separators, start);
    if (end == std::string_view::npos) end = line.size();
    out.push_back(line.substr(start, end - start));
    i = end;
  }
  return out;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty()) out.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

// A flat-keyed file ("key value" a line) as a map; empty when unreadable.
std::map<std::string, std::uint64_t> ReadKeyValues(const std::string& path) {
  std::map<std::string, std::uint64_t> out;
  auto text = ReadText(path);
  if (!text) return out;
  for (std::string_view line : Lines(*text)) {
    std::vector<std::string_view> f = Fields(line);
    if (f.size() != 2) continue;
    if (auto v = ParseU64(f[1])) out[std::string(f[0])] = *v;
  }
  return out;
}

std::uint64_t ValueOf(const std::map<std::string, std::uint64_t>& kv, const std::string& key) {
  auto it = kv.find(key);
  return it == kv.end() ? 0 : it->second;
}

// The directory of v1 controller `name`, or null.
const std::string* ControllerDir(const CgroupPaths& paths, const char* name) {
  auto it = paths.controllers.find(name);
  return it == paths.controllers.end() ? nullptr : &it->second;
}

// --- cgroup v1 ---

void ReadV1Pids(const std::string& dir, V1::PidsStat* out) {
  out->set_current(ReadU64(dir + "/pids.current").value_or(0));
  auto max = ReadText(dir + "/pids.max");
  if (max && Trim(*max) != "max") out->set_limit(ParseU64(*max).value_or(0));
}

void ReadV1CpuAcct(const std::string& dir, V1::CPUUsage* out) {
  out->set_total(ReadU64(dir + "/cpuacct.usage").value_or(0));
  if (auto percpu = ReadText(dir + "/cpuacct.usage_percpu")) {
    for (std::string_view f : Fields(*percpu, " \t\n")) {
      if (auto v = ParseU64(f)) out->add_per_cpu(*v);
    }
  }
  // cpuacct.stat counts clock ticks.
  auto stat = ReadKeyValues(dir + "/cpuacct.stat");
  long ticks = sysconf(_SC_CLK_TCK);
  std::uint64_t hz = ticks > 0 ? static_cast<std::uint64_t>(ticks) : 100;
  out->set_user(ValueOf(stat, "user") * kNanosPerSecond / hz);
  out->set_kernel(ValueOf(stat, "system") * kNanosPerSecond / hz);
}

void ReadV1Throttling(const std::string& dir, V1::Throttle* out) {
  auto stat = ReadKeyValues(dir + "/cpu.stat");
  out->set_periods(ValueOf(stat, "nr_periods"));
  out->set_throttled_periods(ValueOf(stat, "nr_throttled"));
  out->set_throttled_time(ValueOf(stat, "throttled_time"));
}

using MemorySetter = void (V1::MemoryStat::*)(std::uint64_t);

// memory.stat's keys and their fields.
constexpr std::pair<const char*, MemorySetter> kMemoryStatFields[] = {
    {"cache", &V1::MemoryStat::set_cache},
    {"rss", &V1::MemoryStat::set_rss},
    {"rss_huge", &V1::MemoryStat::set_rss_huge},
    {"mapped_file", &V1::MemoryStat::set_mapped_file},
    {"dirty", &V1::MemoryStat::set_dirty},
    {"writeback", &V1::MemoryStat::set_writeback},
    {"pgpgin", &V1::MemoryStat::set_pg_pg_in},
    {"pgpgout", &V1::MemoryStat::set_pg_pg_out},
    {"pgfault", &V1::MemoryStat::set_pg_fault},
    {"pgmajfault", &V1::MemoryStat::set_pg_maj_fault},
    {"inactive_anon", &V1::MemoryStat::set_inactive_anon},
    {"active_anon", &V1::MemoryStat::set_active_anon},
    {"inactive_file", &V1::MemoryStat::set_inactive_file},
    {"active_file", &V1::MemoryStat::set_active_file},
    {"unevictable", &V1::MemoryStat::set_unevictable},
    {"hierarchical_memory_limit", &V1::MemoryStat::set_hierarchical_memory_limit},
    {"hierarchical_memsw_limit", &V1::MemoryStat::set_hierarchical_swap_limit},
    {"total_cache", &V1::MemoryStat::set_total_cache},
    {"total_rss", &V1::MemoryStat::set_total_rss},
    {"total_rss_huge", &V1::MemoryStat::set_total_rss_huge},
    {"total_mapped_file", &V1::MemoryStat::set_total_mapped_file},
    {"total_dirty", &V1::MemoryStat::set_total_dirty},
    {"total_writeback", &V1::MemoryStat::set_total_writeback},
    {"total_pgpgin", &V1::MemoryStat::set_total_pg_pg_in},
    {"total_pgpgout", &V1::MemoryStat::set_total_pg_pg_out},
    {"total_pgfault", &V1::MemoryStat::set_total_pg_fault},
    {"total_pgmajfault", &V1::MemoryStat::set_total_pg_maj_fault},
    {"total_inactive_anon", &V1::MemoryStat::set_total_inactive_anon},
    {"total_active_anon", &V1::MemoryStat::set_total_active_anon},
    {"total_inactive_file", &V1::MemoryStat::set_total_inactive_file},
    {"total_active_file", &V1::MemoryStat::set_total_active_file},
    {"total_unevictable", &V1::MemoryStat::set_total_unevictable},
};

// memory.<prefix>usage_in_bytes and its siblings.
void ReadV1MemoryEntry(const std::string& dir, const std::string& prefix, V1::MemoryEntry* out) {
  const std::string base = dir + "/memory." + prefix;
  out->set_usage(ReadU64(base + "usage_in_bytes").value_or(0));
  out->set_max(ReadU64(base + "max_usage_in_bytes").value_or(0));
  out->set_failcnt(ReadU64(base + "failcnt").value_or(0));
  out->set_limit(ReadU64(base + "limit_in_bytes").value_or(0));
}

// False when memory.stat cannot be read (the cgroup is gone).
bool ReadV1Memory(const std::string& dir, V1::Metrics* m) {
  auto text = ReadText(dir + "/memory.stat");
  if (!text) return false;
  V1::MemoryStat* mem = m->mutable_memory();
  std::map<std::string, std::uint64_t> stat;
  for (std::string_view line : Lines(*text)) {
    std::vector<std::string_view> f = Fields(line);
    if (f.size() != 2) continue;
    if (auto v = ParseU64(f[1])) stat[std::string(f[0])] = *v;
  }
  for (const auto& [key, set] : kMemoryStatFields) (mem->*set)(ValueOf(stat, key));
  ReadV1MemoryEntry(dir, "", mem->mutable_usage());
  ReadV1MemoryEntry(dir, "memsw.", mem->mutable_swap());
  ReadV1MemoryEntry(dir, "kmem.", mem->mutable_kernel());
  ReadV1MemoryEntry(dir, "kmem.tcp.", mem->mutable_kernel_tcp());
  auto oom = ReadKeyValues(dir + "/memory.oom_control");
  if (!oom.empty()) {
    V1::MemoryOomControl* o = m->mutable_memory_oom_control();
    o->set_oom_kill_disable(ValueOf(oom, "oom_kill_disable"));
    o->set_under_oom(ValueOf(oom, "under_oom"));
    o->set_oom_kill(ValueOf(oom, "oom_kill"));
  }
  return true;
}

// /proc/partitions: (major, minor) → "/dev/<name>".
std::map<std::pair<std::uint64_t, std::uint64_t>, std::string> Devices(
    std::string_view partitions) {
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::string> out;
  for (std::string_view line : Lines(partitions)) {
    std::vector<std::string_view> f = Fields(line);
    if (f.size() < 4) continue;
    auto major = ParseU64(f[0]);
    auto minor = ParseU64(f[1]);
    if (!major || !minor) continue;  // the heading
    out.emplace(std::make_pair(*major, *minor), "/dev/" + std::string(f[3]));
  }
  return out;
}

// blkio.<name>: "major:minor [Op] value" lines (a "Total" line skipped).
void ReadV1BlkioEntries(
    const std::string& file,
    const std::map<std::pair<std::uint64_t, std::uint64_t>, std::string>& devices,
    google::protobuf::RepeatedPtrField<V1::BlkIOEntry>* out) {
  auto text = ReadText(file);
  if (!text) return;
  for (std::string_view line : Lines(*text)) {
    std::vector<std::string_view> f = Fields(line, " :");
    if (f.size() < 3) continue;
    auto major = ParseU64(f[0]);
    auto minor = ParseU64(f[1]);
    auto value = ParseU64(f[f.size() == 4 ? 3 : 2]);
    if (!major || !minor || !value) continue;
    V1::BlkIOEntry* e = out->Add();
    e->set_major(*major);
    e->set_minor(*minor);
    if (f.size() == 4) e->set_op(std::string(f[2]));
    e->set_value(*value);
    auto dev = devices.find({*major, *minor});
    if (dev != devices.end()) e->set_device(dev->second);
  }
}

void ReadV1Blkio(const std::string& dir, std::string_view partitions, V1::BlkIOStat* out) {
  auto devices = Devices(partitions);
  const std::string base = dir + "/blkio.";
  // CFQ's counters first; where the devices do not use CFQ they stay empty
  // and the throttle counters say what there is.
  if (Exists(base + "io_serviced_recursive")) {
    ReadV1BlkioEntries(base + "sectors_recursive", devices, out->mutable_sectors_recursive());
    ReadV1BlkioEntries(base + "io_service_bytes_recursive", devices,
                       out->mutable_io_service_bytes_recursive());
    ReadV1BlkioEntries(base + "io_serviced_recursive", devices,
                       out->mutable_io_serviced_recursive());
    ReadV1BlkioEntries(base + "io_queued_recursive", devices, out->mutable_io_queued_recursive());
    ReadV1BlkioEntries(base + "io_service_time_recursive", devices,
                       out->mutable_io_service_time_recursive());
    ReadV1BlkioEntries(base + "io_wait_time_recursive", devices,
                       out->mutable_io_wait_time_recursive());
    ReadV1BlkioEntries(base + "io_merged_recursive", devices, out->mutable_io_merged_recursive());
    ReadV1BlkioEntries(base + "time_recursive", devices, out->mutable_io_time_recursive());
  }
  if (out->ByteSizeLong() > 0) return;
  ReadV1BlkioEntries(base + "throttle.io_serviced", devices, out->mutable_io_serviced_recursive());
  ReadV1BlkioEntries(base + "throttle.io_service_bytes", devices,
                     out->mutable_io_service_bytes_recursive());
}

// --- cgroup v2 ---

// A single-value file where "max" means no limit (all ones, as containerd).
std::uint64_t ReadV2Limit(const std::string& path) {
  auto text = ReadText(path);
  if (!text) return 0;
  if (Trim(*text) == "max") return std::numeric_limits<std::uint64_t>::max();
  return ParseU64(*text).value_or(0);
}

using V2MemorySetter = void (V2::MemoryStat::*)(std::uint64_t);

constexpr std::pair<const char*, V2MemorySetter> kV2MemoryStatFields[] = {
    {"anon", &V2::MemoryStat::set_anon},
    {"file", &V2::MemoryStat::set_file},
    {"kernel_stack", &V2::MemoryStat::set_kernel_stack},
    {"slab", &V2::MemoryStat::set_slab},
    {"sock", &V2::MemoryStat::set_sock},
    {"shmem", &V2::MemoryStat::set_shmem},
    {"file_mapped", &V2::MemoryStat::set_file_mapped},
    {"file_dirty", &V2::MemoryStat::set_file_dirty},
    {"file_writeback", &V2::MemoryStat::set_file_writeback},
    {"anon_thp", &V2::MemoryStat::set_anon_thp},
    {"inactive_anon", &V2::MemoryStat::set_inactive_anon},
    {"active_anon", &V2::MemoryStat::set_active_anon},
    {"inactive_file", &V2::MemoryStat::set_inactive_file},
    {"active_file", &V2::MemoryStat::set_active_file},
    {"unevictable", &V2::MemoryStat::set_unevictable},
    {"slab_reclaimable", &V2::MemoryStat::set_slab_reclaimable},
    {"slab_unreclaimable", &V2::MemoryStat::set_slab_unreclaimable},
    {"pgfault", &V2::MemoryStat::set_pgfault},
    {"pgmajfault", &V2::MemoryStat::set_pgmajfault},
    {"workingset_refault", &V2::MemoryStat::set_workingset_refault},
    {"workingset_activate", &V2::MemoryStat::set_workingset_activate},
    {"workingset_nodereclaim", &V2::MemoryStat::set_workingset_nodereclaim},
    {"pgrefill", &V2::MemoryStat::set_pgrefill},
    {"pgscan", &V2::MemoryStat::set_pgscan},
    {"pgsteal", &V2::MemoryStat::set_pgsteal},
    {"pgactivate", &V2::MemoryStat::set_pgactivate},
    {"pgdeactivate", &V2::MemoryStat::set_pgdeactivate},
    {"pglazyfree", &V2::MemoryStat::set_pglazyfree},
    {"pglazyfreed", &V2::MemoryStat::set_pglazyfreed},
    {"thp_fault_alloc", &V2::MemoryStat::set_thp_fault_alloc},
    {"thp_collapse_alloc", &V2::MemoryStat::set_thp_collapse_alloc},
};

// io.stat: "major:minor rbytes=N wbytes=N rios=N wios=N ..." a device.
void ReadV2Io(const std::string& dir, V2::IOStat* out) {
  auto text = ReadText(dir + "/io.stat");
  if (!text) return;
  for (std::string_view line : Lines(*text)) {
    std::vector<std::string_view> f = Fields(line);
    if (f.size() < 2) continue;
    size_t colon = f[0].find(':');
    if (colon == std::string_view::npos) continue;
    auto major = ParseU64(f[0].substr(0, colon));
    auto minor = ParseU64(f[0].substr(colon + 1));
    if (!major || !minor) continue;
    V2::IOEntry* e = out->add_usage();
    e->set_major(*major);
    e->set_minor(*minor);
    for (size_t i = 1; i < f.size(); ++i) {
      size_t eq = f[i].find('=');
      if (eq == std::string_view::npos) continue;
      std::string_view key = f[i].substr(0, eq);
      std::uint64_t v = ParseU64(f[i].substr(eq + 1)).value_or(0);
      if (key == "rbytes") e->set_rbytes(v);
      if (key == "wbytes") e->set_wbytes(v);
      if (key == "rios") e->set_rios(v);
      if (key == "wios") e->set_wios(v);
    }
  }
}

}  // namespace

CgroupPaths ParseCgroupPaths(std::string_view proc_cgroup, std::string_view mountinfo,
                             bool unified, const std::string& unified_root) {
  CgroupPaths out;
  out.unified = unified;
  struct Mount {
    std::string root;
    std::string point;
  };
  std::map<std::string, Mount> mounts;  // v1 controller → its hierarchy's mount
  if (!unified) {
    for (std::string_view line : Lines(mountinfo)) {
      // id parent major:minor root mount-point options... - type source super-options
      std::vector<std::string_view> f = Fields(line);
      size_t dash = 0;
      while (dash < f.size() && f[dash] != "-") ++dash;
      if (f.size() < 5 || dash + 3 >= f.size() || f[dash + 1] != "cgroup") continue;
      for (std::string_view c : Fields(f[dash + 3], ",")) {
        mounts.emplace(std::string(c), Mount{std::string(f[3]), std::string(f[4])});
      }
    }
  }
  for (std::string_view line : Lines(proc_cgroup)) {
    // hierarchy-id:controller,list:path
    size_t a = line.find(':');
    size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    std::string_view controllers = line.substr(a + 1, b - a - 1);
    std::string path(line.substr(b + 1));
    if (unified) {
      if (line.substr(0, a) == "0" && controllers.empty()) out.dir = unified_root + path;
      continue;
    }
    for (std::string_view c : Fields(controllers, ",")) {
      auto m = mounts.find(std::string(c));
      if (m == mounts.end()) continue;
      std::string rel = path;
      const std::string& root = m->second.root;
      if (root != "/" && rel.compare(0, root.size(), root) == 0) rel = rel.substr(root.size());
      out.controllers[std::string(c)] = m->second.point + rel;
    }
  }
  return out;
}

Result<CgroupPaths> CgroupPathsOf(pid_t pid) {
  if (pid <= 0) return Status::NotFound("cgroup does not exist");
  auto proc_cgroup = ReadText("/proc/" + std::to_string(pid) + "/cgroup");
  if (!proc_cgroup) return Status::NotFound("cgroup does not exist: process is gone");
  struct statfs fs {};
  bool unified = statfs("/sys/fs/cgroup", &fs) == 0 &&
                 static_cast<long>(fs.f_type) == kCgroup2SuperMagic;
  std::string mountinfo;
  if (!unified) {
    auto text = ReadText("/proc/self/mountinfo");
    if (!text) return Status::Unknown("cannot read /proc/self/mountinfo");
    mountinfo = std::move(*text);
  }
  CgroupPaths paths = ParseCgroupPaths(*proc_cgroup, mountinfo, unified);
  if (unified ? paths.dir.empty() : paths.controllers.empty()) {
    return Status::NotFound("cgroup does not exist for pid " + std::to_string(pid));
  }
  return paths;
}

V1::Metrics ReadV1Metrics(const CgroupPaths& paths, std::string_view partitions) {
  V1::Metrics m;
  if (const std::string* dir = ControllerDir(paths, "pids")) ReadV1Pids(*dir, m.mutable_pids());
  // As containerd's library: cpu is always there, zero without cpuacct.
  V1::CPUStat* cpu = m.mutable_cpu();
  V1::CPUUsage* usage = cpu->mutable_usage();
  if (const std::string* dir = ControllerDir(paths, "cpuacct")) ReadV1CpuAcct(*dir, usage);
  V1::Throttle* throttling = cpu->mutable_throttling();
  if (const std::string* dir = ControllerDir(paths, "cpu")) ReadV1Throttling(*dir, throttling);
  if (const std::string* dir = ControllerDir(paths, "memory")) ReadV1Memory(*dir, &m);
  if (const std::string* dir = ControllerDir(paths, "blkio")) {
    ReadV1Blkio(*dir, partitions, m.mutable_blkio());
  }
  return m;
}

V2::Metrics ReadV2Metrics(const std::string& dir) {
  V2::Metrics m;
  V2::PidsStat* pids = m.mutable_pids();
  pids->set_current(ReadU64(dir + "/pids.current").value_or(0));
  pids->set_limit(ReadV2Limit(dir + "/pids.max"));

  auto cpu_stat = ReadKeyValues(dir + "/cpu.stat");
  V2::CPUStat* cpu = m.mutable_cpu();
  cpu->set_usage_usec(ValueOf(cpu_stat, "usage_usec"));
  cpu->set_user_usec(ValueOf(cpu_stat, "user_usec"));
  cpu->set_system_usec(ValueOf(cpu_stat, "system_usec"));
  cpu->set_nr_periods(ValueOf(cpu_stat, "nr_periods"));
  cpu->set_nr_throttled(ValueOf(cpu_stat, "nr_throttled"));
  cpu->set_throttled_usec(ValueOf(cpu_stat, "throttled_usec"));

  auto mem_stat = ReadKeyValues(dir + "/memory.stat");
  V2::MemoryStat* mem = m.mutable_memory();
  for (const auto& [key, set] : kV2MemoryStatFields) (mem->*set)(ValueOf(mem_stat, key));
  mem->set_usage(ReadU64(dir + "/memory.current").value_or(0));
  mem->set_usage_limit(ReadV2Limit(dir + "/memory.max"));
  mem->set_swap_usage(ReadU64(dir + "/memory.swap.current").value_or(0));
  mem->set_swap_limit(ReadV2Limit(dir + "/memory.swap.max"));

  auto events = ReadKeyValues(dir + "/memory.events");
  if (!events.empty()) {
    V2::MemoryEvents* e = m.mutable_memory_events();
    e->set_low(ValueOf(events, "low"));
    e->set_high(ValueOf(events, "high"));
    e->set_max(ValueOf(events, "max"));
    e->set_oom(ValueOf(events, "oom"));
    e->set_oom_kill(ValueOf(events, "oom_kill"));
  }
  ReadV2Io(dir, m.mutable_io());
  m.mutable_rdma();
  return m;
}

Result<wire::Any> CgroupMetricsOf(pid_t pid) {
  Result<CgroupPaths> paths = CgroupPathsOf(pid);
  if (!paths.ok()) return paths.status();
  return CgroupMetrics(*paths);
}

Result<wire::Any> CgroupMetrics(const CgroupPaths& paths) {
  wire::Any out;
  if (paths.unified) {
    if (!Exists(paths.dir)) return Status::NotFound("cgroup " + paths.dir + " does not exist");
    out.set_type_url(kCgroupsV2Metrics);
    out.set_value(ReadV2Metrics(paths.dir).SerializeAsString());
    return out;
  }
  bool any_dir = false;
  for (const auto& [name, dir] : paths.controllers) any_dir = any_dir || Exists(dir);
  if (!any_dir) return Status::NotFound("cgroup does not exist");
  std::string partitions = ReadText("/proc/partitions").value_or("");
  out.set_type_url(kCgroupsV1Metrics);
  out.set_value(ReadV1Metrics(paths, partitions).SerializeAsString());
  return out;
}

}  // namespace berth::shim
