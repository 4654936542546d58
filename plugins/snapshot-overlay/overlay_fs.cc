// Linux implementations of the probes in overlay_fs.h.
#include "overlay_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "berth/mount.h"

namespace berth::overlay {
namespace {

namespace fs = std::filesystem;

bool InUserNamespace() {
  std::ifstream in("/proc/self/uid_map");
  std::uint64_t inside = 0, outside = 0, length = 0;
  if (!(in >> inside >> outside >> length)) return false;
  return !(inside == 0 && outside == 0 && length == 4294967295ULL);
}

bool KernelAtLeast(int major, int minor) {
  utsname u{};
  if (uname(&u) != 0) return false;
  int kmaj = 0, kmin = 0;
  if (std::sscanf(u.release, "%d.%d", &kmaj, &kmin) != 2) return false;
  return kmaj > major || (kmaj == major && kmin >= minor);
}

}  // namespace

Result<bool> SupportsDType(const std::string& dir) {
  std::string tmpl = dir + "/d_type-check.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    return Status::Unknown(ErrnoMessage("create", tmpl, errno));
  }
  const std::string probe = tmpl + "/probe";
  int fd = open(probe.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0) close(fd);
  bool supported = false;
  if (DIR* d = opendir(tmpl.c_str())) {
    while (dirent* e = readdir(d)) {
      if (std::strcmp(e->d_name, "probe") == 0) supported = e->d_type != DT_UNKNOWN;
    }
    closedir(d);
  }
  std::error_code ec;
  fs::remove_all(tmpl, ec);
  if (fd < 0) return Status::Unknown(ErrnoMessage("create", probe, errno));
  return supported;
}

bool SupportsIndex() {
  std::error_code ec;
  return fs::exists("/sys/module/overlay/parameters/index", ec);
}

bool NeedsUserXattr(const std::string& dir) {
  if (!InUserNamespace()) return false;
  struct statfs st {};
  if (statfs(dir.c_str(), &st) == 0 && st.f_type == TMPFS_MAGIC) return false;
  return KernelAtLeast(5, 11);
}

Status CheckOverlayMount(const std::string& dir) {
  std::string tmpl = dir + "/multiple-lowerdir-check.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    return Status::Unknown(ErrnoMessage("create", tmpl, errno));
  }
  const fs::path td(tmpl);
  std::error_code ec;
  for (const char* sub : {"lower1", "lower2", "upper", "work", "merged"}) {
    fs::create_directory(td / sub, ec);
  }
  Mount m{"overlay", "overlay", "",
          {"lowerdir=" + (td / "lower2").string() + ":" + (td / "lower1").string(),
           "upperdir=" + (td / "upper").string(),
           "workdir=" + (td / "work").string()}};
  Status s = ApplyMount(m, (td / "merged").string());
  if (s.ok()) s = UnmountAll((td / "merged").string());
  fs::remove_all(td, ec);
  return s.ok() ? s : Status::Unknown("failed to mount overlay: " + s.message());
}

Result<snapshots::Usage> DiskUsage(const std::string& dir) {
  snapshots::Usage usage;
  std::set<std::pair<dev_t, ino_t>> seen;
  auto count = [&](const fs::path& p) -> Status {
    struct stat st {};
    if (lstat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) return Status::Ok();  // removed while walking
      return Status::Unknown(ErrnoMessage("stat", p.string(), errno));
    }
    if (seen.emplace(st.st_dev, st.st_ino).second) {
      usage.inodes++;
      usage.size += static_cast<std::int64_t>(st.st_blocks) * 512;
    }
    return Status::Ok();
  };
  BERTH_RETURN_IF_ERROR(count(dir));
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) return Status::Unknown("walk " + dir + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Status::Unknown("walk " + dir + ": " + ec.message());
    BERTH_RETURN_IF_ERROR(count(it->path()));
  }
  if (ec) return Status::Unknown("walk " + dir + ": " + ec.message());
  return usage;
}


}  // namespace berth::overlay
