// Platform file-system operations of the walking differ, all relative to
// directory file descriptors so that no path is ever resolved outside the
// tree being written or read.
//
// Path resolution inside a tree goes through openat2(2) with RESOLVE_IN_ROOT:
// "..", absolute symlinks and relative symlinks are all scoped to the tree's
// root, as if the process were chrooted there. Final components are never
// followed by the *At helpers (mkdir, mknod, link, chown, times, xattrs).
//
// Thread-safety: the functions keep no state; an owned descriptor (UniqueFd)
// belongs to one caller. Errors come back as Unknown statuses carrying the
// operation, the path and the errno text (NotFound for ENOENT,
// NotImplemented for ENOTSUP).
#ifndef BERTH_PLUGINS_DIFF_WALKING_FS_OPS_H_
#define BERTH_PLUGINS_DIFF_WALKING_FS_OPS_H_

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "berth/mount.h"
#include "berth/status.h"

namespace berth::diff_walking {

using Xattrs = std::map<std::string, std::string>;

// An owned file descriptor; closes on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// A status for a failed system call: NotFound for ENOENT, NotImplemented for
// ENOTSUP (a file system without that feature), Unknown otherwise;
// the message reads "<op> <path>: <strerror>".
Status ErrnoStatus(std::string_view op, std::string_view path, int err);

// Cleans a tar path lexically as if it were rooted: drops "", "." and a
// leading "/", and lets ".." pop a component but never climb above the root.
// "../x" and "/x" both give {"x"}; "a/../../b" gives {"b"}; "" gives {}.
std::vector<std::string> CleanComponents(std::string_view path);
// Joins the first `n` components with "/" ("" for n == 0).
std::string JoinComponents(const std::vector<std::string>& parts, std::size_t n);

// Opens a tree's root directory (O_PATH). Errors: NotFound, Unknown.
Result<UniqueFd> OpenRoot(const std::string& path);

// Opens `rel` below `root_fd` with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS): symlinks (the final one too, unless `flags` holds
// O_NOFOLLOW) and ".." never leave the root. `rel` "" opens the root itself.
Result<UniqueFd> OpenInRoot(int root_fd, const std::string& rel, int flags,
                            mode_t mode = 0);
// OpenInRoot(root_fd, rel, O_PATH | O_DIRECTORY).
Result<UniqueFd> OpenDirInRoot(int root_fd, const std::string& rel);

// fstatat(AT_SYMLINK_NOFOLLOW); nullopt when the name does not exist.
Result<std::optional<struct stat>> LstatAt(int dir_fd, const std::string& name);

// Removes `name` in `dir_fd` and, for a directory, everything below it,
// without following any symlink. Absent is success.
Status RemoveAllAt(int dir_fd, const std::string& name);
// Removes every child of the directory `dir_fd` for which `keep` is false;
// descends into kept directories. `rel` is the path of dir_fd in the tree,
// passed back (joined with each child's name) to `keep`.
Status RemoveChildrenExcept(int dir_fd, const std::string& rel,
                            const std::function<bool(const std::string&)>& keep);

Status MkdirAt(int dir_fd, const std::string& name, mode_t mode);
// mknodat(2); `mode` carries the file type (S_IFCHR, S_IFBLK, S_IFIFO).
Status MknodAt(int dir_fd, const std::string& name, mode_t mode, dev_t dev);
Status SymlinkAt(const std::string& target, int dir_fd, const std::string& name);
// linkat(2) without following a symlink at the old name.
Status LinkAt(int old_dir_fd, const std::string& old_name, int new_dir_fd,
              const std::string& new_name);
// lchown semantics (AT_SYMLINK_NOFOLLOW).
Status ChownAt(int dir_fd, const std::string& name, uid_t uid, gid_t gid);
// chmod of a non-symlink (REQUIRES: `name` is not a symlink; Linux cannot
// change a symlink's mode and fchmodat would follow it).
Status ChmodAt(int dir_fd, const std::string& name, mode_t mode);
// utimensat(AT_SYMLINK_NOFOLLOW).
Status SetTimesAt(int dir_fd, const std::string& name, const timespec& atime,
                  const timespec& mtime);
// lsetxattr / llistxattr+lgetxattr of `name` in `dir_fd` (through
// /proc/self/fd, so the final component is not followed). For the directory
// itself pass name ".".
Status SetXattrAt(int dir_fd, const std::string& name, const std::string& key,
                  const std::string& value);
Result<Xattrs> ListXattrsAt(int dir_fd, const std::string& name);
Result<std::string> ReadlinkAt(int dir_fd, const std::string& name);
// The names in a directory, sorted bytewise, without "." and "..".
Result<std::vector<std::string>> ListDir(int dir_fd);
// The absolute path the kernel reports for an open descriptor.
Result<std::string> FdPath(int fd);

// The mount points strictly below `dir`, from /proc/self/mountinfo.
std::vector<std::string> MountPointsBelow(const std::string& dir);

// A fresh directory "<base>/berth-diff-XXXXXX" with `mounts` applied on it
// (read-only when asked: "ro" is added to every mount). Unmounts and removes
// the directory on Release() or destruction.
class TempMount {
 public:
  static Result<TempMount> Create(const std::vector<Mount>& mounts,
                                  const std::string& base, bool read_only);
  TempMount() = default;
  ~TempMount();
  TempMount(TempMount&& other) noexcept;
  TempMount& operator=(TempMount&& other) noexcept;
  TempMount(const TempMount&) = delete;
  TempMount& operator=(const TempMount&) = delete;

  const std::string& path() const { return path_; }
  // Unmounts everything on path() and removes it. Idempotent.
  Status Release();

 private:
  std::string path_;
  bool mounted_ = false;
};

// The directory temporary mounts go below: `configured` if set, else
// $TMPDIR, else /tmp.
std::string TempBase(const std::string& configured);

}  // namespace berth::diff_walking

#endif  // BERTH_PLUGINS_DIFF_WALKING_FS_OPS_H_
