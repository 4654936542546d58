// Linux implementation of the mount helpers in berth/mount.h.
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "berth/mount.h"

#include "berth/fs.h"

namespace berth {
namespace {

struct FlagSpec {
  bool clear;
  unsigned long flag;
};

const std::unordered_map<std::string_view, FlagSpec>& FlagTable() {
  static const auto* table = new std::unordered_map<std::string_view, FlagSpec>{
      {"async", {true, MS_SYNCHRONOUS}},    {"atime", {true, MS_NOATIME}},
      {"bind", {false, MS_BIND}},           {"defaults", {false, 0}},
      {"dev", {true, MS_NODEV}},            {"diratime", {true, MS_NODIRATIME}},
      {"dirsync", {false, MS_DIRSYNC}},     {"exec", {true, MS_NOEXEC}},
      {"mand", {false, MS_MANDLOCK}},       {"noatime", {false, MS_NOATIME}},
      {"nodev", {false, MS_NODEV}},         {"nodiratime", {false, MS_NODIRATIME}},
      {"noexec", {false, MS_NOEXEC}},       {"nomand", {true, MS_MANDLOCK}},
      {"norelatime", {true, MS_RELATIME}},  {"nostrictatime", {true, MS_STRICTATIME}},
      {"nosuid", {false, MS_NOSUID}},       {"rbind", {false, MS_BIND | MS_REC}},
      {"relatime", {false, MS_RELATIME}},   {"remount", {false, MS_REMOUNT}},
      {"ro", {false, MS_RDONLY}},           {"rw", {true, MS_RDONLY}},
      {"strictatime", {false, MS_STRICTATIME}}, {"suid", {true, MS_NOSUID}},
      {"sync", {false, MS_SYNCHRONOUS}},
      {"shared", {false, MS_SHARED}},       {"rshared", {false, MS_SHARED | MS_REC}},
      {"private", {false, MS_PRIVATE}},     {"rprivate", {false, MS_PRIVATE | MS_REC}},
      {"slave", {false, MS_SLAVE}},         {"rslave", {false, MS_SLAVE | MS_REC}},
      {"unbindable", {false, MS_UNBINDABLE}},
      {"runbindable", {false, MS_UNBINDABLE | MS_REC}},
  };
  return *table;
}

struct ParsedOptions {
  unsigned long flags = 0;
  std::string data;
  bool loop = false;
};

ParsedOptions ParseOptions(const std::vector<std::string>& options) {
  ParsedOptions out;
  const auto& table = FlagTable();
  for (const auto& o : options) {
    auto it = table.find(o);
    if (it != table.end()) {
      if (it->second.clear) {
        out.flags &= ~it->second.flag;
      } else {
        out.flags |= it->second.flag;
      }
    } else if (o == "loop") {
      out.loop = true;
    } else {
      if (!out.data.empty()) out.data += ',';
      out.data += o;
    }
  }
  return out;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    parts.emplace_back(s.substr(start, pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

size_t OptionsSize(const std::vector<std::string>& options) {
  size_t n = 0;
  for (const auto& o : options) n += o.size();
  return n;
}

// Rewrites lowerdir=<a>:<b>... relative to the lower directories' common
// parent. Returns that parent ("" when nothing can be shortened).
std::string CompactLowerdirs(std::vector<std::string>& options) {
  constexpr std::string_view kPrefix = "lowerdir=";
  auto it = options.begin();
  for (; it != options.end(); ++it) {
    if (std::string_view(*it).starts_with(kPrefix)) break;
  }
  if (it == options.end()) return "";
  std::vector<std::string> dirs = Split(std::string_view(*it).substr(kPrefix.size()), ':');
  if (dirs.size() < 2) return "";
  std::string common = dirs[0];
  for (const auto& d : dirs) {
    size_t i = 0;
    while (i < common.size() && i < d.size() && common[i] == d[i]) ++i;
    common.resize(i);
  }
  // Cut back to a directory boundary: the parent of the common prefix.
  size_t slash = common.rfind('/');
  if (slash == std::string::npos || slash == 0) return "";
  common.resize(slash + 1);
  std::string joined = std::string(kPrefix);
  for (size_t i = 0; i < dirs.size(); ++i) {
    if (i) joined += ':';
    joined += dirs[i].substr(common.size());
  }
  options.erase(it);
  options.push_back(std::move(joined));
  return common;
}

// mount(2) with relative paths in `data` resolved against `dir`. The working
// directory is changed only in a helper thread that first stops sharing its
// filesystem context with the rest of the process.
int MountIn(const std::string& dir, const std::string& source,
            const std::string& target, const std::string& type,
            unsigned long flags, const std::string& data) {
  int result = 0;
  std::thread worker([&] {
    if (unshare(CLONE_FS) != 0 || chdir(dir.c_str()) != 0) {
      result = errno;
      return;
    }
    if (mount(source.c_str(), target.c_str(), type.c_str(), flags,
              data.c_str()) != 0) {
      result = errno;
    }
  });
  worker.join();
  return result;
}

}  // namespace

Status ApplyMount(const Mount& m, const std::string& mount_point) {
  std::string target = mount_point;
  if (!m.target.empty()) {
    target = (std::filesystem::path(mount_point) / m.target).lexically_normal();
  }
  std::vector<std::string> options = m.options;
  std::string chdir_to;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  if (m.type == "overlay" && OptionsSize(options) >= page - 512) {
    chdir_to = CompactLowerdirs(options);
  }
  ParsedOptions parsed = ParseOptions(options);
  if (parsed.data.size() > page) {
    return Status::InvalidArgument("mount options is too long");
  }
  if (parsed.loop) {
    return Status::NotImplemented("loop mounts are not supported: " + m.source);
  }
  constexpr unsigned long kPropagation =
      MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;
  unsigned long oflags = parsed.flags & ~kPropagation;
  if (m.type == "bind") oflags |= MS_BIND;
  const std::string fstype = m.type == "bind" ? "" : m.type;

  if ((parsed.flags & MS_REMOUNT) == 0 || !parsed.data.empty()) {
    int err = 0;
    if (chdir_to.empty()) {
      if (mount(m.source.c_str(), target.c_str(), fstype.c_str(), oflags,
                parsed.data.c_str()) != 0) {
        err = errno;
      }
    } else {
      err = MountIn(chdir_to, m.source, target, fstype, oflags, parsed.data);
    }
    if (err != 0) return Status::Unknown(ErrnoMessage("mount " + m.type + " on", target, err));
  }
  if ((parsed.flags & kPropagation) != 0) {
    const unsigned long pflags =
        parsed.flags & (kPropagation | MS_REC | MS_SILENT);
    if (mount("", target.c_str(), "", pflags, nullptr) != 0) {
      return Status::Unknown(ErrnoMessage("set propagation of", target, errno));
    }
  }
  // A bind ignores MS_RDONLY on the first call; remount to make it stick.
  if ((oflags & (MS_BIND | MS_RDONLY)) == (MS_BIND | MS_RDONLY)) {
    if (mount("", target.c_str(), "", oflags | MS_REMOUNT, nullptr) != 0) {
      Status s = Status::Unknown(ErrnoMessage("remount read-only", target, errno));
      (void)Unmount(target, 0);
      return s;
    }
  }
  return Status::Ok();
}

Status MountAll(const std::vector<Mount>& mounts, const std::string& target) {
  for (size_t i = 0; i < mounts.size(); ++i) {
    Status s = ApplyMount(mounts[i], target);
    if (!s.ok()) {
      for (size_t j = 0; j < i; ++j) (void)Unmount(target, 0);
      return s;
    }
  }
  return Status::Ok();
}

Status Unmount(const std::string& target, int flags) {
  constexpr int kAttempts = 50;
  for (int i = 0; i < kAttempts; ++i) {
    if (umount2(target.c_str(), flags) == 0) return Status::Ok();
    const int err = errno;
    if (err == EINVAL) return Status::Ok();
    if (err != EBUSY) return Status::Unknown(ErrnoMessage("unmount", target, err));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::Unknown(ErrnoMessage("unmount", target, EBUSY));
}

Status UnmountAll(const std::string& target, int flags) {
  if (target.empty()) return Status::Ok();
  std::error_code ec;
  if (!std::filesystem::exists(target, ec)) return Status::Ok();
  while (true) {
    if (umount2(target.c_str(), flags) != 0) {
      const int err = errno;
      if (err == EINVAL) return Status::Ok();
      if (err != EBUSY) return Status::Unknown(ErrnoMessage("unmount", target, err));
      BERTH_RETURN_IF_ERROR(Unmount(target, flags));
    }
  }
}

}  // namespace berth
