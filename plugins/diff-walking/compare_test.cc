// Tests of WalkingDiffer::Compare: a layer written from two trees, applied
// onto a copy of the lower tree, reproduces the upper tree.
#include <fcntl.h>
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

std::vector<Mount> Bind(const std::string& dir) {
  return {Mount{"bind", dir, "", {"rbind", "ro"}}};
}

std::vector<t::TarEntry> BaseLayer() {
  t::TarEntry owned = t::File("etc/passwd", "root:x:0:0", 0640);
  owned.uid = 7;
  owned.gid = 8;
  return {t::Dir("etc"), owned, t::File("etc/hosts", "127.0.0.1"),
          t::Dir("usr/bin"), t::File("usr/bin/tool", "#!/bin/sh", 0755),
          t::File("usr/bin/same", "unchanged"),
          t::Hardlink("usr/bin/tool2", "usr/bin/tool"),
          t::Symlink("usr/bin/sh", "tool"), t::Dir("var/cache"),
          t::File("var/cache/a", "a"), t::File("var/cache/b", "b"),
          t::Dir("gone"), t::File("gone/deep", "x"), t::File("typechange", "file")};
}

// Changes made to a copy of BaseLayer's tree (through the overlay mount or
// directly).
void Modify(const std::string& root) {
  ASSERT_TRUE(t::WriteFileAt(root + "/etc/hosts", "127.0.0.1 localhost"));
  ASSERT_EQ(::chmod((root + "/etc/passwd").c_str(), 0600), 0);
  ASSERT_EQ(::chown((root + "/usr/bin/same").c_str(), 1, 1), 0);
  ASSERT_EQ(::unlink((root + "/var/cache/a").c_str()), 0);
  std::filesystem::remove_all(root + "/gone");
  ASSERT_EQ(::unlink((root + "/typechange").c_str()), 0);
  ASSERT_EQ(::mkdir((root + "/typechange").c_str(), 0711), 0);
  ASSERT_TRUE(t::WriteFileAt(root + "/typechange/inside", "now a dir"));
  ASSERT_EQ(::mkdir((root + "/new").c_str(), 0755), 0);
  ASSERT_TRUE(t::WriteFileAt(root + "/new/file", std::string(300000, 'z')));
  ASSERT_EQ(::link((root + "/new/file").c_str(), (root + "/new/link").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/hosts", (root + "/new/abs").c_str()), 0);
  ASSERT_EQ(::mknod((root + "/new/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(::mkfifo((root + "/new/fifo").c_str(), 0600), 0);
  ASSERT_EQ(::setxattr((root + "/new/file").c_str(), "user.k", "v", 1, 0), 0);
  ASSERT_EQ(::chmod((root + "/new/file").c_str(), 02755), 0);
  // A change to one name of a hardlinked pair (the other is unmodified).
  ASSERT_TRUE(t::WriteFileAt(root + "/usr/bin/tool", "#!/bin/sh\necho v2"));
}

class CompareTest : public ::testing::Test {
 protected:
  // Applies the base layer onto a fresh directory.
  std::string BaseTree(const std::string& name) {
    const std::string dir = tmp_.Sub(name);
    auto applied = differ_.Apply(store_, base_, {Mount{"bind", dir, "", {"rbind"}}},
                                 ApplyOptions{});
    EXPECT_TRUE(applied.ok()) << applied.status().ToString();
    return dir;
  }

  // Compare(lower, upper) then applies the result onto a copy of lower and
  // checks it matches `want`.
  void RoundTrip(const std::vector<Mount>& lower, const std::vector<Mount>& upper,
                 const std::string& want_root, std::string_view media_type) {
    DiffOptions opts;
    opts.media_type = std::string(media_type);
    opts.labels = {{"test", "yes"}};
    auto layer = differ_.Compare(store_, lower, upper, opts);
    ASSERT_TRUE(layer.ok()) << layer.status().ToString();
    EXPECT_EQ(layer->media_type, media_type);
    auto info = store_.Info(layer->digest);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->size, layer->size);
    EXPECT_EQ(info->labels.at("test"), "yes");
    EXPECT_EQ(store_.ingest_count(), 0u);

    const std::string copy = BaseTree("copy");
    auto applied = differ_.Apply(store_, *layer, {Mount{"bind", copy, "", {"rbind"}}},
                                 ApplyOptions{});
    ASSERT_TRUE(applied.ok()) << applied.status().ToString();
    EXPECT_EQ(info->labels.at(std::string(kLabelUncompressed)), applied->digest);

    const t::Tree want = t::Snapshot(want_root);
    const t::Tree got = t::Snapshot(copy);
    EXPECT_EQ(t::TreeDiff(want, got), "");
    EXPECT_TRUE(want.contains("new/fifo"));
    EXPECT_FALSE(got.contains("var/cache/a"));
    EXPECT_FALSE(got.contains("gone"));
    struct stat a {}, b {};
    ASSERT_EQ(::stat((copy + "/new/file").c_str(), &a), 0);
    ASSERT_EQ(::stat((copy + "/new/link").c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);
    ASSERT_EQ(::stat((copy + "/usr/bin/tool").c_str(), &a), 0);
    ASSERT_EQ(::stat((copy + "/usr/bin/tool2").c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);
  }

  void SetUp() override {
    base_ = store_.Put(t::BuildTar(BaseLayer(), Compression::kGzip), mt::kOciLayerGzip);
  }

  t::MemoryContentStore store_;
  t::TempDir tmp_;
  WalkingDiffer differ_{WalkingOptions{}};
  Descriptor base_;
};

TEST_F(CompareTest, RoundTripsBetweenPlainTrees) {
  const std::string lower = BaseTree("lower");
  const std::string upper = BaseTree("upper");
  Modify(upper);
  // The trees really differ, so an empty layer would fail the round trip.
  ASSERT_NE(t::TreeDiff(t::Snapshot(lower), t::Snapshot(upper)), "");
  RoundTrip(Bind(lower), Bind(upper), upper, mt::kOciLayerGzip);
}

TEST_F(CompareTest, RoundTripsEveryWrittenMediaType) {
  const std::string lower = BaseTree("lower");
  const std::string upper = BaseTree("upper");
  Modify(upper);
  for (auto media_type : {mt::kOciLayer, mt::kOciLayerZstd}) {
    RoundTrip(Bind(lower), Bind(upper), upper, media_type);
    std::filesystem::remove_all(tmp_.path() + "/copy");
  }
}

TEST_F(CompareTest, RoundTripsAnOverlayUpperMount) {
  const std::string lower = BaseTree("lower");
  const std::string upperdir = tmp_.Sub("upperdir");
  const std::string work = tmp_.Sub("work");
  const std::string merged = tmp_.Sub("merged");
  const Mount overlay{"overlay", "overlay", "",
                      {"workdir=" + work, "upperdir=" + upperdir, "lowerdir=" + lower}};
  ASSERT_TRUE(MountAll({overlay}, merged).ok());
  Modify(merged);
  const std::string temp = tmp_.Sub("tmpmounts");
  WalkingDiffer differ(WalkingOptions{temp});
  DiffOptions opts;
  auto layer = differ.Compare(store_, Bind(lower), {overlay}, opts);
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();
  EXPECT_EQ(layer->media_type, mt::kOciLayerGzip);
  EXPECT_TRUE(std::filesystem::is_empty(temp));

  const std::string copy = BaseTree("copy");
  auto applied = differ.Apply(store_, *layer, {Mount{"bind", copy, "", {"rbind"}}},
                              ApplyOptions{});
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(t::TreeDiff(t::Snapshot(merged), t::Snapshot(copy)), "");
  ASSERT_TRUE(UnmountAll(merged).ok());
}

TEST_F(CompareTest, EmptyLowerWritesEverything) {
  const std::string upper = BaseTree("upper");
  auto layer = differ_.Compare(store_, {}, Bind(upper), DiffOptions{});
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();
  const std::string fresh = tmp_.Sub("fresh");
  auto applied = differ_.Apply(store_, *layer, {Mount{"bind", fresh, "", {"rbind"}}},
                               ApplyOptions{});
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  t::Tree want = t::Snapshot(upper);
  t::Tree got = t::Snapshot(fresh);
  EXPECT_EQ(t::TreeDiff(want, got), "");
}

TEST_F(CompareTest, UnsupportedMediaTypeIsNotImplemented) {
  const std::string lower = BaseTree("lower");
  DiffOptions opts;
  opts.media_type = std::string(mt::kDockerLayerGzip);
  auto layer = differ_.Compare(store_, Bind(lower), Bind(lower), opts);
  ASSERT_FALSE(layer.ok());
  EXPECT_TRUE(layer.status().Is(Code::kNotImplemented)) << layer.status().ToString();
}

TEST_F(CompareTest, IdenticalTreesGiveAnEmptyLayerAndAGivenRefIsReused) {
  const std::string lower = BaseTree("lower");
  const std::string upper = BaseTree("upper");
  DiffOptions opts;
  opts.ref = "my-ref";
  opts.media_type = std::string(mt::kOciLayer);
  auto layer = differ_.Compare(store_, Bind(lower), Bind(upper), opts);
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();
  EXPECT_EQ(layer->size, 1024);  // just the end-of-archive blocks
  EXPECT_EQ(store_.Bytes(layer->digest), std::string(1024, '\0'));
}

}  // namespace
}  // namespace berth::diff_walking
