// Linux implementations of btrfs_fs.h.
#include "btrfs_fs.h"

#include <btrfsutil.h>
#include <endian.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

namespace berth::btrfs {
namespace {

namespace fs = std::filesystem;

// libbtrfsutil reports a failed step; errno holds the system's reason.
Status UtilError(const std::string& what, btrfs_util_error err) {
  const int saved = errno;
  std::string message = what + ": " + btrfs_util_strerror(err);
  if (saved != 0) message += std::string(": ") + std::strerror(saved);
  if (saved == ENOENT) return Status::NotFound(message);
  return Status::Unknown(message);
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && field[i + 1] >= '0' && field[i + 1] <= '3') {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

bool IsParentOrSelf(const std::string& mount_point, const std::string& path) {
  if (mount_point == "/") return true;
  return path == mount_point || (path.starts_with(mount_point) && path[mount_point.size()] == '/');
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Searches `tree` for the one item (objectid, type, offset); copies its body
// into `out` (up to `size` bytes). False when there is none. ENOENT when the
// tree does not exist.
Result<bool> SearchOneItem(int fd, std::uint64_t tree, std::uint64_t objectid, std::uint32_t type,
                           std::uint64_t offset, void* out, std::size_t size) {
  btrfs_ioctl_search_args args{};
  btrfs_ioctl_search_key& key = args.key;
  key.tree_id = tree;
  key.min_objectid = key.max_objectid = objectid;
  key.min_type = key.max_type = type;
  key.min_offset = key.max_offset = offset;
  key.max_transid = UINT64_MAX;
  key.nr_items = 1;
  if (ioctl(fd, BTRFS_IOC_TREE_SEARCH, &args) != 0) {
    if (errno == ENOENT) return false;
    return Status::Unknown(ErrnoMessage("btrfs tree search", "", errno));
  }
  if (key.nr_items == 0) return false;
  btrfs_ioctl_search_header header;
  std::memcpy(&header, args.buf, sizeof(header));
  if (header.objectid != objectid || header.type != type || header.offset != offset) {
    return false;
  }
  std::memset(out, 0, size);
  std::memcpy(out, args.buf + sizeof(header), std::min<std::size_t>(size, header.len));
  return true;
}

}  // namespace

Result<MountEntry> LookupMount(const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) {
    return Status::Unknown(ErrnoMessage("resolve", path, errno));
  }
  const std::string target = resolved;
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return Status::Unknown("cannot read /proc/self/mountinfo");
  std::optional<MountEntry> best;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point, options, word;
    fields >> id >> parent >> devno >> root >> mount_point >> options;
    while (fields >> word && word != "-") {
    }
    MountEntry e;
    fields >> e.fstype >> e.source;
    e.mount_point = Unescape(mount_point);
    e.source = Unescape(e.source);
    if (e.fstype.empty() || !IsParentOrSelf(e.mount_point, target)) continue;
    if (!best || e.mount_point.size() >= best->mount_point.size()) best = std::move(e);
  }
  if (!best) return Status::NotFound("no mount holds " + target);
  return *best;
}

Status CreateSubvolume(const std::string& path) {
  errno = 0;
  btrfs_util_error err = btrfs_util_create_subvolume(path.c_str(), 0, nullptr, nullptr);
  if (err != BTRFS_UTIL_OK) return UtilError("create subvolume " + path, err);
  return Status::Ok();
}

Status CreateSnapshot(const std::string& source, const std::string& path, bool read_only) {
  errno = 0;
  const int flags = read_only ? BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY : 0;
  btrfs_util_error err =
      btrfs_util_create_snapshot(source.c_str(), path.c_str(), flags, nullptr, nullptr);
  if (err != BTRFS_UTIL_OK) return UtilError("snapshot " + source + " at " + path, err);
  return Status::Ok();
}

Status DeleteSubvolume(const std::string& path) {
  errno = 0;
  btrfs_util_error err =
      btrfs_util_delete_subvolume(path.c_str(), BTRFS_UTIL_DELETE_SUBVOLUME_RECURSIVE);
  if (err != BTRFS_UTIL_OK) return UtilError("delete subvolume " + path, err);
  return Status::Ok();
}

bool IsSubvolume(const std::string& path) {
  return btrfs_util_is_subvolume(path.c_str()) == BTRFS_UTIL_OK;
}

Status RemoveAny(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? Status::Ok() : Status::Unknown(ErrnoMessage("stat", path, errno));
  }
  if (S_ISDIR(st.st_mode) && IsSubvolume(path)) return DeleteSubvolume(path);
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return Status::Unknown("remove " + path + ": " + ec.message());
  return Status::Ok();
}

Result<std::uint64_t> SubvolumeId(const std::string& path) {
  errno = 0;
  std::uint64_t id = 0;
  btrfs_util_error err = btrfs_util_subvolume_id(path.c_str(), &id);
  if (err != BTRFS_UTIL_OK) return UtilError("subvolume id of " + path, err);
  return id;
}

Result<std::optional<std::int64_t>> QgroupExclusiveBytes(const std::string& path) {
  auto id = SubvolumeId(path);
  if (!id.ok()) return id.status();
  Fd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return Status::Unknown(ErrnoMessage("open", path, errno));
  btrfs_qgroup_status_item status{};
  auto found = SearchOneItem(fd.get(), BTRFS_QUOTA_TREE_OBJECTID, 0, BTRFS_QGROUP_STATUS_KEY, 0,
                             &status, sizeof(status));
  if (!found.ok()) return found.status();
  const std::uint64_t flags = le64toh(status.flags);
  if (!*found || (flags & BTRFS_QGROUP_STATUS_FLAG_ON) == 0 ||
      (flags & (BTRFS_QGROUP_STATUS_FLAG_INCONSISTENT | BTRFS_QGROUP_STATUS_FLAG_RESCAN)) != 0) {
    return std::optional<std::int64_t>();
  }
  // Quota groups are accounted when a transaction commits.
  errno = 0;
  if (btrfs_util_error err = btrfs_util_sync_fd(fd.get()); err != BTRFS_UTIL_OK) {
    return UtilError("sync " + path, err);
  }
  btrfs_qgroup_info_item info{};
  found = SearchOneItem(fd.get(), BTRFS_QUOTA_TREE_OBJECTID, 0, BTRFS_QGROUP_INFO_KEY, *id, &info,
                        sizeof(info));
  if (!found.ok()) return found.status();
  if (!*found) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(static_cast<std::int64_t>(le64toh(info.excl)));
}

Result<snapshots::Usage> DiffUsage(const std::string& dir, const std::string& base) {
  snapshots::Usage usage;
  std::set<std::pair<dev_t, ino_t>> seen;
  auto count = [&](const fs::path& p, const fs::path& rel) -> Status {
    struct stat st {};
    if (lstat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) return Status::Ok();  // removed while walking
      return Status::Unknown(ErrnoMessage("stat", p.string(), errno));
    }
    if (!base.empty()) {
      struct stat old {};
      const fs::path counterpart = rel.empty() ? fs::path(base) : fs::path(base) / rel;
      if (lstat(counterpart.c_str(), &old) == 0 && old.st_ino == st.st_ino &&
          old.st_ctim.tv_sec == st.st_ctim.tv_sec && old.st_ctim.tv_nsec == st.st_ctim.tv_nsec) {
        return Status::Ok();
      }
    }
    if (seen.emplace(st.st_dev, st.st_ino).second) {
      usage.inodes++;
      usage.size += static_cast<std::int64_t>(st.st_blocks) * 512;
    }
    return Status::Ok();
  };
  BERTH_RETURN_IF_ERROR(count(dir, {}));
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) return Status::Unknown("walk " + dir + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Status::Unknown("walk " + dir + ": " + ec.message());
    BERTH_RETURN_IF_ERROR(count(it->path(), it->path().lexically_relative(dir)));
  }
  if (ec) return Status::Unknown("walk " + dir + ": " + ec.message());
  return usage;
}


}  // namespace berth::btrfs
