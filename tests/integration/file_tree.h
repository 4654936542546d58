// FileTree: a directory tree walked into a map (relative path → Node: type,
// mode, owner, size and sha256, link target, device numbers, mtime, xattrs),
// compared with another (TreeDiff, one line a difference), and the Node a
// layer entry (oci_archive.h) should become. For the tests that unpack
// layers and compare what lands on disk with what the layers said.
//
// Header only; needs berth::sdk's digest helper. Thread-safe.
#ifndef BERTH_TESTS_INTEGRATION_FILE_TREE_H_
#define BERTH_TESTS_INTEGRATION_FILE_TREE_H_

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "berth/digest.h"
#include "oci_archive.h"
#include "temp_dir.h"

namespace berth::test {

// ---------------------------------------------------------------------------
// Trees on disk.

// What a walk records of one path. `ino` and `nlink` are not compared.
struct Node {
  mode_t type = 0;  // S_IFMT bits
  mode_t perm = 0;  // 07777 bits
  std::int64_t uid = 0;
  std::int64_t gid = 0;
  std::int64_t size = 0;  // regular files only
  std::string sha;        // regular files only
  std::string link;       // symlink target
  unsigned rdev_major = 0;
  unsigned rdev_minor = 0;
  std::int64_t mtime = 0;
  std::map<std::string, std::string> xattrs;
  ino_t ino = 0;
  nlink_t nlink = 0;
};

inline std::string TypeName(mode_t type) {
  switch (type) {
    case S_IFREG:
      return "file";
    case S_IFDIR:
      return "dir";
    case S_IFLNK:
      return "symlink";
    case S_IFIFO:
      return "fifo";
    case S_IFCHR:
      return "chardev";
    case S_IFBLK:
      return "blockdev";
    case S_IFSOCK:
      return "socket";
  }
  return "?";
}

inline std::string Printable(const std::string& value) {
  std::string out;
  for (unsigned char c : value) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

inline std::map<std::string, std::string> XattrsOf(const std::string& path) {
  std::map<std::string, std::string> out;
  ssize_t n = llistxattr(path.c_str(), nullptr, 0);
  if (n <= 0) return out;
  std::string names(static_cast<std::size_t>(n), '\0');
  n = llistxattr(path.c_str(), names.data(), names.size());
  if (n <= 0) return out;
  names.resize(static_cast<std::size_t>(n));
  for (std::size_t at = 0; at < names.size();) {
    const std::string name = names.c_str() + at;
    at += name.size() + 1;
    ssize_t len = lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    std::string value(len > 0 ? static_cast<std::size_t>(len) : 0, '\0');
    if (len > 0) len = lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    value.resize(len > 0 ? static_cast<std::size_t>(len) : 0);
    out[name] = value;
  }
  return out;
}

// Every path under `root` (relative, root itself left out), never following
// symlinks. Only xattrs whose name starts with `xattr_prefix` are kept.
inline std::map<std::string, Node> WalkTree(const std::string& root, const std::string& xattr_prefix) {
  std::map<std::string, Node> tree;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const std::string path = it->path().string();
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) {
      ADD_FAILURE() << "lstat " << path;
      continue;
    }
    Node n;
    n.type = st.st_mode & S_IFMT;
    n.perm = st.st_mode & 07777;
    n.uid = st.st_uid;
    n.gid = st.st_gid;
    n.mtime = st.st_mtim.tv_sec;
    n.ino = st.st_ino;
    n.nlink = st.st_nlink;
    if (S_ISREG(st.st_mode)) {
      n.size = st.st_size;
      n.sha = Sha256Of(ReadFile(path));
    } else if (S_ISLNK(st.st_mode)) {
      n.link = std::filesystem::read_symlink(it->path(), ec).string();
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      n.rdev_major = major(st.st_rdev);
      n.rdev_minor = minor(st.st_rdev);
    }
    for (auto& [name, value] : XattrsOf(path)) {
      if (name.rfind(xattr_prefix, 0) == 0) n.xattrs[name] = value;
    }
    tree[path.substr(root.size() + 1)] = n;
  }
  EXPECT_FALSE(ec) << "walking " << root << ": " << ec.message();
  return tree;
}

inline std::string Octal(mode_t perm) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0%o", static_cast<unsigned>(perm));
  return buf;
}

// One line per difference between `want` and `got` ("" when they agree).
inline std::string TreeDiff(const std::map<std::string, Node>& want,
                     const std::map<std::string, Node>& got, const std::string& want_name = "want",
                     const std::string& got_name = "got") {
  std::ostringstream out;
  for (const auto& entry : want) {
    // A named reference, not a structured binding: clang 14 cannot capture bindings.
    const std::string& path = entry.first;
    const Node& w = entry.second;
    auto it = got.find(path);
    if (it == got.end()) {
      out << path << ": only in " << want_name << " (" << TypeName(w.type) << ")\n";
      continue;
    }
    const Node& g = it->second;
    auto field = [&](const char* what, const auto& a, const auto& b) {
      if (a != b)
        out << path << ": " << what << " " << want_name << "=" << a << " " << got_name << "=" << b
            << "\n";
    };
    field("type", TypeName(w.type), TypeName(g.type));
    field("perm", Octal(w.perm), Octal(g.perm));
    field("uid", w.uid, g.uid);
    field("gid", w.gid, g.gid);
    field("size", w.size, g.size);
    field("sha", w.sha, g.sha);
    field("link", w.link, g.link);
    field("rdev_major", w.rdev_major, g.rdev_major);
    field("rdev_minor", w.rdev_minor, g.rdev_minor);
    field("mtime", w.mtime, g.mtime);
    std::string wx, gx;
    for (const auto& [k, v] : w.xattrs) wx += k + "=" + Printable(v) + ";";
    for (const auto& [k, v] : g.xattrs) gx += k + "=" + Printable(v) + ";";
    field("xattrs", wx, gx);
  }
  for (const auto& [path, g] : got) {
    if (!want.count(path))
      out << path << ": only in " << got_name << " (" << TypeName(g.type) << ")\n";
  }
  return out.str();
}

// The node a walk should find for entry `e` of a layer.
inline Node NodeOf(const LayerEntry& e) {
  Node n;
  n.type = e.type;
  n.perm = e.perm;
  n.uid = e.uid;
  n.gid = e.gid;
  n.mtime = e.mtime;
  if (e.type == S_IFREG) {
    n.size = static_cast<std::int64_t>(e.data.size());
    n.sha = Sha256Of(e.data);
  }
  if (e.type == S_IFLNK) n.link = e.link;
  n.rdev_major = e.rdev_major;
  n.rdev_minor = e.rdev_minor;
  for (const auto& [k, v] : e.xattrs) n.xattrs[k] = v;
  return n;
}

// `tree` with only user.* xattrs.
inline std::map<std::string, Node> UserXattrsOnly(std::map<std::string, Node> tree) {
  for (auto& [path, node] : tree) {
    std::erase_if(node.xattrs, [](const auto& kv) { return kv.first.rfind("user.", 0) != 0; });
  }
  return tree;
}

// `tree` with every mtime at or after `since` (the unpack's own time, as
// for parents created without a header) set to `since`.
inline std::map<std::string, Node> MtimesSince(std::map<std::string, Node> tree, std::int64_t since) {
  for (auto& [path, node] : tree) node.mtime = std::min(node.mtime, since);
  return tree;
}

}  // namespace berth::test

#endif  // BERTH_TESTS_INTEGRATION_FILE_TREE_H_
