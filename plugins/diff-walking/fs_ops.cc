// Platform file-system operations of the walking differ (see fs_ops.h).
#include "fs_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace berth::diff_walking {
namespace {

std::string ProcPath(int dir_fd, const std::string& name) {
  std::string path = "/proc/self/fd/" + std::to_string(dir_fd);
  if (!name.empty() && name != ".") path += "/" + name;
  return path;
}

}  // namespace

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.Release();
  }
  return *this;
}

Status ErrnoStatus(std::string_view op, std::string_view path, int err) {
  std::string message = std::string(op) + " " + std::string(path) + ": " +
                        std::strerror(err);
  if (err == ENOENT) return Status::NotFound(std::move(message));
  if (err == ENOTSUP) return Status::NotImplemented(std::move(message));
  return Status::Unknown(std::move(message));
}

std::vector<std::string> CleanComponents(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    std::size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view part = path.substr(pos, next - pos);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.emplace_back(part);
    }
    pos = next + 1;
  }
  return parts;
}

std::string JoinComponents(const std::vector<std::string>& parts, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n && i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out;
}

Result<UniqueFd> OpenRoot(const std::string& path) {
  int fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  return UniqueFd(fd);
}

Result<UniqueFd> OpenInRoot(int root_fd, const std::string& rel, int flags,
                            mode_t mode) {
  open_how how{};
  how.flags = static_cast<__u64>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const char* path = rel.empty() ? "." : rel.c_str();
  long fd;
  do {
    fd = ::syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
  } while (fd < 0 && (errno == EAGAIN || errno == EINTR));
  if (fd < 0) return ErrnoStatus("openat2", rel.empty() ? "/" : rel, errno);
  return UniqueFd(static_cast<int>(fd));
}

Result<UniqueFd> OpenDirInRoot(int root_fd, const std::string& rel) {
  return OpenInRoot(root_fd, rel, O_PATH | O_DIRECTORY);
}

Result<std::optional<struct stat>> LstatAt(int dir_fd, const std::string& name) {
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return std::optional<struct stat>();
    return ErrnoStatus("lstat", name, errno);
  }
  return std::optional<struct stat>(st);
}

Status RemoveAllAt(int dir_fd, const std::string& name) {
  if (::unlinkat(dir_fd, name.c_str(), 0) == 0 || errno == ENOENT) {
    return Status::Ok();
  }
  if (errno != EISDIR && errno != EPERM) return ErrnoStatus("unlink", name, errno);
  int fd = ::openat(dir_fd, name.c_str(),
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", name, errno);
  UniqueFd dir(fd);
  auto names = ListDir(dir.get());
  if (!names.ok()) return names.status();
  for (const auto& child : *names) {
    BERTH_RETURN_IF_ERROR(RemoveAllAt(dir.get(), child));
  }
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return ErrnoStatus("rmdir", name, errno);
  }
  return Status::Ok();
}

Status RemoveChildrenExcept(int dir_fd, const std::string& rel,
                            const std::function<bool(const std::string&)>& keep) {
  auto names = ListDir(dir_fd);
  if (!names.ok()) return names.status();
  for (const auto& child : *names) {
    std::string child_rel = rel.empty() ? child : rel + "/" + child;
    if (!keep(child_rel)) {
      BERTH_RETURN_IF_ERROR(RemoveAllAt(dir_fd, child));
      continue;
    }
    auto st = LstatAt(dir_fd, child);
    if (!st.ok()) return st.status();
    if (!st->has_value() || !S_ISDIR((*st)->st_mode)) continue;
    int fd = ::openat(dir_fd, child.c_str(),
                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open", child_rel, errno);
    UniqueFd sub(fd);
    BERTH_RETURN_IF_ERROR(RemoveChildrenExcept(sub.get(), child_rel, keep));
  }
  return Status::Ok();
}

Status MkdirAt(int dir_fd, const std::string& name, mode_t mode) {
  if (::mkdirat(dir_fd, name.c_str(), mode) != 0) {
    return ErrnoStatus("mkdir", name, errno);
  }
  return Status::Ok();
}

Status MknodAt(int dir_fd, const std::string& name, mode_t mode, dev_t dev) {
  if (::mknodat(dir_fd, name.c_str(), mode, dev) != 0) {
    return ErrnoStatus("mknod", name, errno);
  }
  return Status::Ok();
}

Status SymlinkAt(const std::string& target, int dir_fd, const std::string& name) {
  if (::symlinkat(target.c_str(), dir_fd, name.c_str()) != 0) {
    return ErrnoStatus("symlink", name, errno);
  }
  return Status::Ok();
}

Status LinkAt(int old_dir_fd, const std::string& old_name, int new_dir_fd,
              const std::string& new_name) {
  if (::linkat(old_dir_fd, old_name.c_str(), new_dir_fd, new_name.c_str(), 0) != 0) {
    return ErrnoStatus("link " + old_name + " to", new_name, errno);
  }
  return Status::Ok();
}

Status ChownAt(int dir_fd, const std::string& name, uid_t uid, gid_t gid) {
  if (::fchownat(dir_fd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus("lchown", name, errno);
  }
  return Status::Ok();
}

Status ChmodAt(int dir_fd, const std::string& name, mode_t mode) {
  if (::fchmodat(dir_fd, name.c_str(), mode & 07777, 0) != 0) {
    return ErrnoStatus("chmod", name, errno);
  }
  return Status::Ok();
}

Status SetTimesAt(int dir_fd, const std::string& name, const timespec& atime,
                  const timespec& mtime) {
  const timespec times[2] = {atime, mtime};
  if (::utimensat(dir_fd, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus("utimensat", name, errno);
  }
  return Status::Ok();
}

// For the directory itself the path is the /proc magic link, which must be
// followed; below it, the final component must not be.
bool IsSelf(const std::string& name) { return name.empty() || name == "."; }

Status SetXattrAt(int dir_fd, const std::string& name, const std::string& key,
                  const std::string& value) {
  const std::string path = ProcPath(dir_fd, name);
  const int rc = IsSelf(name)
                     ? ::setxattr(path.c_str(), key.c_str(), value.data(), value.size(), 0)
                     : ::lsetxattr(path.c_str(), key.c_str(), value.data(), value.size(), 0);
  if (rc != 0) {
    return ErrnoStatus("setxattr " + key + " on", name, errno);
  }
  return Status::Ok();
}

Result<Xattrs> ListXattrsAt(int dir_fd, const std::string& name) {
  const std::string path = ProcPath(dir_fd, name);
  const bool self = IsSelf(name);
  auto list = [&](char* buf, std::size_t size) {
    return self ? ::listxattr(path.c_str(), buf, size) : ::llistxattr(path.c_str(), buf, size);
  };
  auto get = [&](const std::string& key, void* buf, std::size_t size) {
    return self ? ::getxattr(path.c_str(), key.c_str(), buf, size)
                : ::lgetxattr(path.c_str(), key.c_str(), buf, size);
  };
  Xattrs out;
  std::string keys;
  for (;;) {
    ssize_t n = list(nullptr, 0);
    if (n < 0) {
      if (errno == ENOTSUP) return out;
      return ErrnoStatus("listxattr", name, errno);
    }
    keys.resize(static_cast<std::size_t>(n));
    n = list(keys.data(), keys.size());
    if (n < 0 && errno == ERANGE) continue;
    if (n < 0) return ErrnoStatus("listxattr", name, errno);
    keys.resize(static_cast<std::size_t>(n));
    break;
  }
  for (std::size_t pos = 0; pos < keys.size();) {
    std::string key(keys.c_str() + pos);
    pos += key.size() + 1;
    if (key.empty()) continue;
    std::string value;
    for (;;) {
      ssize_t n = get(key, nullptr, 0);
      if (n < 0) {
        if (errno == ENODATA) break;
        return ErrnoStatus("getxattr " + key + " of", name, errno);
      }
      value.resize(static_cast<std::size_t>(n));
      n = get(key, value.data(), value.size());
      if (n < 0 && errno == ERANGE) continue;
      if (n < 0) return ErrnoStatus("getxattr " + key + " of", name, errno);
      value.resize(static_cast<std::size_t>(n));
      out.emplace(key, std::move(value));
      break;
    }
  }
  return out;
}

Result<std::string> ReadlinkAt(int dir_fd, const std::string& name) {
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = ::readlinkat(dir_fd, name.c_str(), buf.data(), buf.size());
    if (n < 0) return ErrnoStatus("readlink", name, errno);
    if (static_cast<std::size_t>(n) < buf.size()) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

Result<std::vector<std::string>> ListDir(int dir_fd) {
  int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open directory", ProcPath(dir_fd, ""), errno);
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("fdopendir", ProcPath(dir_fd, ""), err);
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return ErrnoStatus("readdir", ProcPath(dir_fd, ""), err);
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::string> FdPath(int fd) {
  std::string proc = ProcPath(fd, "");
  std::string buf(4096, '\0');
  ssize_t n = ::readlink(proc.c_str(), buf.data(), buf.size());
  if (n < 0) return ErrnoStatus("readlink", proc, errno);
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

std::vector<std::string> MountPointsBelow(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream info("/proc/self/mountinfo");
  std::string line;
  while (std::getline(info, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, point;
    fields >> id >> parent >> devno >> root >> point;
    // mountinfo escapes space, tab, newline and backslash as \ooo.
    std::string unescaped;
    for (std::size_t i = 0; i < point.size(); ++i) {
      if (point[i] == '\\' && i + 3 < point.size()) {
        unescaped += static_cast<char>(std::stoi(point.substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        unescaped += point[i];
      }
    }
    if (unescaped.starts_with(dir + "/")) out.push_back(unescaped);
  }
  return out;
}

Result<TempMount> TempMount::Create(const std::vector<Mount>& mounts,
                                    const std::string& base, bool read_only) {
  std::string tmpl = base + "/berth-diff-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return ErrnoStatus("mkdtemp", tmpl, errno);
  }
  TempMount tm;
  tm.path_ = tmpl;
  std::vector<Mount> applied = mounts;
  if (read_only) {
    for (auto& m : applied) {
      std::erase(m.options, "rw");
      std::erase(m.options, "volatile");
      m.options.push_back("ro");
    }
  }
  tm.mounted_ = true;
  Status st = MountAll(applied, tm.path_);
  if (!st.ok()) {
    tm.mounted_ = false;
    (void)tm.Release();
    return st.Annotate("failed to mount " + tmpl);
  }
  return tm;
}

TempMount::~TempMount() { (void)Release(); }

TempMount::TempMount(TempMount&& other) noexcept
    : path_(std::exchange(other.path_, std::string())),
      mounted_(std::exchange(other.mounted_, false)) {}

TempMount& TempMount::operator=(TempMount&& other) noexcept {
  if (this != &other) {
    (void)Release();
    path_ = std::exchange(other.path_, std::string());
    mounted_ = std::exchange(other.mounted_, false);
  }
  return *this;
}

Status TempMount::Release() {
  if (path_.empty()) return Status::Ok();
  if (mounted_) {
    // Mounts stacked below the root (a mount with a target) go first.
    std::vector<std::string> nested = MountPointsBelow(path_);
    std::sort(nested.rbegin(), nested.rend());
    for (const auto& m : nested) {
      Status st = UnmountAll(m);
      if (!st.ok()) return st.Annotate("failed to unmount " + m);
    }
    Status st = UnmountAll(path_);
    if (!st.ok()) return st.Annotate("failed to unmount " + path_);
    mounted_ = false;
  }
  if (::rmdir(path_.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus("rmdir", path_, errno);
  }
  path_.clear();
  return Status::Ok();
}

std::string TempBase(const std::string& configured) {
  if (!configured.empty()) return configured;
  const char* env = std::getenv("TMPDIR");
  if (env != nullptr && *env != '\0') return env;
  return "/tmp";
}

}  // namespace berth::diff_walking
