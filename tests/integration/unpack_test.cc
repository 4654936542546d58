// Unpacking images with the stock `ctr images import` against a real berthd:
// OCI layout archives built in the test (tests/support/oci_archive.h) with
// whiteouts, opaque directories, hardlinks, symlinks, a fifo, a device,
// modes, owners, mtimes and user xattrs, unpacked through berthd's Diff
// service (io.containerd.differ.v1.walking) onto overlayfs and btrfs
// snapshots, mounted with `ctr images mount` and walked. A 60-layer chain.
// The same archives unpacked by a private containerd 1.6.20, whose merged
// trees and per-layer snapshot directories (whiteout devices, opaque xattrs)
// must match berthd's.
// Bad layers: unpack_bad_input_test.cc.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "berth/digest.h"
#include "btrfs_loop.h"
#include "file_tree.h"
#include "unpack_fixture.h"

namespace berth::test {
namespace {

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

}  // namespace
}  // namespace berth::test
