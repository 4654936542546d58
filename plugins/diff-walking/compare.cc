// The double walk that writes a layer (see compare.h).
#include "compare.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "fs_ops.h"

namespace berth::diff_walking {
namespace {

constexpr std::size_t kChunk = 128 * 1024;

std::string JoinRel(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

std::string DirOf(const std::string& rel) {
  std::size_t slash = rel.rfind('/');
  return slash == std::string::npos ? std::string() : rel.substr(0, slash);
}

std::string BaseOf(const std::string& rel) {
  std::size_t slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

Result<Xattrs> KeptXattrs(int dir_fd, const std::string& name) {
  auto xattrs = ListXattrsAt(dir_fd, name);
  if (!xattrs.ok()) return xattrs;
  std::erase_if(*xattrs, [](const auto& kv) {
    return std::string_view(kv.first).starts_with("trusted.overlay.");
  });
  return xattrs;
}

using EntryPtr = std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)>;

EntryPtr NewEntry() { return EntryPtr(archive_entry_new(), archive_entry_free); }

Result<UniqueFd> OpenChild(int dir_fd, const std::string& name, int flags) {
  int fd = ::openat(dir_fd, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", name, errno);
  return UniqueFd(fd);
}

Result<bool> SameContent(int lower_dir, int upper_dir, const std::string& name) {
  auto a = OpenChild(lower_dir, name, O_RDONLY);
  if (!a.ok()) return a.status();
  auto b = OpenChild(upper_dir, name, O_RDONLY);
  if (!b.ok()) return b.status();
  std::string buf_a(kChunk, '\0');
  std::string buf_b(kChunk, '\0');
  for (;;) {
    ssize_t na = ::read(a->get(), buf_a.data(), kChunk);
    if (na < 0) return ErrnoStatus("read", name, errno);
    std::size_t got = 0;
    while (got < static_cast<std::size_t>(na)) {
      ssize_t nb = ::read(b->get(), buf_b.data() + got, static_cast<std::size_t>(na) - got);
      if (nb < 0) return ErrnoStatus("read", name, errno);
      if (nb == 0) return false;
      got += static_cast<std::size_t>(nb);
    }
    if (std::memcmp(buf_a.data(), buf_b.data(), got) != 0) return false;
    if (na == 0) {
      char extra;
      ssize_t nb = ::read(b->get(), &extra, 1);
      if (nb < 0) return ErrnoStatus("read", name, errno);
      return nb == 0;
    }
  }
}

class DiffWalker {
 public:
  explicit DiffWalker(LayerWriter& out) : out_(out) {}

  Status Run(const std::string& lower_root, const std::string& upper_root) {
    auto lower = OpenRoot(lower_root);
    if (!lower.ok()) return lower.status();
    auto upper = OpenRoot(upper_root);
    if (!upper.ok()) return upper.status();
    upper_root_ = std::move(*upper);
    return Walk("", lower->get(), upper_root_.get());
  }

 private:
  // Compares the directory `rel`: lower_fd (-1 when absent) against upper_fd.
  Status Walk(const std::string& rel, int lower_fd, int upper_fd) {
    std::vector<std::string> lower_names;
    if (lower_fd >= 0) {
      auto names = ListDir(lower_fd);
      if (!names.ok()) return names.status();
      lower_names = std::move(*names);
    }
    auto upper_names = ListDir(upper_fd);
    if (!upper_names.ok()) return upper_names.status();

    std::size_t i = 0, j = 0;
    while (i < lower_names.size() || j < upper_names->size()) {
      if (j == upper_names->size() ||
          (i < lower_names.size() && lower_names[i] < (*upper_names)[j])) {
        BERTH_RETURN_IF_ERROR(EmitWhiteout(JoinRel(rel, lower_names[i])));
        ++i;
        continue;
      }
      const std::string& name = (*upper_names)[j];
      const bool in_lower = i < lower_names.size() && lower_names[i] == name;
      BERTH_RETURN_IF_ERROR(
          CompareEntry(rel, name, in_lower ? lower_fd : -1, upper_fd));
      if (in_lower) ++i;
      ++j;
    }
    return Status::Ok();
  }

  Status CompareEntry(const std::string& rel, const std::string& name,
                      int lower_fd, int upper_fd) {
    const std::string path = JoinRel(rel, name);
    auto ust = LstatAt(upper_fd, name);
    if (!ust.ok()) return ust.status();
    if (!ust->has_value()) return Status::Ok();  // vanished during the walk
    const struct stat& u = **ust;
    std::optional<struct stat> l;
    if (lower_fd >= 0) {
      auto lst = LstatAt(lower_fd, name);
      if (!lst.ok()) return lst.status();
      l = *lst;
    }
    bool unmodified = false;
    if (l.has_value()) {
      auto same = Same(*l, u, lower_fd, upper_fd, name);
      if (!same.ok()) return same.status();
      unmodified = *same;
    }
    BERTH_RETURN_IF_ERROR(Emit(path, upper_fd, name, u, unmodified));
    if (!S_ISDIR(u.st_mode)) return Status::Ok();

    auto usub = OpenChild(upper_fd, name, O_RDONLY | O_DIRECTORY);
    if (!usub.ok()) return usub.status();
    UniqueFd lsub;
    if (l.has_value() && S_ISDIR(l->st_mode)) {
      auto opened = OpenChild(lower_fd, name, O_RDONLY | O_DIRECTORY);
      if (!opened.ok()) return opened.status();
      lsub = std::move(*opened);
    }
    return Walk(path, lsub.valid() ? lsub.get() : -1, usub->get());
  }

  // continuity's sameFile: device, mode, owner, xattrs; for non-directories
  // size and mtime, and content when both mtimes are whole seconds.
  Result<bool> Same(const struct stat& l, const struct stat& u, int lower_fd,
                    int upper_fd, const std::string& name) {
    if (l.st_dev == u.st_dev && l.st_ino == u.st_ino) return true;
    if (l.st_mode != u.st_mode || l.st_uid != u.st_uid || l.st_gid != u.st_gid ||
        l.st_rdev != u.st_rdev) {
      return false;
    }
    auto lx = KeptXattrs(lower_fd, name);
    if (!lx.ok()) return lx.status();
    auto ux = KeptXattrs(upper_fd, name);
    if (!ux.ok()) return ux.status();
    if (*lx != *ux) return false;
    if (S_ISDIR(u.st_mode)) return true;
    if (l.st_size != u.st_size || l.st_mtim.tv_sec != u.st_mtim.tv_sec) return false;
    if (l.st_mtim.tv_nsec != 0 || u.st_mtim.tv_nsec != 0) {
      return l.st_mtim.tv_nsec == u.st_mtim.tv_nsec;
    }
    if (S_ISLNK(u.st_mode)) {
      auto lt = ReadlinkAt(lower_fd, name);
      if (!lt.ok()) return lt.status();
      auto ut = ReadlinkAt(upper_fd, name);
      if (!ut.ok()) return ut.status();
      return *lt == *ut;
    }
    if (!S_ISREG(u.st_mode) || u.st_size == 0) return true;
    return SameContent(lower_fd, upper_fd, name);
  }

  // Writes the unchanged directories above `path` that are not yet written.
  Status EmitParents(const std::string& path) {
    const std::string parent = DirOf(path);
    if (parent.empty() || emitted_dirs_.contains(parent)) return Status::Ok();
    BERTH_RETURN_IF_ERROR(EmitParents(parent));
    auto dir = OpenDirInRoot(upper_root_.get(), DirOf(parent));
    if (!dir.ok()) return dir.status();
    const std::string base = BaseOf(parent);
    auto st = LstatAt(dir->get(), base);
    if (!st.ok()) return st.status();
    if (!st->has_value()) return ErrnoStatus("stat", parent, ENOENT);
    return Emit(parent, dir->get(), base, **st, false);
  }

  Status EmitWhiteout(const std::string& path) {
    BERTH_RETURN_IF_ERROR(EmitParents(path));
    EntryPtr e = NewEntry();
    const std::string dir = DirOf(path);
    archive_entry_set_pathname(e.get(), JoinRel(dir, ".wh." + BaseOf(path)).c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0);
    archive_entry_set_size(e.get(), 0);
    archive_entry_set_mtime(e.get(), 0, 0);
    return WriteHeader(e.get(), path);
  }

  Status WriteHeader(struct archive_entry* e, const std::string& path) {
    int rc = archive_write_header(out_.tar(), e);
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      return out_.TarError("failed to write header of " + path);
    }
    return Status::Ok();
  }

  // Writes `name` (at `path`) from the upper directory `dir_fd`, or only
  // records it when unmodified (a hardlink may still need it).
  Status Emit(const std::string& path, int dir_fd, const std::string& name,
              const struct stat& st, bool unmodified) {
    if (S_ISSOCK(st.st_mode)) return Status::Ok();
    const bool is_dir = S_ISDIR(st.st_mode);
    const bool linked = !is_dir && st.st_nlink > 1;
    const std::pair<dev_t, ino_t> inode{st.st_dev, st.st_ino};
    std::vector<std::string> extra_links;
    std::string link_source;
    if (linked) {
      auto src = inode_src_.find(inode);
      if (src != inode_src_.end()) {
        link_source = src->second;
      } else if (unmodified) {
        inode_refs_[inode].push_back(path);
        return Status::Ok();
      } else {
        inode_src_[inode] = path;
        auto refs = inode_refs_.find(inode);
        if (refs != inode_refs_.end()) {
          extra_links = std::move(refs->second);
          inode_refs_.erase(refs);
        }
      }
    } else if (unmodified) {
      return Status::Ok();
    }

    BERTH_RETURN_IF_ERROR(EmitParents(path));
    EntryPtr e = NewEntry();
    archive_entry_set_pathname(e.get(), is_dir ? (path + "/").c_str() : path.c_str());
    archive_entry_set_mode(e.get(), st.st_mode);
    archive_entry_set_uid(e.get(), st.st_uid);
    archive_entry_set_gid(e.get(), st.st_gid);
    archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, 0);
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      archive_entry_set_rdev(e.get(), st.st_rdev);
    }
    if (S_ISLNK(st.st_mode)) {
      auto target = ReadlinkAt(dir_fd, name);
      if (!target.ok()) return target.status();
      archive_entry_set_symlink(e.get(), target->c_str());
    }
    auto xattrs = KeptXattrs(dir_fd, name);
    if (!xattrs.ok()) return xattrs.status();
    for (const auto& [key, value] : *xattrs) {
      archive_entry_xattr_add_entry(e.get(), key.c_str(), value.data(), value.size());
    }
    const bool has_data = S_ISREG(st.st_mode) && link_source.empty();
    if (!link_source.empty()) {
      archive_entry_set_hardlink(e.get(), link_source.c_str());
      archive_entry_set_size(e.get(), 0);
    } else {
      archive_entry_set_size(e.get(), has_data ? st.st_size : 0);
    }
    if (is_dir) emitted_dirs_.insert(path);
    BERTH_RETURN_IF_ERROR(WriteHeader(e.get(), path));
    if (has_data && st.st_size > 0) {
      BERTH_RETURN_IF_ERROR(CopyData(dir_fd, name, path, st.st_size));
    }

    for (const auto& extra : extra_links) {
      BERTH_RETURN_IF_ERROR(EmitParents(extra));
      archive_entry_set_pathname(e.get(), extra.c_str());
      archive_entry_set_hardlink(e.get(), path.c_str());
      archive_entry_set_size(e.get(), 0);
      BERTH_RETURN_IF_ERROR(WriteHeader(e.get(), extra));
    }
    return Status::Ok();
  }

  Status CopyData(int dir_fd, const std::string& name, const std::string& path,
                  std::int64_t size) {
    auto fd = OpenChild(dir_fd, name, O_RDONLY);
    if (!fd.ok()) return fd.status();
    std::string buf(kChunk, '\0');
    std::int64_t copied = 0;
    while (copied < size) {
      ssize_t n = ::read(fd->get(), buf.data(),
                         static_cast<std::size_t>(std::min<std::int64_t>(kChunk, size - copied)));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("read", path, errno);
      }
      if (n == 0) break;
      la_ssize_t w = archive_write_data(out_.tar(), buf.data(), static_cast<std::size_t>(n));
      if (w != n) return out_.TarError("failed to write data of " + path);
      copied += n;
    }
    if (copied != size) return Status::Unknown("short write copying " + path);
    return Status::Ok();
  }

  LayerWriter& out_;
  UniqueFd upper_root_;
  std::set<std::string> emitted_dirs_;
  std::map<std::pair<dev_t, ino_t>, std::string> inode_src_;
  std::map<std::pair<dev_t, ino_t>, std::vector<std::string>> inode_refs_;
};

}  // namespace

Status WriteDiff(const std::string& lower_root, const std::string& upper_root,
                 LayerWriter& out) {
  DiffWalker walker(out);
  return walker.Run(lower_root, upper_root);
}

}  // namespace berth::diff_walking
