// Tests of the btrfs snapshotter on a btrfs filesystem made for each test on
// a loop device (run as root): what is particular to btrfs here, the rest in
// the conformance suite, instantiated at the end.
#include "btrfs.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "btrfs_fs.h"
#include "btrfs_loop.h"
#include "conformance.h"
#include "run_command.h"

namespace berth::btrfs {
namespace {

namespace fs = std::filesystem;
using test::SnapshotterConformance;

bool Put(const fs::path& p, const std::string& s) {
  std::ofstream out(p);
  out << s;
  out.close();
  return out.good();
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::set<std::string> Names(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename());
  return names;
}

// Whether a file can be created in `dir` (false with EROFS in a read-only
// subvolume).
bool Writable(const fs::path& dir) {
  const fs::path probe = dir / ".probe";
  const int fd = open(probe.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  close(fd);
  unlink(probe.c_str());
  return true;
}

class BtrfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(loop_.ok()) << loop_.error();
    Open();
  }
  void Open() {
    sn_.reset();
    auto s = BtrfsSnapshotter::Open(root(), {.sync_metadata = false});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    sn_ = *s;
  }
  std::string root() const { return loop_.Join("root"); }
  std::string At(const std::string& rel) const { return root() + "/" + rel; }
  std::string Subvolid(const std::string& rel) const {
    auto id = SubvolumeId(At(rel));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return "subvolid=" + std::to_string(id.ok() ? *id : 0);
  }

  // Destroyed last: unmounts and detaches whatever a test left behind.
  test::BtrfsLoop loop_;
  std::shared_ptr<BtrfsSnapshotter> sn_;
};

TEST_F(BtrfsTest, MountsAreContainerds) {
  EXPECT_EQ(sn_->device(), loop_.device());
  auto a = sn_->Prepare("a", "", {});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, (std::vector<Mount>{{"btrfs", loop_.device(), "", {Subvolid("active/1")}}}));
  auto v = sn_->View("v", "", {});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, (std::vector<Mount>{{"btrfs", loop_.device(), "", {Subvolid("view/2"), "ro"}}}));
  ASSERT_TRUE(sn_->Commit("base", "a", {}).ok());
  auto v1 = sn_->View("v1", "base", {});
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(*v1, (std::vector<Mount>{{"btrfs", loop_.device(), "", {Subvolid("view/3"), "ro"}}}));
  auto b = sn_->Prepare("b", "base", {});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (std::vector<Mount>{{"btrfs", loop_.device(), "", {Subvolid("active/4")}}}));
  EXPECT_EQ(*sn_->Mounts("b"), *b);
  EXPECT_NE(Subvolid("active/4"), Subvolid("snapshots/1"));
}

TEST_F(BtrfsTest, LayoutIsContainerds) {
  auto mode = [](const std::string& p) {
    struct stat st {};
    EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  };
  EXPECT_EQ(mode(root()), 0700u);
  for (const char* dir : {"active", "view", "snapshots"}) EXPECT_EQ(mode(At(dir)), 0755u);
  EXPECT_TRUE(fs::exists(At("metadata.db")));

  ASSERT_TRUE(sn_->Prepare("a", "", {}).ok());
  ASSERT_TRUE(IsSubvolume(At("active/1")));
  ASSERT_TRUE(Put(At("active/1/f"), "base"));
  ASSERT_TRUE(sn_->Commit("base", "a", {}).ok());
  EXPECT_FALSE(fs::exists(At("active/1")));
  ASSERT_TRUE(IsSubvolume(At("snapshots/1")));
  EXPECT_FALSE(Writable(At("snapshots/1")));
  EXPECT_EQ(Slurp(At("snapshots/1/f")), "base");

  ASSERT_TRUE(sn_->Prepare("b", "base", {}).ok());
  ASSERT_TRUE(IsSubvolume(At("active/2")));
  EXPECT_TRUE(Writable(At("active/2")));
  EXPECT_EQ(Slurp(At("active/2/f")), "base");
  ASSERT_TRUE(sn_->View("v", "base", {}).ok());
  ASSERT_TRUE(IsSubvolume(At("view/3")));
  EXPECT_FALSE(Writable(At("view/3")));
  // A view without a parent is an empty subvolume, read-only by its mount.
  ASSERT_TRUE(sn_->View("empty", "", {}).ok());
  ASSERT_TRUE(IsSubvolume(At("view/4")));
  EXPECT_TRUE(fs::is_empty(At("view/4")));
}

TEST_F(BtrfsTest, RemoveDeletesAndCleanupCollectsWhatACrashLeaves) {
  ASSERT_TRUE(sn_->Prepare("a", "", {}).ok());
  ASSERT_TRUE(sn_->Commit("base", "a", {}).ok());      // snapshots/1
  ASSERT_TRUE(sn_->Prepare("b", "base", {}).ok());     // active/2
  ASSERT_TRUE(sn_->View("v", "base", {}).ok());        // view/3
  ASSERT_TRUE(sn_->Prepare("gone", "base", {}).ok());  // active/4
  ASSERT_TRUE(sn_->Remove("v").ok());
  ASSERT_TRUE(sn_->Remove("gone").ok());
  EXPECT_TRUE(fs::is_empty(At("view")));
  EXPECT_EQ(Names(At("active")), (std::set<std::string>{"2"}));

  // What a crash may leave: a subvolume made before its record was written,
  // one renamed for removal but not deleted, a commit's snapshot whose record
  // still says active, an active subvolume whose commit was recorded, and
  // something that is no subvolume at all.
  ASSERT_TRUE(CreateSubvolume(At("active/77")).ok());
  ASSERT_TRUE(CreateSnapshot(At("snapshots/1"), At("snapshots/rm-9"), true).ok());
  ASSERT_TRUE(CreateSnapshot(At("active/2"), At("snapshots/2"), true).ok());
  ASSERT_TRUE(CreateSnapshot(At("snapshots/1"), At("active/1"), false).ok());
  fs::create_directories(At("view/junk/deep"));
  ASSERT_TRUE(sn_->Cleanup().ok());
  EXPECT_EQ(Names(At("active")), (std::set<std::string>{"2"}));
  EXPECT_TRUE(fs::is_empty(At("view")));
  EXPECT_EQ(Names(At("snapshots")), (std::set<std::string>{"1"}));
  // What is recorded still works.
  EXPECT_TRUE(sn_->Mounts("b").ok());
  ASSERT_TRUE(sn_->Commit("top", "b", {}).ok());
  EXPECT_EQ(Names(At("snapshots")), (std::set<std::string>{"1", "2"}));
  EXPECT_TRUE(fs::is_empty(At("active")));
}

TEST_F(BtrfsTest, CreateReplacesSubvolumeLeftBeforeItsRecord) {
  // A crash between creating the subvolume and writing its record leaves
  // "active/1" with the id counter still at 0: the next Prepare gets id 1.
  ASSERT_TRUE(CreateSubvolume(At("active/1")).ok());
  ASSERT_TRUE(Put(At("active/1/leftover"), "x"));
  ASSERT_TRUE(sn_->Prepare("a", "", {}).ok());
  EXPECT_TRUE(IsSubvolume(At("active/1")));
  EXPECT_FALSE(fs::exists(At("active/1/leftover")));
}

TEST_F(BtrfsTest, CommitReplacesSnapshotLeftBeforeItsRecord) {
  ASSERT_TRUE(sn_->Prepare("a", "", {}).ok());
  ASSERT_TRUE(Put(At("active/1/real"), "r"));
  ASSERT_TRUE(CreateSubvolume(At("snapshots/1")).ok());
  ASSERT_TRUE(Put(At("snapshots/1/stale"), "s"));
  ASSERT_TRUE(sn_->Commit("c", "a", {}).ok());
  EXPECT_EQ(Slurp(At("snapshots/1/real")), "r");
  EXPECT_FALSE(fs::exists(At("snapshots/1/stale")));
}

TEST_F(BtrfsTest, RemovingAMountedSnapshotIsFinishedByCleanup) {
  auto v = sn_->View("v", "", {});
  ASSERT_TRUE(v.ok());
  const std::string mnt = loop_.Join("mnt-v");
  fs::create_directories(mnt);
  ASSERT_TRUE(MountAll(*v, mnt).ok());
  EXPECT_TRUE(sn_->Remove("v").ok());
  EXPECT_EQ(sn_->Stat("v").status().code(), Code::kNotFound);
  ASSERT_TRUE(UnmountAll(mnt).ok());
  ASSERT_TRUE(sn_->Cleanup().ok());
  EXPECT_TRUE(fs::is_empty(At("view")));
}

TEST_F(BtrfsTest, UsageFromQuotaGroupsWhenEnabled) {
  ASSERT_TRUE(sn_->Prepare("a", "", {}).ok());
  auto off = QgroupExclusiveBytes(At("active/1"));
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_FALSE(off->has_value());

  for (const auto& argv : {std::vector<std::string>{"btrfs", "quota", "enable", root()},
                           std::vector<std::string>{"btrfs", "quota", "rescan", "-w", root()}}) {
    test::CommandResult r = test::RunCommand(argv);
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
  }
  ASSERT_TRUE(Put(At("active/1/blob"), std::string(4 << 20, 'q')));
  auto exclusive = QgroupExclusiveBytes(At("active/1"));
  ASSERT_TRUE(exclusive.ok()) << exclusive.status().ToString();
  ASSERT_TRUE(exclusive->has_value());
  EXPECT_GE(**exclusive, 4 << 20);
  auto usage = sn_->Usage("a");
  ASSERT_TRUE(usage.ok()) << usage.status().ToString();
  EXPECT_EQ(usage->size, **exclusive);
  EXPECT_EQ(usage->inodes, 2);  // the subvolume's top folder and the blob
  ASSERT_TRUE(sn_->Commit("c", "a", {}).ok());
  EXPECT_EQ(sn_->Usage("c")->size, usage->size);

  // A child shares its parent's extents: only what it writes is its own.
  ASSERT_TRUE(sn_->Prepare("child", "c", {}).ok());
  ASSERT_TRUE(Put(At("active/2/more"), std::string(1 << 20, 'm')));
  auto child = sn_->Usage("child");
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  EXPECT_GE(child->size, 1 << 20);
  EXPECT_LT(child->size, 4 << 20);
}

TEST(BtrfsSkipTest, RootNotOnBtrfsSkipsWithContainerdsMessage) {
  char tmpl[] = "/var/tmp/berth-btrfs-skip.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = std::string(tmpl) + "/root";
  auto where = LookupMount(tmpl);
  ASSERT_TRUE(where.ok()) << where.status().ToString();
  ASSERT_NE(where->fstype, "btrfs") << "/var/tmp is on btrfs: nothing to skip";
  auto s = BtrfsSnapshotter::Open(root);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kSkipPlugin);
  EXPECT_EQ(s.status().ToString(),
            "path " + root + " (" + where->fstype +
                ") must be a btrfs filesystem to be used with the btrfs snapshotter: skip plugin");
  std::error_code ec;
  fs::remove_all(tmpl, ec);
}

TEST(BtrfsFsTest, LookupMountFindsTheLoopDevice) {
  test::BtrfsLoop loop;
  ASSERT_TRUE(loop.ok()) << loop.error();
  fs::create_directories(loop.Join("a/b"));
  auto m = LookupMount(loop.Join("a/b"));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->fstype, "btrfs");
  EXPECT_EQ(m->source, loop.device());
  EXPECT_EQ(m->mount_point, loop.mount_point());
  EXPECT_EQ(LookupMount(loop.Join("missing")).status().code(), Code::kUnknown);
}

// The conformance suite on btrfs: each test gets a filesystem of its own.
class LoopScratch final : public test::Scratch {
 public:
  LoopScratch() {
    if (!loop_.ok()) return;
    path_ = loop_.Join("scratch");
    if (mkdir(path_.c_str(), 0755) != 0) error_ = "mkdir " + path_ + ": " + strerror(errno);
  }
  // Empty when the scratch folder is ready.
  std::string error() const { return loop_.ok() ? error_ : loop_.error(); }
  const std::string& path() const override { return path_; }

 private:
  test::BtrfsLoop loop_;
  std::string path_;
  std::string error_;
};

test::SnapshotterFactory BtrfsFactory() {
  return {"btrfs",
          []() -> Result<std::unique_ptr<test::Scratch>> {
            auto scratch = std::make_unique<LoopScratch>();
            if (!scratch->error().empty()) return Status::Unknown(scratch->error());
            return std::unique_ptr<test::Scratch>(std::move(scratch));
          },
          [](const std::string& root) -> Result<std::shared_ptr<Snapshotter>> {
            auto sn = BtrfsSnapshotter::Open(root, {.sync_metadata = false});
            if (!sn.ok()) return sn.status();
            return std::shared_ptr<Snapshotter>(*sn);
          }};
}

INSTANTIATE_TEST_SUITE_P(Btrfs, SnapshotterConformance, ::testing::Values(BtrfsFactory()),
                         test::FactoryName);

}  // namespace
}  // namespace berth::btrfs
