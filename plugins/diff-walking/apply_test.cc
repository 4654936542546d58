// Tests of WalkingDiffer::Apply: entry types, media types, verification,
// whiteouts on plain trees and overlay upper directories, hostile layers.
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "berth/digest.h"
#include "testing.h"
#include "walking.h"

namespace berth::diff_walking {
namespace {

namespace t = testing;
namespace mt = media_types;

std::string Xattr(const std::string& path, const std::string& key) {
  char buf[256];
  ssize_t n = ::lgetxattr(path.c_str(), key.c_str(), buf, sizeof(buf));
  return n < 0 ? std::string("<none>") : std::string(buf, static_cast<std::size_t>(n));
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<Mount> Bind(const std::string& dir) {
  return {Mount{"bind", dir, "", {"rbind", "rw"}}};
}

class ApplyTest : public ::testing::Test {
 protected:
  Result<Descriptor> ApplyEntries(const std::vector<Mount>& mounts,
                                  const std::vector<t::TarEntry>& entries,
                                  Compression c = Compression::kNone,
                                  std::string_view media_type = mt::kOciLayer) {
    return differ_.Apply(store_, store_.Put(t::BuildTar(entries, c), media_type),
                         mounts, ApplyOptions{});
  }

  t::MemoryContentStore store_;
  t::TempDir tmp_;
  WalkingDiffer differ_{WalkingOptions{}};
};

std::vector<t::TarEntry> AllTypes() {
  t::TarEntry owned = t::File("etc/owned", "owned-data", 04755);
  owned.uid = 1000;
  owned.gid = 2000;
  owned.mtime = 1500000000;
  owned.xattrs = {{"user.note", "hello"}, {"trusted.t", "v"}};
  t::TarEntry chr;
  chr.path = "dev/null";
  chr.type = S_IFCHR;
  chr.perm = 0666;
  chr.rdev_major = 1;
  chr.rdev_minor = 3;
  t::TarEntry blk = chr;
  blk.path = "dev/loop9";
  blk.type = S_IFBLK;
  blk.rdev_major = 7;
  blk.rdev_minor = 9;
  t::TarEntry fifo;
  fifo.path = "run/fifo";
  fifo.type = S_IFIFO;
  fifo.perm = 0620;
  t::TarEntry dir = t::Dir("etc", 0750);
  dir.mtime = 1400000000;
  t::TarEntry sticky = t::Dir("tmp", 01777);
  t::TarEntry link = t::Symlink("etc/link", "owned");
  link.uid = 5;
  // A hardlink header carries its inode's metadata, which is applied again.
  t::TarEntry hard = owned;
  hard.path = "etc/hard";
  hard.link = "etc/owned";
  hard.hardlink = true;
  return {dir, owned, hard, link, sticky,
          t::File("deep/er/file", "parents made"), chr, blk, fifo};
}

class ApplyCompressionTest : public ApplyTest,
                             public ::testing::WithParamInterface<Compression> {};

TEST_P(ApplyCompressionTest, AppliesEveryEntryType) {
  const std::string root = tmp_.Sub("root");
  const std::string media_type = GetParam() == Compression::kGzip   ? std::string(mt::kOciLayerGzip)
                                 : GetParam() == Compression::kZstd ? std::string(mt::kOciLayerZstd)
                                                                    : std::string(mt::kOciLayer);
  const std::string plain = t::BuildTar(AllTypes(), Compression::kNone);
  auto applied = ApplyEntries(Bind(root), AllTypes(), GetParam(), media_type);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(applied->media_type, mt::kOciLayer);
  EXPECT_EQ(applied->digest, Sha256Of(plain));
  EXPECT_EQ(applied->size, static_cast<std::int64_t>(plain.size()));

  struct stat st {};
  ASSERT_EQ(::lstat((root + "/etc/owned").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 2000u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1500000000);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(t::ReadFileAt(root + "/etc/owned"), "owned-data");
  EXPECT_EQ(Xattr(root + "/etc/owned", "user.note"), "hello");
  EXPECT_EQ(Xattr(root + "/etc/owned", "trusted.t"), "v");
  struct stat hard {};
  ASSERT_EQ(::lstat((root + "/etc/hard").c_str(), &hard), 0);
  EXPECT_EQ(hard.st_ino, st.st_ino);

  ASSERT_EQ(::lstat((root + "/etc").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1400000000);  // set after its children
  ASSERT_EQ(::lstat((root + "/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  ASSERT_EQ(::lstat((root + "/deep/er").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);

  ASSERT_EQ(::lstat((root + "/etc/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_uid, 5u);
  EXPECT_EQ(std::filesystem::read_symlink(root + "/etc/link"), "owned");

  ASSERT_EQ(::lstat((root + "/dev/null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  ASSERT_EQ(::lstat((root + "/dev/loop9").c_str(), &st), 0);
  EXPECT_TRUE(S_ISBLK(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(7, 9));
  ASSERT_EQ(::lstat((root + "/run/fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0620u);
}

INSTANTIATE_TEST_SUITE_P(Compressions, ApplyCompressionTest,
                         ::testing::Values(Compression::kNone, Compression::kGzip,
                                           Compression::kZstd));

TEST_F(ApplyTest, AcceptsEveryLayerMediaType) {
  struct Case {
    std::string_view media_type;
    Compression compression;
  };
  const Case cases[] = {
      {mt::kDockerLayerGzip, Compression::kGzip},
      {mt::kDockerLayerForeignGzip, Compression::kGzip},
      {mt::kDockerLayer, Compression::kGzip},  // compressed despite its name
      {mt::kDockerLayerForeign, Compression::kNone},
      {mt::kOciLayerNonDistributable, Compression::kNone},
      {mt::kOciLayerNonDistributableGzip, Compression::kGzip},
      {mt::kOciLayerNonDistributableZstd, Compression::kZstd},
  };
  int i = 0;
  for (const auto& c : cases) {
    const std::string root = tmp_.Sub("root" + std::to_string(i++));
    auto applied = ApplyEntries(Bind(root), {t::File("f", "data")}, c.compression,
                                c.media_type);
    ASSERT_TRUE(applied.ok()) << c.media_type << ": " << applied.status().ToString();
    EXPECT_EQ(t::ReadFileAt(root + "/f"), "data") << c.media_type;
  }
}

TEST_F(ApplyTest, UnknownMediaTypeIsNotImplemented) {
  const std::string root = tmp_.Sub("root");
  auto applied = ApplyEntries(Bind(root), {t::File("f", "x")}, Compression::kNone,
                              "application/vnd.oci.image.config.v1+json");
  ASSERT_FALSE(applied.ok());
  EXPECT_TRUE(applied.status().Is(Code::kNotImplemented)) << applied.status().ToString();
  EXPECT_FALSE(Exists(root + "/f"));
}

TEST_F(ApplyTest, BadBlobsFail) {
  const std::string tar = t::BuildTar({t::File("f", std::string(100000, 'x'))},
                                      Compression::kGzip);
  const Descriptor good = store_.Put(tar, mt::kOciLayerGzip);

  Descriptor wrong_digest = good;
  wrong_digest.digest = store_.Put(t::BuildTar({t::File("g", "y")}, Compression::kGzip),
                                   mt::kOciLayerGzip).digest;
  wrong_digest.size = good.size;
  Descriptor truncated = good;
  truncated.digest = store_.Put(tar.substr(0, tar.size() / 2), mt::kOciLayerGzip).digest;
  Descriptor oversize = good;
  oversize.digest = store_.Put(tar + std::string(64, '\0'), mt::kOciLayerGzip).digest;
  std::string corrupt_bytes = tar;
  for (std::size_t i = 20; i < 200 && i < corrupt_bytes.size(); ++i) corrupt_bytes[i] ^= 0x5a;
  const Descriptor corrupt = store_.Put(corrupt_bytes, mt::kOciLayerGzip);
  Descriptor missing = good;
  missing.digest = Sha256Of("absent");
  Descriptor bad_digest = good;
  bad_digest.digest = "sha256:xyz";

  struct Case {
    const char* name;
    Descriptor desc;
    Code code;
  };
  const Case cases[] = {
      {"digest mismatch", wrong_digest, Code::kFailedPrecondition},
      {"truncated", truncated, Code::kFailedPrecondition},
      {"oversize", oversize, Code::kFailedPrecondition},
      {"corrupt gzip", corrupt, Code::kFailedPrecondition},
      {"missing", missing, Code::kNotFound},
      {"malformed digest", bad_digest, Code::kInvalidArgument},
  };
  int i = 0;
  for (const auto& c : cases) {
    const std::string root = tmp_.Sub("root" + std::to_string(i++));
    auto applied = differ_.Apply(store_, c.desc, Bind(root), ApplyOptions{});
    ASSERT_FALSE(applied.ok()) << c.name;
    EXPECT_TRUE(applied.status().Is(c.code)) << c.name << ": " << applied.status().ToString();
  }
  const std::string root = tmp_.Sub("good");
  EXPECT_TRUE(differ_.Apply(store_, good, Bind(root), ApplyOptions{}).ok());
}

TEST_F(ApplyTest, WhiteoutsDeleteOnAPlainTree) {
  const std::string root = tmp_.Sub("root");
  ASSERT_TRUE(ApplyEntries(Bind(root), {t::Dir("a"), t::File("a/x", "x"),
                                        t::File("a/y", "y"), t::Dir("b"),
                                        t::File("b/z", "z"), t::Dir("b/sub"),
                                        t::File("b/sub/w", "w"), t::Dir("c/d")})
                  .ok());
  auto applied = ApplyEntries(
      Bind(root), {t::File("a/.wh.x", ""), t::File("b/keep", "new"),
                   t::File("b/.wh..wh..opq", ""), t::File(".wh.c", ""),
                   t::File(".wh.absent", "")});
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_FALSE(Exists(root + "/a/x"));
  EXPECT_TRUE(Exists(root + "/a/y"));
  EXPECT_FALSE(Exists(root + "/a/.wh.x"));
  EXPECT_FALSE(Exists(root + "/b/z"));
  EXPECT_FALSE(Exists(root + "/b/sub"));
  EXPECT_EQ(t::ReadFileAt(root + "/b/keep"), "new");
  EXPECT_FALSE(Exists(root + "/b/.wh..wh..opq"));
  EXPECT_FALSE(Exists(root + "/c"));
}

class OverlayApplyTest : public ApplyTest {
 protected:
  void SetUp() override {
    lower_ = tmp_.Sub("lower");
    upper_ = tmp_.Sub("upper");
    work_ = tmp_.Sub("work");
    merged_ = tmp_.Sub("merged");
  }
  void TearDown() override { (void)UnmountAll(merged_); }
  Mount OverlayMount(bool userxattr = false) const {
    Mount m{"overlay", "overlay", "",
            {"workdir=" + work_, "upperdir=" + upper_, "lowerdir=" + lower_}};
    if (userxattr) m.options.push_back("userxattr");
    return m;
  }
  std::string lower_, upper_, work_, merged_;
};

TEST_F(OverlayApplyTest, WhiteoutsBecomeOverlayMarkers) {
  ASSERT_TRUE(ApplyEntries(Bind(lower_), {t::Dir("a", 0710), t::File("a/x", "x"),
                                          t::File("a/y", "y"), t::Dir("b"),
                                          t::File("b/z", "z")})
                  .ok());
  t::TarEntry whiteout = t::File("a/.wh.x", "");
  whiteout.uid = 3;
  auto applied = ApplyEntries({OverlayMount()},
                              {whiteout, t::Dir("b"), t::File("b/.wh..wh..opq", ""),
                               t::File("b/new", "n")},
                              Compression::kGzip, mt::kOciLayerGzip);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();

  struct stat st {};
  ASSERT_EQ(::lstat((upper_ + "/a/x").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_EQ(st.st_uid, 3u);
  EXPECT_FALSE(Exists(upper_ + "/a/.wh.x"));
  // The parent made in the upper directory copies the lower's metadata.
  ASSERT_EQ(::lstat((upper_ + "/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0710u);
  EXPECT_EQ(Xattr(upper_ + "/b", "trusted.overlay.opaque"), "y");
  EXPECT_FALSE(Exists(upper_ + "/b/.wh..wh..opq"));
  EXPECT_TRUE(Exists(lower_ + "/a/x"));  // lowers are never touched

  // The kernel reads the markers as we meant them.
  ASSERT_TRUE(MountAll({OverlayMount()}, merged_).ok());
  EXPECT_FALSE(Exists(merged_ + "/a/x"));
  EXPECT_EQ(t::ReadFileAt(merged_ + "/a/y"), "y");
  EXPECT_FALSE(Exists(merged_ + "/b/z"));
  EXPECT_EQ(t::ReadFileAt(merged_ + "/b/new"), "n");
}

TEST_F(OverlayApplyTest, UserxattrMountsGetTheUserOpaqueXattr) {
  auto applied = ApplyEntries({OverlayMount(/*userxattr=*/true)},
                              {t::Dir("d"), t::File("d/.wh..wh..opq", "")});
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(Xattr(upper_ + "/d", "user.overlay.opaque"), "y");
  EXPECT_EQ(Xattr(upper_ + "/d", "trusted.overlay.opaque"), "<none>");
}

TEST_F(ApplyTest, OtherMountsAreAppliedThroughATemporaryMount) {
  const std::string a = tmp_.Sub("a");
  const std::string b = tmp_.Sub("b");
  const std::string temp = tmp_.Sub("tmpmounts");
  tmp_.Sub("a/sub");
  WalkingDiffer differ(WalkingOptions{temp});
  const std::vector<Mount> mounts = {Mount{"bind", a, "", {"rbind"}},
                                     Mount{"bind", b, "sub", {"rbind"}}};
  auto applied = differ.Apply(
      store_, store_.Put(t::BuildTar({t::File("top", "1"), t::File("sub/inner", "2")},
                                     Compression::kNone),
                         mt::kOciLayer),
      mounts, ApplyOptions{});
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(t::ReadFileAt(a + "/top"), "1");
  EXPECT_EQ(t::ReadFileAt(b + "/inner"), "2");
  EXPECT_TRUE(std::filesystem::is_empty(temp));  // unmounted and removed
}

// Hostile layers: nothing may appear outside the target.
class HostileApplyTest : public ApplyTest {
 protected:
  void SetUp() override {
    root_ = tmp_.Sub("root");
    outside_ = tmp_.Sub("outside");
    ASSERT_TRUE(t::WriteFileAt(outside_ + "/victim", "safe"));
  }
  void ExpectOutsideUntouched() {
    EXPECT_EQ(t::ReadFileAt(outside_ + "/victim"), "safe");
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(outside_)) {
      names.push_back(e.path().filename());
    }
    EXPECT_EQ(names, std::vector<std::string>{"victim"});
    std::vector<std::string> top;
    for (const auto& e : std::filesystem::directory_iterator(tmp_.path())) {
      top.push_back(e.path().filename());
    }
    std::sort(top.begin(), top.end());
    EXPECT_EQ(top, (std::vector<std::string>{"outside", "root"}));
    struct stat st {};
    ASSERT_EQ(::stat((outside_ + "/victim").c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 1u);
  }
  std::string root_, outside_;
};

TEST_F(HostileApplyTest, TraversalNamesAreCleanedIntoTheRoot) {
  auto applied = ApplyEntries(Bind(root_), {t::File("../escape", "e"),
                                            t::File("../../../../escape2", "e"),
                                            t::File("/abs/path", "a"),
                                            t::File("x/../../../up", "u")});
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(t::ReadFileAt(root_ + "/escape"), "e");
  EXPECT_EQ(t::ReadFileAt(root_ + "/escape2"), "e");
  EXPECT_EQ(t::ReadFileAt(root_ + "/abs/path"), "a");
  EXPECT_EQ(t::ReadFileAt(root_ + "/up"), "u");
  ExpectOutsideUntouched();
}

TEST_F(HostileApplyTest, SymlinksAreFollowedOnlyInsideTheRoot) {
  auto applied = ApplyEntries(
      Bind(root_),
      {t::Symlink("evil", "/"), t::File("evil/etc/x", "1"),
       t::Symlink("out", outside_), t::File("out/victim", "pwned"),
       t::File("out/new", "2"), t::Symlink("l1", "l2"), t::Symlink("l2", "../../.."),
       t::File("l1/chained", "3"), t::Symlink("rel", "../outside"),
       t::File("rel/victim2", "4"), t::File("evil/.wh.victim", "")});
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(t::ReadFileAt(root_ + "/etc/x"), "1");
  EXPECT_EQ(t::ReadFileAt(root_ + outside_ + "/victim"), "pwned");
  EXPECT_EQ(t::ReadFileAt(root_ + outside_ + "/new"), "2");
  EXPECT_EQ(t::ReadFileAt(root_ + "/chained"), "3");
  EXPECT_EQ(t::ReadFileAt(root_ + "/outside/victim2"), "4");
  ExpectOutsideUntouched();
}

TEST_F(HostileApplyTest, HardlinksCannotReachOutside) {
  auto applied = ApplyEntries(Bind(root_), {t::Hardlink("link", "../outside/victim")});
  EXPECT_FALSE(applied.ok());
  applied = ApplyEntries(Bind(root_), {t::Symlink("out", outside_),
                                       t::Hardlink("link2", "out/victim")});
  EXPECT_FALSE(applied.ok());
  applied = ApplyEntries(Bind(root_), {t::Hardlink("link3", "../../../" + outside_ + "/victim")});
  EXPECT_FALSE(applied.ok());
  // A hardlink to a symlink links the symlink itself.
  applied = ApplyEntries(Bind(root_), {t::Symlink("s", outside_ + "/victim"),
                                       t::Hardlink("link4", "s")});
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  struct stat st {};
  ASSERT_EQ(::lstat((root_ + "/link4").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  ExpectOutsideUntouched();
}

TEST_F(HostileApplyTest, InvalidWhiteoutsFail) {
  auto applied = ApplyEntries(Bind(root_), {t::File("a/.wh..", "")});
  EXPECT_FALSE(applied.ok());
  EXPECT_TRUE(applied.status().Is(Code::kFailedPrecondition)) << applied.status().ToString();
  ExpectOutsideUntouched();
}

TEST_F(ApplyTest, SixtyLayerChainGivesTheExpectedTree) {
  const std::string root = tmp_.Sub("root");
  std::map<std::string, std::string> want;  // path -> content
  for (int i = 0; i < 60; ++i) {
    std::vector<t::TarEntry> layer;
    const std::string dir = "d" + std::to_string(i % 7);
    layer.push_back(t::Dir(dir));
    if (i == 30) {
      layer.push_back(t::File(dir + "/.wh..wh..opq", ""));
      std::erase_if(want, [&](const auto& kv) { return kv.first.starts_with(dir + "/"); });
    }
    const std::string file = dir + "/f" + std::to_string(i);
    layer.push_back(t::File(file, "layer " + std::to_string(i)));
    want[file] = "layer " + std::to_string(i);
    layer.push_back(t::File("common", "from " + std::to_string(i)));
    want["common"] = "from " + std::to_string(i);
    if (i % 3 == 2) {
      const std::string gone = "d" + std::to_string((i - 1) % 7) + "/f" + std::to_string(i - 1);
      const auto slash = gone.find('/');
      layer.push_back(t::File(gone.substr(0, slash) + "/.wh." + gone.substr(slash + 1), ""));
      want.erase(gone);
    }
    auto applied = ApplyEntries(Bind(root), layer, i % 2 ? Compression::kGzip : Compression::kNone,
                                i % 2 ? mt::kOciLayerGzip : mt::kOciLayer);
    ASSERT_TRUE(applied.ok()) << "layer " << i << ": " << applied.status().ToString();
  }
  std::map<std::string, std::string> got;
  for (const auto& [path, node] : t::Snapshot(root)) {
    if (S_ISREG(node.mode)) got[path] = node.content;
  }
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace berth::diff_walking
