// Applying a tar layer onto a tree (see apply.h).
#include "apply.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "fs_ops.h"

namespace berth::diff_walking {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr std::string_view kWhiteoutOpaqueDir = ".wh..wh..opq";

timespec EntryTime(bool is_set, std::int64_t sec, long nsec) {
  timespec ts{};
  if (!is_set) {
    ts.tv_nsec = UTIME_OMIT;
    return ts;
  }
  ts.tv_sec = static_cast<time_t>(sec);
  ts.tv_nsec = nsec;
  return ts;
}

struct EntryTimes {
  timespec atime;
  timespec mtime;
};

// containerd sets atime to the later of the header's atime and mtime.
EntryTimes TimesOf(struct archive_entry* e) {
  EntryTimes t;
  t.mtime = EntryTime(archive_entry_mtime_is_set(e), archive_entry_mtime(e),
                      archive_entry_mtime_nsec(e));
  t.atime = t.mtime;
  if (archive_entry_atime_is_set(e)) {
    timespec a = EntryTime(true, archive_entry_atime(e), archive_entry_atime_nsec(e));
    if (t.mtime.tv_nsec == UTIME_OMIT || a.tv_sec > t.mtime.tv_sec ||
        (a.tv_sec == t.mtime.tv_sec && a.tv_nsec > t.mtime.tv_nsec)) {
      t.atime = a;
    }
  }
  return t;
}

std::string JoinRel(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

class Applier {
 public:
  Applier(LayerReader& layer, const ApplyTarget& target)
      : layer_(layer), target_(target) {}

  Status Run() {
    auto root = OpenRoot(target_.root);
    if (!root.ok()) return root.status();
    root_fd_ = std::move(*root);
    auto real = FdPath(root_fd_.get());
    if (!real.ok()) return real.status();
    root_real_ = *real == "/" ? std::string() : *real;
    for (const auto& p : target_.parents) {
      auto fd = OpenRoot(p);
      if (!fd.ok()) return fd.status().Annotate("lower directory");
      parent_fds_.push_back(std::move(*fd));
    }

    struct archive* tar = layer_.tar();
    for (;;) {
      struct archive_entry* entry = nullptr;
      int rc = archive_read_next_header(tar, &entry);
      if (rc == ARCHIVE_EOF) break;
      if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
        return layer_.TarError("failed to read tar entry");
      }
      const char* name = archive_entry_pathname(entry);
      if (name == nullptr) {
        return Status::FailedPrecondition("tar entry without a name");
      }
      Status st = ApplyEntry(name, entry);
      if (!st.ok()) return st.Annotate(std::string("apply ") + name);
    }
    for (const auto& dir : dirs_) {
      Status st = SetTimes(dir.rel, dir.times);
      if (!st.ok() && !st.Is(Code::kNotFound)) return st;
    }
    return Status::Ok();
  }

 private:
  struct DirTimes {
    std::string rel;
    EntryTimes times;
  };

  // The path of an open directory relative to the root ("" for the root).
  Result<std::string> RelOf(int fd) {
    auto path = FdPath(fd);
    if (!path.ok()) return path.status();
    if (*path == root_real_ || (root_real_.empty() && *path == "/")) {
      return std::string();
    }
    if (path->size() <= root_real_.size() + 1 ||
        path->compare(0, root_real_.size(), root_real_) != 0 ||
        (*path)[root_real_.size()] != '/') {
      return Status::Unknown("resolved " + *path + " outside " + target_.root);
    }
    return path->substr(root_real_.size() + 1);
  }

  // Opens the directory made of the first `n` components of `parts`,
  // creating missing directories as containerd's mkparent does. Symlinks on
  // the way are resolved as fs.RootPath does, within the root, and missing
  // directories are made where they point.
  Result<UniqueFd> EnsureParent(const std::vector<std::string>& parts,
                                std::size_t n) {
    auto fast = OpenDirInRoot(root_fd_.get(), JoinComponents(parts, n));
    if (fast.ok() || !fast.status().Is(Code::kNotFound)) return fast;
    constexpr int kMaxLinks = 40;
    std::vector<std::string> todo(parts.begin(), parts.begin() + n);
    std::vector<std::string> done;  // resolved components below the root
    int links = 0;
    auto cur = OpenDirInRoot(root_fd_.get(), "");
    if (!cur.ok()) return cur;
    std::size_t i = 0;
    while (i < todo.size()) {
      const std::string name = todo[i];
      auto st = LstatAt(cur->get(), name);
      if (!st.ok()) return st.status();
      if (!st->has_value()) {
        Status made = MkdirAt(cur->get(), name, 0755);
        if (!made.ok()) return made.Annotate("mkparent");
        BERTH_RETURN_IF_ERROR(ChmodAt(cur->get(), name, 0755));
        BERTH_RETURN_IF_ERROR(CopyParentInfo(cur->get(), name));
        st = LstatAt(cur->get(), name);
        if (!st.ok()) return st.status();
        if (!st->has_value()) return ErrnoStatus("mkparent", name, ENOENT);
      }
      if (S_ISLNK((*st)->st_mode)) {
        if (++links > kMaxLinks) return ErrnoStatus("mkparent", name, ELOOP);
        auto target = ReadlinkAt(cur->get(), name);
        if (!target.ok()) return target.status();
        std::string combined = (*target)[0] == '/'
                                   ? *target
                                   : JoinComponents(done, done.size()) + "/" + *target;
        std::vector<std::string> resolved = CleanComponents(combined);
        resolved.insert(resolved.end(), todo.begin() + static_cast<long>(i) + 1,
                        todo.end());
        todo = std::move(resolved);
        done.clear();
        i = 0;
        cur = OpenDirInRoot(root_fd_.get(), "");
        if (!cur.ok()) return cur;
        continue;
      }
      if (!S_ISDIR((*st)->st_mode)) {
        return ErrnoStatus("mkparent", JoinComponents(todo, i + 1), ENOTDIR);
      }
      int fd = ::openat(cur->get(), name.c_str(),
                        O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return ErrnoStatus("open", name, errno);
      cur = UniqueFd(fd);
      done.push_back(name);
      ++i;
    }
    return cur;
  }

  // For an overlay upper directory, a made parent takes its metadata from
  // the first lower directory holding that path.
  Status CopyParentInfo(int dir_fd, const std::string& name) {
    if (parent_fds_.empty()) return Status::Ok();
    auto dir_rel = RelOf(dir_fd);
    if (!dir_rel.ok()) return dir_rel.status();
    const std::string rel = JoinRel(*dir_rel, name);
    for (const auto& lower : parent_fds_) {
      auto fd = OpenInRoot(lower.get(), rel, O_PATH | O_NOFOLLOW);
      if (!fd.ok()) {
        if (fd.status().Is(Code::kNotFound)) continue;
        return fd.status();
      }
      struct stat st {};
      if (::fstat(fd->get(), &st) != 0) return ErrnoStatus("stat", rel, errno);
      if (!S_ISDIR(st.st_mode)) break;  // replaced there: keep the defaults
      BERTH_RETURN_IF_ERROR(ChownAt(dir_fd, name, st.st_uid, st.st_gid));
      BERTH_RETURN_IF_ERROR(ChmodAt(dir_fd, name, st.st_mode));
      // And its xattrs but overlay's own (containerd's copyUpXAttrs): the
      // upper directory hides the lower one's.
      auto xattrs = ListXattrsAt(fd->get(), ".");
      if (!xattrs.ok()) return xattrs.status();
      for (const auto& [key, value] : *xattrs) {
        if (key.starts_with("trusted.overlay.") ||
            (target_.userxattr && key.starts_with("user.overlay."))) {
          continue;
        }
        Status x = SetXattrAt(dir_fd, name, key, value);
        if (!x.ok() && !x.Is(Code::kNotImplemented)) return x;
      }
      return SetTimesAt(dir_fd, name, st.st_atim, st.st_mtim);
    }
    return Status::Ok();
  }

  Status ApplyEntry(const std::string& name, struct archive_entry* e) {
    const std::vector<std::string> parts = CleanComponents(name);
    if (parts.empty()) return Status::Ok();  // resolves to the root: ignored
    const std::string& base = parts.back();
    auto parent = EnsureParent(parts, parts.size() - 1);
    if (!parent.ok()) return parent.status();
    const int dir = parent->get();
    auto parent_rel = RelOf(dir);
    if (!parent_rel.ok()) return parent_rel.status();

    if (std::string_view(base).starts_with(kWhiteoutPrefix)) {
      return Whiteout(dir, *parent_rel, base, e);
    }

    const char* hardlink = archive_entry_hardlink(e);
    const mode_t type = archive_entry_filetype(e);
    auto existing = LstatAt(dir, base);
    if (!existing.ok()) return existing.status();
    const bool merge_dir = existing->has_value() && S_ISDIR((*existing)->st_mode) &&
                           hardlink == nullptr && type == AE_IFDIR;
    if (existing->has_value() && !merge_dir) {
      BERTH_RETURN_IF_ERROR(RemoveAllAt(dir, base));
    }

    const mode_t perm = archive_entry_perm(e) & 07777;
    UniqueFd file;
    if (hardlink != nullptr) {
      BERTH_RETURN_IF_ERROR(Hardlink(hardlink, dir, base));
    } else {
      switch (type) {
        case AE_IFDIR:
          if (!merge_dir) BERTH_RETURN_IF_ERROR(MkdirAt(dir, base, 0700));
          break;
        case AE_IFREG: {
          auto fd = WriteFile(dir, base, e);
          if (!fd.ok()) return fd.status();
          file = std::move(*fd);
          break;
        }
        case AE_IFLNK: {
          const char* target = archive_entry_symlink(e);
          if (target == nullptr) return Status::FailedPrecondition("symlink without target");
          BERTH_RETURN_IF_ERROR(SymlinkAt(target, dir, base));
          break;
        }
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO:
          BERTH_RETURN_IF_ERROR(MknodAt(
              dir, base, type | perm,
              makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e))));
          break;
        default:
          return Status::FailedPrecondition("unhandled tar entry type " +
                                            std::to_string(type));
      }
    }

    BERTH_RETURN_IF_ERROR(SetMetadata(dir, base, file, e));
    const std::string rel = JoinRel(*parent_rel, base);
    if (hardlink == nullptr && type == AE_IFDIR) {
      dirs_.push_back({rel, TimesOf(e)});
    }
    unpacked_.insert(rel);
    return Status::Ok();
  }

  Status Whiteout(int dir, const std::string& dir_rel, const std::string& base,
                  struct archive_entry* e) {
    if (base == kWhiteoutOpaqueDir) {
      if (target_.overlay) {
        return SetXattrAt(dir, ".",
                          target_.userxattr ? "user.overlay.opaque"
                                            : "trusted.overlay.opaque",
                          "y");
      }
      return RemoveChildrenExcept(
          dir, dir_rel, [this](const std::string& rel) { return unpacked_.contains(rel); });
    }
    // Other ".wh..wh." names are aufs metadata, meaningless here.
    if (std::string_view(base).starts_with(kWhiteoutMetaPrefix)) return Status::Ok();
    const std::string original = base.substr(kWhiteoutPrefix.size());
    if (original.empty() || original == "." || original == "..") {
      return Status::FailedPrecondition("invalid whiteout name: " + base +
                                        ": invalid archive");
    }
    BERTH_RETURN_IF_ERROR(RemoveAllAt(dir, original));
    if (!target_.overlay) return Status::Ok();
    BERTH_RETURN_IF_ERROR(MknodAt(dir, original, S_IFCHR, makedev(0, 0)));
    return ChownAt(dir, original, static_cast<uid_t>(archive_entry_uid(e)),
                   static_cast<gid_t>(archive_entry_gid(e)));
  }

  // Links `name` in `dir` to the layer path `linkname`, resolved in the root
  // (its parent through symlinks, the last component itself not followed).
  Status Hardlink(const std::string& linkname, int dir, const std::string& name) {
    const std::vector<std::string> parts = CleanComponents(linkname);
    if (parts.empty()) {
      return Status::FailedPrecondition("hardlink to the root: " + linkname);
    }
    auto target_dir = OpenDirInRoot(root_fd_.get(),
                                    JoinComponents(parts, parts.size() - 1));
    if (!target_dir.ok()) return target_dir.status().Annotate("hardlink target");
    return LinkAt(target_dir->get(), parts.back(), dir, name);
  }

  Result<UniqueFd> WriteFile(int dir, const std::string& name,
                             struct archive_entry* e) {
    int raw = ::openat(dir, name.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (raw < 0) return ErrnoStatus("create", name, errno);
    UniqueFd fd(raw);
    std::int64_t end = 0;
    for (;;) {
      const void* buf = nullptr;
      std::size_t size = 0;
      la_int64_t offset = 0;
      int rc = archive_read_data_block(layer_.tar(), &buf, &size, &offset);
      if (rc == ARCHIVE_EOF) break;
      if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
        return layer_.TarError("failed to read data of " + name);
      }
      const char* p = static_cast<const char*>(buf);
      while (size > 0) {
        ssize_t n = ::pwrite(fd.get(), p, size, offset);
        if (n < 0) {
          if (errno == EINTR) continue;
          return ErrnoStatus("write", name, errno);
        }
        p += n;
        size -= static_cast<std::size_t>(n);
        offset += n;
      }
      end = std::max<std::int64_t>(end, offset);
    }
    const std::int64_t total = archive_entry_size_is_set(e) ? archive_entry_size(e) : end;
    if (total > end && ::ftruncate(fd.get(), total) != 0) {
      return ErrnoStatus("truncate", name, errno);
    }
    return fd;
  }

  // Owner, xattrs, mode (after chown, which clears setuid bits), then times
  // for everything but directories.
  Status SetMetadata(int dir, const std::string& name, const UniqueFd& file,
                     struct archive_entry* e) {
    auto st = LstatAt(dir, name);
    if (!st.ok()) return st.status();
    if (!st->has_value()) return ErrnoStatus("stat", name, ENOENT);
    const mode_t type = (*st)->st_mode & S_IFMT;
    BERTH_RETURN_IF_ERROR(ChownAt(dir, name, static_cast<uid_t>(archive_entry_uid(e)),
                                  static_cast<gid_t>(archive_entry_gid(e))));
    archive_entry_xattr_reset(e);
    const char* key = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
      Status x = SetXattrAt(dir, name, key,
                            std::string(static_cast<const char*>(value), size));
      if (!x.ok()) {
        // As containerd: user.* cannot be set on other than files and
        // directories, and a file system without xattrs ignores them.
        const bool user = std::string_view(key).starts_with("user.");
        if (x.Is(Code::kNotImplemented) ||
            (user && type != S_IFREG && type != S_IFDIR)) {
          continue;
        }
        return x;
      }
    }
    if (type != S_IFLNK) {
      const mode_t perm = archive_entry_perm(e) & 07777;
      if (file.valid()) {
        if (::fchmod(file.get(), perm) != 0) return ErrnoStatus("chmod", name, errno);
      } else {
        BERTH_RETURN_IF_ERROR(ChmodAt(dir, name, perm));
      }
    }
    if (type == S_IFDIR) return Status::Ok();
    const EntryTimes times = TimesOf(e);
    return SetTimesAt(dir, name, times.atime, times.mtime);
  }

  Status SetTimes(const std::string& rel, const EntryTimes& times) {
    const std::vector<std::string> parts = CleanComponents(rel);
    if (parts.empty()) return Status::Ok();
    auto dir = OpenDirInRoot(root_fd_.get(), JoinComponents(parts, parts.size() - 1));
    if (!dir.ok()) return dir.status();
    return SetTimesAt(dir->get(), parts.back(), times.atime, times.mtime);
  }

  LayerReader& layer_;
  const ApplyTarget& target_;
  UniqueFd root_fd_;
  std::string root_real_;  // the root's kernel path; "" for "/"
  std::vector<UniqueFd> parent_fds_;
  std::set<std::string> unpacked_;  // resolved paths written by this layer
  std::vector<DirTimes> dirs_;
};

}  // namespace

Status ApplyLayer(LayerReader& layer, const ApplyTarget& target) {
  Applier applier(layer, target);
  return applier.Run();
}

}  // namespace berth::diff_walking
