// Unpacking images with the stock `ctr images import` against a real berthd:
// OCI layout archives built in the test (tests/support/oci_archive.h) with
// whiteouts, opaque directories, hardlinks, symlinks, a fifo, a device,
// modes, owners, mtimes and user xattrs, unpacked through berthd's Diff
// service (io.containerd.differ.v1.walking) onto overlayfs and btrfs
// snapshots, mounted with `ctr images mount` and walked. A 60-layer chain.
// The same archives unpacked by a private containerd 1.6.20, whose merged
// trees and per-layer snapshot directories (whiteout devices, opaque xattrs)
// must match berthd's. And bad layers failing the import without leaving a
// committed snapshot for them.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "berth/digest.h"
#include "berthd_process.h"
#include "btrfs_loop.h"
#include "fixtures.h"
#include "oci_archive.h"
#include "run_command.h"
#include "served_util.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

namespace fs = std::filesystem;

constexpr char kContainerd[] = "/usr/bin/containerd";
// Nothing is collected under a test.
constexpr char kNoCollection[] = "disabled_plugins = [\"io.containerd.gc.v1.scheduler\"]\n";
// containerd's collector never runs (its leases service needs the plugin).
constexpr char kPeerNoCollection[] =
    "[plugins.\"io.containerd.gc.v1.scheduler\"]\n"
    "  deletion_threshold = 0\n"
    "  mutation_threshold = 1000000000\n"
    "  schedule_delay = \"0s\"\n"
    "  startup_delay = \"1000h\"\n";

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

std::string TypeName(mode_t type) {
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

std::string Printable(const std::string& value) {
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

std::map<std::string, std::string> XattrsOf(const std::string& path) {
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
std::map<std::string, Node> WalkTree(const std::string& root, const std::string& xattr_prefix) {
  std::map<std::string, Node> tree;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
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
      n.link = fs::read_symlink(it->path(), ec).string();
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

std::string Octal(mode_t perm) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0%o", static_cast<unsigned>(perm));
  return buf;
}

// One line per difference between `want` and `got` ("" when they agree).
std::string TreeDiff(const std::map<std::string, Node>& want,
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
Node NodeOf(const LayerEntry& e) {
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
std::map<std::string, Node> UserXattrsOnly(std::map<std::string, Node> tree) {
  for (auto& [path, node] : tree) {
    std::erase_if(node.xattrs, [](const auto& kv) { return kv.first.rfind("user.", 0) != 0; });
  }
  return tree;
}

// `tree` with every mtime at or after `since` (the unpack's own time, as
// for parents created without a header) set to `since`.
std::map<std::string, Node> MtimesSince(std::map<std::string, Node> tree, std::int64_t since) {
  for (auto& [path, node] : tree) node.mtime = std::min(node.mtime, since);
  return tree;
}

// ---------------------------------------------------------------------------
// The image of the tree tests: three layers (gzip, plain tar, zstd).

struct TreeImage {
  OciImage image;
  std::map<std::string, Node> expected;  // the merged tree, user.* xattrs
};

LayerEntry With(LayerEntry e, std::int64_t uid, std::int64_t gid, std::int64_t mtime) {
  e.uid = uid;
  e.gid = gid;
  e.mtime = mtime;
  return e;
}

TreeImage MakeTreeImage(const std::string& name) {
  // Layer 0: the base.
  LayerEntry etc = DirEntry("etc");
  LayerEntry config0 = FileEntry("etc/config", "v0\n");
  LayerEntry removed = FileEntry("etc/removed", "deleted by layer 1\n");
  LayerEntry opq = DirEntry("opq");
  LayerEntry opq_old = FileEntry("opq/old", "hidden by layer 2's opaque marker\n");
  LayerEntry opq_sub = DirEntry("opq/sub");
  LayerEntry opq_sub_old = FileEntry("opq/sub/old", "hidden too\n");
  LayerEntry owned = With(DirEntry("owned", 0750), 1000, 1000, 1500000000);
  LayerEntry suid = With(FileEntry("owned/suid", "#!/bin/sh\n", 04755), 1234, 5678, 1234567890);
  LayerEntry sgid_dir = With(DirEntry("owned/sgid", 02775), 0, 4321, 1400000000);
  LayerEntry exe = FileEntry("exe", "#!/bin/sh\necho hi\n", 0755);
  LayerEntry big = FileEntry("big", DeterministicBytes(300 * 1024, 7), 0640);
  LayerEntry empty = FileEntry("empty", "", 0600);
  LayerEntry abs_link = With(SymlinkEntry("abs-link", "/etc/config"), 0, 0, 1300000000);
  LayerEntry rel_link = With(SymlinkEntry("rel-link", "etc/config"), 42, 43, 1300000001);
  LayerEntry dangling = SymlinkEntry("dangling", "nowhere/at/all");
  LayerEntry pipe = With(FifoEntry("pipe", 0600), 7, 8, 1200000000);
  LayerEntry null = CharDeviceEntry("null", 1, 3, 0666);
  LayerEntry xfile = FileEntry("xattr-file", "has xattrs\n");
  xfile.xattrs = {{"user.test", "hello"}, {"user.binary", std::string("\0\x01\xff", 3)}};
  LayerEntry xdir = DirEntry("xattr-dir", 0711);
  xdir.xattrs = {{"user.dir", "1"}};
  LayerEntry xdir_file = FileEntry("xattr-dir/inside", "in a dir with xattrs\n");

  // Layer 1: hardlinks, a whiteout, a changed file.
  LayerEntry h = DirEntry("h");
  LayerEntry orig = FileEntry("h/orig", "original\n");
  LayerEntry link = HardlinkEntry("h/link", "h/orig");
  LayerEntry keep = With(FileEntry("h/keep", "kept\n", 0604), 3, 4, 1100000000);
  // As tar(1) writes it: the link's header repeats the file's metadata.
  LayerEntry keep_link = With(HardlinkEntry("h/keep-link", "h/keep"), 3, 4, 1100000000);
  keep_link.perm = 0604;
  LayerEntry config1 = With(FileEntry("etc/config", "v1\n", 0600), 5, 6, 1650000000);

  // Layer 2: the original of a hardlink changed, an opaque directory, a
  // deleted symlink, a directory's metadata changed.
  LayerEntry h2 = DirEntry("h");
  LayerEntry orig2 = FileEntry("h/orig", "modified by layer 2\n");
  LayerEntry opq2 = With(DirEntry("opq", 0700), 0, 0, 1610000000);
  LayerEntry opq_new = FileEntry("opq/new", "after the opaque marker\n");
  LayerEntry owned2 = With(DirEntry("owned", 0700), 2000, 2001, 1510000000);

  TreeImage t;
  t.image = BuildOciImage(
      name, {{{etc,      config0,  removed,  opq,  opq_old, opq_sub, opq_sub_old,
               owned,    suid,     sgid_dir, exe,  big,     empty,   abs_link,
               rel_link, dangling, pipe,     null, xfile,   xdir,    xdir_file},
              LayerCompression::kGzip,
              ""},
             {{etc, WhiteoutEntry("etc/removed"), config1, h, orig, link, keep, keep_link},
              LayerCompression::kNone,
              ""},
             {{h2, orig2, opq2, OpaqueEntry("opq"), opq_new, WhiteoutEntry("dangling"), owned2},
              LayerCompression::kZstd,
              ""}});

  for (const LayerEntry& e :
       {etc,      config1,  opq2, opq_new, owned2, suid, sgid_dir,  exe, big,   empty,
        abs_link, rel_link, pipe, null,    xfile,  xdir, xdir_file, h2,  orig2, keep}) {
    t.expected[e.path] = NodeOf(e);
  }
  t.expected["h/link"] = NodeOf(orig);  // still layer 1's content
  t.expected["h/keep-link"] = NodeOf(keep);
  return t;
}

// ---------------------------------------------------------------------------
// `ctr` output.

// The keys of `ctr snapshots ls` rows of `kind` ("Committed", "Active", "View").
std::vector<std::string> SnapshotKeys(const std::string& ls, const std::string& kind) {
  std::vector<std::string> keys;
  std::istringstream lines(ls);
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string s; words >> s;) w.push_back(s);
    if (!w.empty() && w.back() == kind) keys.push_back(w.front());
  }
  return keys;
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The directory holding a snapshot's own files, from the mount commands
// `ctr snapshots mounts` prints for a view of it: the first lowerdir of an
// overlay, or the source of a bind.
std::string OwnDirOf(const std::string& mount_commands) {
  const auto at = mount_commands.find("lowerdir=");
  if (at != std::string::npos) {
    const auto begin = at + 9;
    const auto end = mount_commands.find_first_of(":,\n ", begin);
    return mount_commands.substr(begin, end - begin);
  }
  std::istringstream words(mount_commands);
  std::vector<std::string> w;
  for (std::string s; words >> s;) w.push_back(s);
  // mount -t bind SOURCE TARGET -o ...
  return w.size() > 3 ? w[3] : "";
}

// ---------------------------------------------------------------------------
// A daemon driven by ctr: berthd or a private containerd.

class Daemon {
 public:
  virtual ~Daemon() = default;
  virtual std::string name() const = 0;
  virtual std::string socket() const = 0;
  virtual std::string Log() const = 0;

  CommandResult Ctr(const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout = std::chrono::seconds(120)) const {
    std::vector<std::string> argv = {kCtr, "--address", socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, "", timeout);
  }
  // ctr ... must succeed; returns its stdout.
  std::string Ok(const std::vector<std::string>& args) const {
    CommandResult r = Ctr(args);
    EXPECT_EQ(r.exit_code, 0) << name() << ": ctr " << args[0] << " "
                              << (args.size() > 1 ? args[1] : "") << ": " << r.Describe() << "\n"
                              << name() << " log tail:\n"
                              << Tail(Log());
    return r.out;
  }
  static std::string Tail(const std::string& log) {
    return log.size() > 6000 ? log.substr(log.size() - 6000) : log;
  }
};

class BerthdDaemon : public Daemon {
 public:
  explicit BerthdDaemon(BerthdOptions options) : process(std::move(options)) {}
  std::string name() const override { return "berthd"; }
  std::string socket() const override { return process.socket(); }
  std::string Log() const override { return process.Log(); }
  BerthdProcess process;
};

class ContainerdDaemon : public Daemon {
 public:
  explicit ContainerdDaemon(const ScratchDir& scratch)
      : dir_(scratch.Join("containerd")),
        process_({kContainerd, "--config", WriteConfig()}, scratch.Join("containerd.log")) {}
  std::string name() const override { return "containerd"; }
  std::string socket() const override { return dir_ + "/containerd.sock"; }
  std::string Log() const override { return process_.Log(); }
  std::string root() const { return dir_ + "/root"; }
  ::testing::AssertionResult Start() {
    auto started = process_.Start();
    if (!started) return started;
    return process_.WaitReady(
        [this] { return Ctr({"version"}, std::chrono::seconds(10)).exit_code == 0; },
        std::chrono::seconds(60));
  }
  // SIGTERM (SIGKILL after a bound) and reap; then its mounts go.
  void Stop() { process_.Stop(); }

 private:
  std::string WriteConfig() {
    mkdir(dir_.c_str(), 0700);
    std::ostringstream c;
    c << "version = 2\n"
      << "root = \"" << dir_ << "/root\"\n"
      << "state = \"" << dir_ << "/state\"\n"
      << "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
      << "[grpc]\n  address = \"" << dir_ << "/containerd.sock\"\n"
      << "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"" << dir_ << "/opt\"\n"
      << kPeerNoCollection;
    const std::string path = dir_ + "/containerd.toml";
    EXPECT_TRUE(WriteFile(path, c.str()));
    return path;
  }
  std::string dir_;
  ChildProcess process_;
};

// Imports `image` into `d` with `snapshotter`; the ctr result.
CommandResult Import(const Daemon& d, const ScratchDir& scratch, const OciImage& image,
                     const std::string& snapshotter, const std::string& file) {
  const std::string path = scratch.Join(file);
  EXPECT_TRUE(WriteFile(path, image.Archive()));
  return d.Ctr({"images", "import", "--snapshotter", snapshotter, path}, std::chrono::seconds(300));
}

// `ctr images mount` of `image` at a fresh folder of `scratch` (registered for
// unmounting); the folder.
std::string MountImage(const Daemon& d, ScratchDir& scratch, const std::string& image,
                       const std::string& snapshotter, const std::string& dir) {
  const std::string target = scratch.Join(dir);
  EXPECT_EQ(mkdir(target.c_str(), 0755), 0) << target;
  scratch.AddMountPoint(target);
  d.Ok({"images", "mount", "--snapshotter", snapshotter, image, target});
  return target;
}

bool IsMountPoint(const std::string& path) {
  struct stat st {
  }, parent{};
  if (lstat(path.c_str(), &st) != 0 || lstat((path + "/..").c_str(), &parent) != 0) return false;
  return st.st_dev != parent.st_dev;
}

void UnmountImage(const Daemon& d, const std::string& target) {
  d.Ok({"images", "unmount", target});
  EXPECT_FALSE(IsMountPoint(target)) << target << " still mounted after ctr images unmount";
}

// The raw directory of committed snapshot `chain_id` (through a view's
// mounts; the view is removed again).
std::string SnapshotDir(const Daemon& d, const std::string& snapshotter,
                        const std::string& chain_id, const std::string& view_key) {
  d.Ok({"snapshots", "--snapshotter", snapshotter, "view", view_key, chain_id});
  const std::string mounts =
      d.Ok({"snapshots", "--snapshotter", snapshotter, "mounts", "/unused", view_key});
  d.Ok({"snapshots", "--snapshotter", snapshotter, "rm", view_key});
  return OwnDirOf(mounts);
}

// ---------------------------------------------------------------------------
// 1. The tree an image unpacks to, on overlayfs and btrfs.

class UnpackTreeTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    BerthdOptions options;
    options.extra_toml = std::string(kNoCollection) +
                         "[plugins.\"io.containerd.differ.v1.walking\"]\n  temp_dir = \"" +
                         scratch_.Join("differ") + "\"\n";
    mkdir(scratch_.Join("differ").c_str(), 0700);
    if (btrfs()) {
      loop_ = std::make_unique<BtrfsLoop>();
      if (!loop_->ok()) GTEST_SKIP() << "no btrfs on a loop device: " << loop_->error();
      options.extra_toml += "[plugins.\"io.containerd.snapshotter.v1.btrfs\"]\n  root_path = \"" +
                            loop_->Join("btrfs") + "\"\n";
    }
    berthd_ = std::make_unique<BerthdDaemon>(options);
    ASSERT_TRUE(berthd_->process.Start());
    ASSERT_TRUE(berthd_->process.WaitServing());
  }
  void TearDown() override {
    berthd_.reset();  // the daemon goes before its filesystem
    EXPECT_TRUE(DetachMountsUnder(scratch_.Join("differ"))) << "the differ left mounts";
    loop_.reset();
  }
  bool btrfs() const { return GetParam() == "btrfs"; }

  // Declared first, destroyed last.
  ScratchDir scratch_{"berth-unpack-it-"};
  std::unique_ptr<BtrfsLoop> loop_;
  std::unique_ptr<BerthdDaemon> berthd_;
};

TEST_P(UnpackTreeTest, MergedTreeIsTheLayersApplied) {
  const std::string name = "example.com/unpack/tree:v1";
  TreeImage t = MakeTreeImage(name);
  CommandResult r = Import(*berthd_, scratch_, t.image, GetParam(), "tree.tar");
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << "\n" << Daemon::Tail(berthd_->Log());

  // One committed snapshot per layer, keyed by its chain ID; nothing active.
  const std::string ls = berthd_->Ok({"snapshots", "--snapshotter", GetParam(), "ls"});
  const auto committed = SnapshotKeys(ls, "Committed");
  EXPECT_EQ(committed.size(), 3u) << ls;
  for (const std::string& chain : t.image.ChainIds())
    EXPECT_TRUE(Has(committed, chain)) << chain << "\n" << ls;
  EXPECT_TRUE(SnapshotKeys(ls, "Active").empty()) << ls;

  const std::string mnt = MountImage(*berthd_, scratch_, name, GetParam(), "mnt");
  const auto tree = WalkTree(mnt, "user.");
  EXPECT_EQ(TreeDiff(t.expected, tree), "");
  // Hardlinks of one layer stay one inode; a later layer's change of the
  // original is a new file, not a write through the link.
  ASSERT_TRUE(tree.count("h/keep") && tree.count("h/keep-link") && tree.count("h/link"));
  EXPECT_EQ(tree.at("h/keep").ino, tree.at("h/keep-link").ino);
  EXPECT_NE(tree.at("h/orig").ino, tree.at("h/link").ino);
  UnmountImage(*berthd_, mnt);
}

INSTANTIATE_TEST_SUITE_P(Unpack, UnpackTreeTest, ::testing::Values("overlayfs", "btrfs"),
                         [](const auto& info) { return info.param; });

// ---------------------------------------------------------------------------
// 2. A long chain.

TEST(UnpackChainTest, SixtyLayersEachReplacingThePreviousFile) {
  ScratchDir scratch("berth-unpack-chain-");
  BerthdOptions options;
  options.extra_toml = kNoCollection;
  BerthdDaemon berthd(options);
  ASSERT_TRUE(berthd.process.Start());
  ASSERT_TRUE(berthd.process.WaitServing());

  constexpr int kLayers = 60;
  std::vector<OciLayer> layers;
  for (int i = 0; i < kLayers; ++i) {
    OciLayer l;
    l.entries.push_back(FileEntry("f" + std::to_string(i), "layer " + std::to_string(i) + "\n"));
    if (i > 0) l.entries.push_back(WhiteoutEntry("f" + std::to_string(i - 1)));
    layers.push_back(l);
  }
  const std::string name = "example.com/unpack/chain:60";
  OciImage image = BuildOciImage(name, layers);
  CommandResult r = Import(berthd, scratch, image, "overlayfs", "chain.tar");
  ASSERT_EQ(r.exit_code, 0) << r.Describe() << "\n" << Daemon::Tail(berthd.Log());

  const std::string ls = berthd.Ok({"snapshots", "ls"});
  const auto committed = SnapshotKeys(ls, "Committed");
  EXPECT_EQ(committed.size(), static_cast<std::size_t>(kLayers)) << ls;
  EXPECT_TRUE(Has(committed, image.ChainIds().back())) << ls;

  const std::string mnt = MountImage(berthd, scratch, name, "overlayfs", "mnt");
  const auto tree = WalkTree(mnt, "user.");
  ASSERT_EQ(tree.size(), 1u) << TreeDiff({}, tree);
  ASSERT_TRUE(tree.count("f59")) << TreeDiff({}, tree);
  EXPECT_EQ(ReadFile(mnt + "/f59"), "layer 59\n");
  UnmountImage(berthd, mnt);
}

// ---------------------------------------------------------------------------
// 3 and 4: berthd beside a private containerd 1.6.20.

class UnpackVsContainerdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st {};
    ASSERT_EQ(stat(kContainerd, &st), 0) << kContainerd << " is not installed";
    mkdir(scratch_.Join("differ").c_str(), 0700);
    BerthdOptions options;
    options.extra_toml = std::string(kNoCollection) +
                         "[plugins.\"io.containerd.differ.v1.walking\"]\n  temp_dir = \"" +
                         scratch_.Join("differ") + "\"\n";
    berthd_ = std::make_unique<BerthdDaemon>(options);
    ASSERT_TRUE(berthd_->process.Start());
    ASSERT_TRUE(berthd_->process.WaitServing());
    containerd_ = std::make_unique<ContainerdDaemon>(scratch_);
    ASSERT_TRUE(containerd_->Start());
  }
  void TearDown() override {
    berthd_.reset();
    if (containerd_) containerd_->Stop();
    containerd_.reset();
    EXPECT_TRUE(DetachMountsUnder(scratch_.Join("differ"))) << "the differ left mounts";
    // containerd's state (its shim-less tmpmounts) lives under the scratch dir.
    EXPECT_TRUE(DetachMountsUnder(scratch_.path()));
  }
  std::vector<const Daemon*> Both() const { return {berthd_.get(), containerd_.get()}; }

  ScratchDir scratch_{"berth-unpack-cmp-"};
  std::unique_ptr<BerthdDaemon> berthd_;
  std::unique_ptr<ContainerdDaemon> containerd_;
};

TEST_F(UnpackVsContainerdTest, SameTreesAndSnapshotDirsAsContainerd) {
  const std::int64_t started = time(nullptr);
  const std::string name = "example.com/unpack/tree:v1";
  TreeImage t = MakeTreeImage(name);
  // On top: a layer whose files' parents exist only below (copied up on
  // overlay, their mtimes then the time of the unpack), a whiteout of one
  // side of a hardlink, and a link header whose metadata is not the file's.
  const std::string name4 = "example.com/unpack/tree:v2";
  OciImage four = t.image;
  four.name = name4;
  four.layers.push_back(
      BuildOciImage(name4, {{{FileEntry("owned/sgid/new", "parent only below\n"),
                              FileEntry("xattr-dir/inside", "changed; parent has xattrs\n"),
                              WhiteoutEntry("h/keep-link"),
                              With(FileEntry("h/m", "m\n", 0600), 9, 9, 1000000000),
                              HardlinkEntry("h/m-link", "h/m")},
                             LayerCompression::kGzip,
                             ""}})
          .layers[0]);

  std::map<std::string, std::map<std::string, Node>> merged, merged4;
  for (const Daemon* d : Both()) {
    for (const OciImage* image : {&t.image, &four}) {
      CommandResult r =
          Import(*d, scratch_, *image, "overlayfs",
                 d->name() + "-" + image->name.substr(image->name.size() - 2) + ".tar");
      ASSERT_EQ(r.exit_code, 0) << d->name() << ": " << r.Describe() << "\n"
                                << Daemon::Tail(d->Log());
    }
    const std::string mnt = MountImage(*d, scratch_, name, "overlayfs", "mnt-" + d->name());
    merged[d->name()] = WalkTree(mnt, "");
    UnmountImage(*d, mnt);
    const std::string mnt4 = MountImage(*d, scratch_, name4, "overlayfs", "mnt4-" + d->name());
    merged4[d->name()] = WalkTree(mnt4, "");
    UnmountImage(*d, mnt4);
  }
  // The expectation of UnpackTreeTest is containerd's tree too.
  EXPECT_EQ(TreeDiff(t.expected, UserXattrsOnly(merged["containerd"]), "want", "containerd"), "");
  EXPECT_EQ(TreeDiff(merged["containerd"], merged["berthd"], "containerd", "berthd"), "");
  EXPECT_EQ(TreeDiff(MtimesSince(merged4["containerd"], started),
                     MtimesSince(merged4["berthd"], started), "containerd", "berthd"),
            "");

  // Each layer's own directory: whiteouts as 0:0 devices, opaque xattrs,
  // copied-up parents.
  const auto chain = four.ChainIds();
  for (std::size_t i = 0; i < chain.size(); ++i) {
    std::map<std::string, std::map<std::string, Node>> raw;
    for (const Daemon* d : Both()) {
      const std::string dir = SnapshotDir(*d, "overlayfs", chain[i], "raw-" + std::to_string(i));
      ASSERT_FALSE(dir.empty()) << d->name() << " layer " << i;
      raw[d->name()] = MtimesSince(WalkTree(dir, ""), started);
    }
    EXPECT_EQ(TreeDiff(raw["containerd"], raw["berthd"], "containerd", "berthd"), "")
        << "layer " << i << "'s snapshot directory";
    if (i == 1) {
      ASSERT_TRUE(raw["berthd"].count("etc/removed"));
      EXPECT_EQ(raw["berthd"]["etc/removed"].type, S_IFCHR);
    }
    if (i == 2) {
      ASSERT_TRUE(raw["berthd"].count("opq"));
      EXPECT_EQ(raw["berthd"]["opq"].xattrs["trusted.overlay.opaque"], "y");
    }
  }
}

// A gzip layer of two concatenated members (as `cat a.gz b.gz` makes, the
// tar split between them) is one stream for both daemons.
TEST_F(UnpackVsContainerdTest, ConcatenatedGzipMembers) {
  const std::string name = "example.com/unpack/members:v1";
  OciImage image =
      BuildOciImage(name, {{{DirEntry("d"), FileEntry("d/a", DeterministicBytes(40 * 1024, 3)),
                             FileEntry("d/b", "second\n")},
                            LayerCompression::kNone,
                            "application/vnd.oci.image.layer.v1.tar+gzip"}});
  OciImage::Layer& layer = image.layers[0];
  const std::size_t half = layer.tar.size() / 2;
  layer.blob = CompressLayer(layer.tar.substr(0, half), LayerCompression::kGzip) +
               CompressLayer(layer.tar.substr(half), LayerCompression::kGzip);
  std::map<std::string, std::map<std::string, Node>> trees;
  for (const Daemon* d : Both()) {
    CommandResult r = Import(*d, scratch_, image, "overlayfs", d->name() + "-members.tar");
    ASSERT_EQ(r.exit_code, 0) << d->name() << ": " << r.Describe();
    const std::string mnt = MountImage(*d, scratch_, name, "overlayfs", "mnt-" + d->name());
    trees[d->name()] = WalkTree(mnt, "");
    UnmountImage(*d, mnt);
  }
  EXPECT_EQ(TreeDiff(trees["containerd"], trees["berthd"], "containerd", "berthd"), "");
  ASSERT_TRUE(trees["berthd"].count("d/b"));
  EXPECT_EQ(trees["berthd"]["d/b"].sha, Sha256Of("second\n"));
}

// One bad archive: imported into both, its outcome on each.
struct BadOutcome {
  CommandResult berthd;
  CommandResult containerd;
  std::string berthd_ls;
  std::string containerd_ls;
};

class UnpackBadInputTest : public UnpackVsContainerdTest {
 protected:
  // A good base layer, then `bad`.
  OciImage TwoLayers(const std::string& name, OciLayer bad) {
    OciLayer base{{FileEntry("base", "the good layer\n")}, LayerCompression::kGzip, ""};
    return BuildOciImage(name, {base, bad});
  }
  BadOutcome ImportBoth(const OciImage& image, const std::string& file) {
    BadOutcome o;
    o.berthd = Import(*berthd_, scratch_, image, "overlayfs", "b-" + file);
    o.containerd = Import(*containerd_, scratch_, image, "overlayfs", "c-" + file);
    o.berthd_ls = berthd_->Ok({"snapshots", "ls"});
    o.containerd_ls = containerd_->Ok({"snapshots", "ls"});
    return o;
  }
  // berthd failed extracting the bad layer (ctr names it by its diff_id) for
  // `reason`; no snapshot for the bad layer, no active leftover, the good
  // base layer committed.
  void ExpectRejected(const OciImage& image, const BadOutcome& o, const std::string& reason) {
    EXPECT_NE(o.berthd.exit_code, 0) << o.berthd.Describe();
    EXPECT_TRUE(Contains(o.berthd.err, "failed to extract layer " + image.DiffIds().back()));
    EXPECT_TRUE(Contains(o.berthd.err, reason)) << Daemon::Tail(berthd_->Log());
    const auto committed = SnapshotKeys(o.berthd_ls, "Committed");
    EXPECT_FALSE(Has(committed, image.ChainIds().back())) << o.berthd_ls;
    EXPECT_TRUE(Has(committed, image.ChainIds().front())) << o.berthd_ls;
    EXPECT_TRUE(SnapshotKeys(o.berthd_ls, "Active").empty()) << o.berthd_ls;
    // Where containerd failed too, it kept the same snapshots.
    if (o.containerd.exit_code != 0) {
      auto theirs = SnapshotKeys(o.containerd_ls, "Committed");
      auto ours = committed;
      std::sort(theirs.begin(), theirs.end());
      std::sort(ours.begin(), ours.end());
      EXPECT_EQ(ours, theirs) << "berthd:\n" << o.berthd_ls << "containerd:\n" << o.containerd_ls;
    }
    PrintOutcome(o);
  }
  // Both answers, side by side in the test's output.
  static void PrintOutcome(const BadOutcome& o) {
    std::cout << "[ berthd     ] exit " << o.berthd.exit_code << ": " << LastLine(o.berthd.err)
              << "\n[ containerd ] exit " << o.containerd.exit_code << ": "
              << LastLine(o.containerd.err) << "\n";
  }
  static std::string LastLine(const std::string& text) {
    std::string t = text;
    while (!t.empty() && t.back() == '\n') t.pop_back();
    const auto at = t.rfind('\n');
    return at == std::string::npos ? t : t.substr(at + 1);
  }
};

TEST_F(UnpackBadInputTest, TruncatedLayer) {
  OciImage image = TwoLayers(
      "example.com/unpack/truncated:v1",
      {{FileEntry("data", DeterministicBytes(256 * 1024, 1))}, LayerCompression::kGzip, ""});
  auto& blob = image.layers[1].blob;
  blob.resize(blob.size() / 2);
  BadOutcome o = ImportBoth(image, "truncated.tar");
  ExpectRejected(image, o, "unexpected EOF");
  EXPECT_NE(o.containerd.exit_code, 0) << "containerd took a truncated layer";
}

TEST_F(UnpackBadInputTest, CorruptGzip) {
  std::string text;
  for (int i = 0; i < 4000; ++i) text += "line " + std::to_string(i) + " of a compressible file\n";
  OciImage image = TwoLayers("example.com/unpack/corrupt:v1",
                             {{FileEntry("text", text)}, LayerCompression::kGzip, ""});
  auto& blob = image.layers[1].blob;
  for (std::size_t i = blob.size() / 3; i < blob.size() / 3 + 16; ++i)
    blob[i] = static_cast<char>(~blob[i]);
  BadOutcome o = ImportBoth(image, "corrupt.tar");
  // The differ's own check (zlib: "incorrect data check"), not only ctr's
  // comparison of the returned digest with the config's diff_id.
  ExpectRejected(image, o, "failed to decompress layer " + Sha256Of(blob) + ": gzip: ");
  EXPECT_NE(o.containerd.exit_code, 0) << "containerd took a corrupt gzip";
}

TEST_F(UnpackBadInputTest, LayerLargerThanItsDescriptor) {
  OciImage image = TwoLayers(
      "example.com/unpack/oversized:v1",
      {{FileEntry("data", DeterministicBytes(64 * 1024, 2))}, LayerCompression::kGzip, ""});
  image.layers[1].descriptor_size = static_cast<std::int64_t>(image.layers[1].blob.size()) - 100;
  BadOutcome o = ImportBoth(image, "oversized.tar");
  ExpectRejected(image, o, "is larger than its descriptor");
  // A difference: containerd 1.6.20 reads the blob by its stored size and
  // unpacks it; berthd's differ holds the descriptor to its word.
  EXPECT_EQ(o.containerd.exit_code, 0) << o.containerd.Describe();
}

TEST_F(UnpackBadInputTest, UnknownLayerMediaType) {
  OciImage image =
      TwoLayers("example.com/unpack/mediatype:v1", {{FileEntry("data", "x\n")},
                                                    LayerCompression::kGzip,
                                                    "application/vnd.example.layer.v1.tar+lz4"});
  BadOutcome o = ImportBoth(image, "mediatype.tar");
  ExpectRejected(image, o,
                 "failed to get stream processor for application/vnd.example.layer.v1.tar+lz4");
  EXPECT_NE(o.containerd.exit_code, 0) << "containerd took an unknown media type";
}

TEST_F(UnpackBadInputTest, ConfigBlobMissing) {
  OciImage image = TwoLayers("example.com/unpack/noconfig:v1",
                             {{FileEntry("data", "x\n")}, LayerCompression::kGzip, ""});
  image.write_config = false;
  BadOutcome o = ImportBoth(image, "noconfig.tar");
  // Nothing can be unpacked without the diff_ids: no snapshot at all.
  EXPECT_EQ(o.berthd.exit_code != 0, o.containerd.exit_code != 0)
      << "berthd: " << o.berthd.Describe() << "\ncontainerd: " << o.containerd.Describe();
  EXPECT_NE(o.berthd.exit_code, 0) << o.berthd.Describe();
  EXPECT_TRUE(SnapshotKeys(o.berthd_ls, "Committed").empty()) << o.berthd_ls;
  EXPECT_TRUE(SnapshotKeys(o.berthd_ls, "Active").empty()) << o.berthd_ls;
  // containerd: "failed to resolve rootfs: content digest sha256:…: not
  // found"; berthd's content store says "content sha256:…: not found".
  EXPECT_TRUE(Contains(o.berthd.err, "failed to resolve rootfs: "));
  EXPECT_TRUE(Contains(o.berthd.err, Sha256Of(image.ConfigJson()) + ": not found"));
  PrintOutcome(o);
}

}  // namespace
}  // namespace berth::test
