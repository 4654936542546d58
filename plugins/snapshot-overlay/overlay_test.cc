// Tests of the overlay snapshotter with real overlay mounts (run as root):
// what is particular to overlay here, the rest in the conformance suite.
#include "overlay.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "conformance.h"
#include "overlay_fs.h"

namespace berth::overlay {
namespace {

namespace fs = std::filesystem;
using snapshots::Kind;
using test::SnapshotterConformance;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool WriteFile(const fs::path& p, const std::string& s) {
  std::ofstream out(p);
  out << s;
  out.close();
  return out.good();
}

// Mounts a snapshot's mounts on a fresh directory; unmounts on destruction.
class Mounted {
 public:
  Mounted(const std::vector<berth::Mount>& mounts, const fs::path& where)
      : where_(where) {
    fs::create_directories(where_);
    status_ = MountAll(mounts, where_.string());
  }
  ~Mounted() {
    EXPECT_TRUE(UnmountAll(where_.string()).ok());
    std::error_code ec;
    fs::remove(where_, ec);
  }
  const Status& status() const { return status_; }
  fs::path operator/(const std::string& p) const { return where_ / p; }

 private:
  fs::path where_;
  Status status_;
};

class OverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // /var/tmp sits on the real disk (d_type, overlay-capable), unlike a tmpfs /tmp.
    char tmpl[] = "/var/tmp/berth-overlay-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Open({});
  }
  void TearDown() override {
    sn_.reset();
    // Anything a failed test left mounted under the scratch dir goes first.
    std::ifstream in("/proc/self/mountinfo");
    std::vector<std::string> mounted;
    for (std::string line; std::getline(in, line);) {
      std::istringstream f(line);
      std::string a, b, c, d, target;
      f >> a >> b >> c >> d >> target;
      if (target.starts_with(dir_.string())) mounted.push_back(target);
    }
    for (auto it = mounted.rbegin(); it != mounted.rend(); ++it) {
      EXPECT_TRUE(UnmountAll(*it).ok());
    }
    fs::remove_all(dir_);
  }
  void Open(Options options) {
    sn_.reset();
    options.sync_metadata = false;
    auto s = OverlaySnapshotter::Open((dir_ / "root").string(), options);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    sn_ = *s;
  }
  fs::path Mnt(const std::string& name) { return dir_ / "mnt" / name; }
  std::string Upper(const std::string& id) {
    return (dir_ / "root/snapshots" / id / "fs").string();
  }

  fs::path dir_;
  std::shared_ptr<OverlaySnapshotter> sn_;
};

TEST_F(OverlayTest, MountsAreContainerds) {
  auto a = sn_->Prepare("a", "", {});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, (std::vector<berth::Mount>{{"bind", Upper("1"), "", {"rw", "rbind"}}}));
  auto v = sn_->View("v", "", {});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, (std::vector<berth::Mount>{{"bind", Upper("2"), "", {"ro", "rbind"}}}));
  ASSERT_TRUE(sn_->Commit("base", "a", {}).ok());
  auto v1 = sn_->View("v1", "base", {});
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(*v1, (std::vector<berth::Mount>{{"bind", Upper("1"), "", {"ro", "rbind"}}}));
  ASSERT_TRUE(sn_->Prepare("b", "base", {}).ok());
  ASSERT_TRUE(sn_->Commit("top", "b", {}).ok());
  auto act = sn_->Prepare("c", "top", {});
  ASSERT_TRUE(act.ok());
  std::vector<std::string> opts;
  if (SupportsIndex()) opts.push_back("index=off");
  opts.push_back("workdir=" + (dir_ / "root/snapshots/5/work").string());
  opts.push_back("upperdir=" + Upper("5"));
  opts.push_back("lowerdir=" + Upper("4") + ":" + Upper("1"));
  EXPECT_EQ(*act, (std::vector<berth::Mount>{{"overlay", "overlay", "", opts}}));
  EXPECT_EQ(*sn_->Mounts("c"), *act);
  auto v2 = sn_->View("v2", "top", {});
  ASSERT_TRUE(v2.ok());
  ASSERT_EQ(v2->size(), 1u);
  EXPECT_EQ((*v2)[0].options.back(), "lowerdir=" + Upper("4") + ":" + Upper("1"));
  EXPECT_EQ(std::count_if((*v2)[0].options.begin(), (*v2)[0].options.end(),
                          [](const std::string& o) { return o.starts_with("upperdir="); }),
            0);
  EXPECT_EQ(sn_->Mounts("top").status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(sn_->Mounts("nope").status().code(), Code::kNotFound);
}

TEST_F(OverlayTest, ChainOf128Layers) {
  std::string parent;
  for (int i = 1; i <= 128; ++i) {
    const std::string name = "layer" + std::to_string(i);
    auto m = sn_->Prepare(name + "-a", parent, {});
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    // Write straight into the upper dir: 128 mounts would only slow the test.
    ASSERT_TRUE(WriteFile(fs::path(Upper(std::to_string(i))) / ("f" + std::to_string(i)),
                          std::to_string(i)));
    ASSERT_TRUE(sn_->Commit(name, name + "-a", {}).ok());
    parent = name;
  }
  auto top = sn_->Prepare("top", parent, {});
  ASSERT_TRUE(top.ok());
  ASSERT_GT(top->at(0).options.back().size(), 4096u);
  Mounted m(*top, Mnt("top"));
  ASSERT_TRUE(m.status().ok()) << m.status().ToString();
  for (int i = 1; i <= 128; ++i) {
    ASSERT_EQ(ReadFile(m / ("f" + std::to_string(i))), std::to_string(i)) << i;
  }
  ASSERT_TRUE(WriteFile(m / "new", "n"));
  EXPECT_EQ(ReadFile(fs::path(Upper("129")) / "new"), "n");
}

TEST_F(OverlayTest, PermissionsAndOwnership) {
  auto mode = [](const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  };
  EXPECT_EQ(mode(dir_ / "root"), 0700u);
  EXPECT_EQ(mode(dir_ / "root/snapshots"), 0700u);
  ASSERT_TRUE(sn_->Prepare("a", "", {}).ok());
  EXPECT_EQ(mode(Upper("1")), 0755u);
  EXPECT_EQ(mode(dir_ / "root/snapshots/1/work"), 0711u);
  ASSERT_EQ(chown(Upper("1").c_str(), 1234, 5678), 0);
  ASSERT_TRUE(sn_->Commit("base", "a", {}).ok());
  ASSERT_TRUE(sn_->Prepare("b", "base", {}).ok());
  struct stat st {};
  ASSERT_EQ(stat(Upper("2").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  ASSERT_TRUE(sn_->View("v", "base", {}).ok());
  EXPECT_FALSE(fs::exists(dir_ / "root/snapshots/3/work"));
}

TEST_F(OverlayTest, FailedCreationsLeaveNoDirectories) {
  ASSERT_TRUE(sn_->Prepare("a", "", {}).ok());
  ASSERT_TRUE(sn_->View("v", "", {}).ok());
  EXPECT_EQ(sn_->Prepare("a", "", {}).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(sn_->Prepare("x", "a", {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(sn_->Prepare("x", "missing", {}).status().code(), Code::kNotFound);
  ASSERT_TRUE(sn_->Commit("c", "a", {}).ok());
  ASSERT_TRUE(sn_->Prepare("child", "c", {}).ok());
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(dir_ / "root/snapshots")) {
    entries.push_back(e.path().filename().string());
  }
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(entries, (std::vector<std::string>{"1", "2", "3"}));
}

TEST_F(OverlayTest, RemoveThenCleanupLeavesDiskMatchingRecords) {
  ASSERT_TRUE(sn_->Prepare("a", "", {}).ok());
  ASSERT_TRUE(sn_->Prepare("b", "", {}).ok());
  ASSERT_TRUE(sn_->Remove("a").ok());
  EXPECT_FALSE(fs::exists(dir_ / "root/snapshots/1"));
  EXPECT_TRUE(fs::exists(dir_ / "root/snapshots/rm-1"));
  // What a crash may leave: a half-built snapshot and a directory whose record
  // was dropped before its rename.
  fs::create_directories(dir_ / "root/snapshots/new-abc123/fs");
  fs::create_directories(dir_ / "root/snapshots/77/fs");
  ASSERT_TRUE(sn_->Cleanup().ok());
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(dir_ / "root/snapshots")) {
    entries.push_back(e.path().filename().string());
  }
  EXPECT_EQ(entries, (std::vector<std::string>{"2"}));

  Options sync;
  sync.sync_remove = true;
  Open(sync);
  ASSERT_TRUE(sn_->Remove("b").ok());
  EXPECT_TRUE(fs::is_empty(dir_ / "root/snapshots"));
}

TEST_F(OverlayTest, PrepareReplacesDirectoryLeftByCrashBeforeRecord) {
  // A crash after the rename but before the record leaves "snapshots/1" with
  // no record, and the id counter still at 0: the next Prepare gets id 1.
  fs::create_directories(dir_ / "root/snapshots/1/fs");
  ASSERT_TRUE(WriteFile(dir_ / "root/snapshots/1/fs/leftover", "x"));
  ASSERT_TRUE(sn_->Prepare("a", "", {}).ok());
  EXPECT_TRUE(fs::exists(dir_ / "root/snapshots/1/work"));
  EXPECT_FALSE(fs::exists(dir_ / "root/snapshots/1/fs/leftover"));
}

TEST_F(OverlayTest, CommittedUsageIsNotRemeasured) {
  ASSERT_TRUE(sn_->Prepare("a", "", {}).ok());
  ASSERT_TRUE(WriteFile(fs::path(Upper("1")) / "blob", std::string(1 << 20, 'z')));
  auto active = sn_->Usage("a");
  ASSERT_TRUE(active.ok());
  ASSERT_TRUE(sn_->Commit("c", "a", {}).ok());
  ASSERT_TRUE(WriteFile(fs::path(Upper("1")) / "later", std::string(1 << 20, 'y')));
  auto committed = sn_->Usage("c");
  ASSERT_TRUE(committed.ok());
  EXPECT_EQ(committed->size, active->size);
  EXPECT_EQ(committed->inodes, active->inodes);
}

TEST_F(OverlayTest, UpperdirLabelAndReopen) {
  Options labelled;
  labelled.upperdir_label = true;
  Open(labelled);
  ASSERT_TRUE(sn_->Prepare("a", "", {{"containerd.io/snapshot/x", "1"}}).ok());
  auto info = sn_->Stat("a");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->labels.at(kUpperdirLabel), Upper("1"));
  EXPECT_EQ(info->labels.at("containerd.io/snapshot/x"), "1");
  snapshots::Info update;
  update.name = "a";
  update.labels = {{"k", "v"}};
  auto u = sn_->Update(update, {"labels.k"});
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->labels.at("k"), "v");
  EXPECT_EQ(u->labels.at(kUpperdirLabel), Upper("1"));

  Open({});
  std::vector<snapshots::Info> seen;
  ASSERT_TRUE(sn_->Walk(
                     [&](const snapshots::Info& i) {
                       seen.push_back(i);
                       return Status::Ok();
                     },
                     {})
                  .ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].name, "a");
  EXPECT_EQ(seen[0].kind, Kind::kActive);
  EXPECT_FALSE(seen[0].labels.contains(kUpperdirLabel));  // computed, not stored
  EXPECT_EQ(seen[0].labels.at("k"), "v");
}

TEST(OverlayFsTest, DTypeProbeOnRealDisk) {
  auto r = SupportsDType("/var/tmp");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(*r);
}

test::SnapshotterFactory OverlayFactory() {
  return {"overlayfs",
          []() -> Result<std::unique_ptr<test::Scratch>> {
            auto scratch = test::MakeFolderScratch();
            if (!scratch) return Status::Unknown("cannot make a folder in /var/tmp");
            return scratch;
          },
          [](const std::string& root) -> Result<std::shared_ptr<Snapshotter>> {
            Options options;
            options.sync_metadata = false;
            auto sn = OverlaySnapshotter::Open(root, options);
            if (!sn.ok()) return sn.status();
            return std::shared_ptr<Snapshotter>(*sn);
          }};
}

INSTANTIATE_TEST_SUITE_P(Overlay, SnapshotterConformance, ::testing::Values(OverlayFactory()),
                         test::FactoryName);

}  // namespace
}  // namespace berth::overlay
