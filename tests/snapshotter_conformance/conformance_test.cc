// The conformance tests (see conformance.h), with real mounts.
#include "conformance.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>
#include <vector>

#include "berth/mount.h"
#include "btrfs_loop.h"

namespace berth::test {
namespace {

namespace fs = std::filesystem;
using snapshots::Kind;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool Put(const fs::path& p, const std::string& s) {
  std::ofstream out(p);
  out << s;
  out.close();
  return out.good();
}

// A snapshot's mounts applied on a fresh folder; unmounted on destruction.
class Mounted {
 public:
  Mounted(const std::vector<Mount>& mounts, const fs::path& where) : where_(where) {
    fs::create_directories(where_);
    status_ =
        mounts.empty() ? Status::InvalidArgument("no mounts") : MountAll(mounts, where_.string());
  }
  ~Mounted() {
    Status s = UnmountAll(where_.string());
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::error_code ec;
    fs::remove(where_, ec);
  }
  const Status& status() const { return status_; }
  fs::path operator/(const std::string& p) const { return where_ / p; }
  const fs::path& path() const { return where_; }

 private:
  fs::path where_;
  Status status_;
};

class FolderScratch final : public Scratch {
 public:
  explicit FolderScratch(std::string path) : path_(std::move(path)) {}
  ~FolderScratch() override {
    EXPECT_TRUE(DetachMountsUnder(path_)) << "mounts remain under " << path_;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
};

std::set<std::string> Names(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename());
  return names;
}

}  // namespace

std::unique_ptr<Scratch> MakeFolderScratch(const std::string& base) {
  std::string tmpl = base + "/berth-conformance-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return nullptr;
  return std::make_unique<FolderScratch>(tmpl);
}

std::string FactoryName(const ::testing::TestParamInfo<SnapshotterFactory>& info) {
  return info.param.name;
}

void PrintTo(const SnapshotterFactory& factory, std::ostream* os) { *os << factory.name; }

void SnapshotterConformance::SetUp() {
  auto scratch = GetParam().make_scratch();
  ASSERT_TRUE(scratch.ok()) << scratch.status().ToString();
  ASSERT_TRUE(*scratch != nullptr);
  scratch_ = std::move(*scratch);
  Open();
}

void SnapshotterConformance::TearDown() {
  if (sn_) {
    EXPECT_TRUE(sn_->Close().ok());
  }
  sn_.reset();
  if (scratch_) {
    EXPECT_TRUE(DetachMountsUnder(scratch_->path() + "/mnt"));
  }
  scratch_.reset();
}

void SnapshotterConformance::Open() {
  if (sn_) {
    EXPECT_TRUE(sn_->Close().ok());
  }
  sn_.reset();
  auto s = GetParam().open(root());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  sn_ = *s;
}

std::string SnapshotterConformance::root() const { return scratch_->path() + "/root"; }

std::string SnapshotterConformance::MountPoint(const std::string& name) const {
  return scratch_->path() + "/mnt/" + name;
}

namespace {

// Prepares `name`-active over `parent`, lets `fill` write through a real
// mount, and commits it as `name`.
void Layer(Snapshotter& sn, const std::string& mnt, const std::string& name,
           const std::string& parent, const std::function<void(const Mounted&)>& fill) {
  auto m = sn.Prepare(name + "-active", parent, {});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  {
    Mounted mounted(*m, mnt);
    ASSERT_TRUE(mounted.status().ok()) << mounted.status().ToString();
    fill(mounted);
  }
  Status c = sn.Commit(name, name + "-active", {});
  ASSERT_TRUE(c.ok()) << c.ToString();
}

#define LAYER(name, parent, fill) \
  ASSERT_NO_FATAL_FAILURE(Layer(*sn_, MountPoint(name), name, parent, fill))

TEST_P(SnapshotterConformance, MountsAnswerForActiveSnapshotsAndViewsOnly) {
  auto a = sn_->Prepare("a", "", {});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_FALSE(a->empty());
  EXPECT_EQ(*sn_->Mounts("a"), *a);
  auto v = sn_->View("v", "", {});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*sn_->Mounts("v"), *v);
  ASSERT_TRUE(sn_->Commit("base", "a", {}).ok());
  EXPECT_EQ(sn_->Mounts("base").status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(sn_->Mounts("a").status().code(), Code::kNotFound);
  EXPECT_EQ(sn_->Mounts("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(sn_->Stat("a").status().code(), Code::kNotFound);
  auto base = sn_->Stat("base");
  ASSERT_TRUE(base.ok());
  EXPECT_EQ(base->kind, Kind::kCommitted);
  EXPECT_EQ(base->parent, "");
  ASSERT_TRUE(sn_->Prepare("b", "base", {}).ok());
  auto b = sn_->Stat("b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->kind, Kind::kActive);
  EXPECT_EQ(b->parent, "base");
  EXPECT_EQ(sn_->Stat("v")->kind, Kind::kView);
}

TEST_P(SnapshotterConformance, ContentFlowsThroughLayers) {
  LAYER("l1", "", [](const Mounted& m) {
    ASSERT_TRUE(Put(m / "f1", "one"));
    fs::create_directory(m / "d");
    ASSERT_TRUE(Put(m / "d/x", "x"));
    ASSERT_TRUE(Put(m / "gone", "g"));
  });
  LAYER("l2", "l1", [](const Mounted& m) {
    EXPECT_EQ(Slurp(m / "f1"), "one");  // lower file visible above
    fs::remove(m / "gone");             // deleted over a lower layer
    fs::rename(m / "d/x", m / "y");     // renamed across layers
    ASSERT_TRUE(Put(m / "f1", "two"));
  });
  auto v = sn_->View("view", "l2", {});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  Mounted m(*v, MountPoint("view"));
  ASSERT_TRUE(m.status().ok()) << m.status().ToString();
  EXPECT_EQ(Slurp(m / "f1"), "two");
  EXPECT_FALSE(fs::exists(m / "gone"));
  EXPECT_FALSE(fs::exists(m / "d/x"));
  EXPECT_EQ(Slurp(m / "y"), "x");
  // The lower layer itself is untouched.
  auto lv = sn_->View("lower", "l1", {});
  ASSERT_TRUE(lv.ok()) << lv.status().ToString();
  Mounted lower(*lv, MountPoint("lower"));
  ASSERT_TRUE(lower.status().ok()) << lower.status().ToString();
  EXPECT_EQ(Slurp(lower / "f1"), "one");
  EXPECT_EQ(Slurp(lower / "gone"), "g");
  EXPECT_EQ(Slurp(lower / "d/x"), "x");
}

TEST_P(SnapshotterConformance, ChainOfLayers) {
  constexpr int kLayers = 24;
  std::string parent;
  for (int i = 1; i <= kLayers; ++i) {
    const std::string name = "layer" + std::to_string(i);
    LAYER(name, parent, [i](const Mounted& m) {
      ASSERT_TRUE(Put(m / ("f" + std::to_string(i)), std::to_string(i)));
    });
    parent = name;
  }
  auto top = sn_->Prepare("top", parent, {});
  ASSERT_TRUE(top.ok()) << top.status().ToString();
  Mounted m(*top, MountPoint("top"));
  ASSERT_TRUE(m.status().ok()) << m.status().ToString();
  for (int i = 1; i <= kLayers; ++i) {
    ASSERT_EQ(Slurp(m / ("f" + std::to_string(i))), std::to_string(i)) << i;
  }
  EXPECT_EQ(Names(m.path()).size(), static_cast<std::size_t>(kLayers));
  ASSERT_TRUE(Put(m / "new", "n"));
  EXPECT_EQ(Slurp(m / "new"), "n");
}

TEST_P(SnapshotterConformance, ReadOnlyViewsRefuseWrites) {
  LAYER("l1", "", [](const Mounted& m) { ASSERT_TRUE(Put(m / "f", "1")); });
  LAYER("l2", "l1", [](const Mounted& m) { ASSERT_TRUE(Put(m / "g", "2")); });
  for (const std::string parent : {"l1", "l2", ""}) {
    const std::string key = "view-" + (parent.empty() ? std::string("none") : parent);
    auto v = sn_->View(key, parent, {});
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    Mounted m(*v, MountPoint(key));
    ASSERT_TRUE(m.status().ok()) << m.status().ToString();
    if (!parent.empty()) {
      EXPECT_EQ(Slurp(m / "f"), "1");
    }
    const int fd = open((m / "new").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    EXPECT_EQ(fd, -1) << key;
    EXPECT_EQ(errno, EROFS) << key;
    if (fd >= 0) close(fd);
  }
}

TEST_P(SnapshotterConformance, RulesAndErrors) {
  ASSERT_TRUE(sn_->Prepare("a", "", {}).ok());
  ASSERT_TRUE(sn_->View("v", "", {}).ok());
  EXPECT_EQ(sn_->Prepare("a", "", {}).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(sn_->View("v", "", {}).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(sn_->Prepare("x", "a", {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(sn_->Prepare("x", "v", {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(sn_->Prepare("x", "missing", {}).status().code(), Code::kNotFound);
  EXPECT_EQ(sn_->Commit("c", "v", {}).code(), Code::kFailedPrecondition);
  EXPECT_EQ(sn_->Commit("c", "missing", {}).code(), Code::kNotFound);
  ASSERT_TRUE(sn_->Commit("c", "a", {}).ok());
  EXPECT_EQ(sn_->Commit("c2", "c", {}).code(), Code::kFailedPrecondition);
  ASSERT_TRUE(sn_->Prepare("a2", "", {}).ok());
  EXPECT_EQ(sn_->Commit("c", "a2", {}).code(), Code::kAlreadyExists);
  EXPECT_TRUE(sn_->Stat("a2").ok());  // a refused commit leaves the key active
  ASSERT_TRUE(sn_->Prepare("child", "c", {}).ok());
  EXPECT_EQ(sn_->Remove("c").code(), Code::kFailedPrecondition);
  EXPECT_EQ(sn_->Remove("nope").code(), Code::kNotFound);
  // The refused calls changed nothing.
  std::set<std::string> names;
  ASSERT_TRUE(sn_->Walk(
                     [&](const snapshots::Info& i) {
                       names.insert(i.name);
                       return Status::Ok();
                     },
                     {})
                  .ok());
  EXPECT_EQ(names, (std::set<std::string>{"a2", "c", "child", "v"}));
}

TEST_P(SnapshotterConformance, RemoveAndCleanupKeepWhatIsRecorded) {
  LAYER("base", "", [](const Mounted& m) { ASSERT_TRUE(Put(m / "kept", "k")); });
  ASSERT_TRUE(sn_->Prepare("b", "base", {}).ok());
  ASSERT_TRUE(sn_->View("v", "base", {}).ok());
  ASSERT_TRUE(sn_->Prepare("c", "base", {}).ok());
  ASSERT_TRUE(sn_->Remove("v").ok());
  ASSERT_TRUE(sn_->Remove("b").ok());
  EXPECT_EQ(sn_->Stat("b").status().code(), Code::kNotFound);
  EXPECT_EQ(sn_->Mounts("v").status().code(), Code::kNotFound);
  ASSERT_TRUE(sn_->Cleanup().ok());
  ASSERT_TRUE(sn_->Cleanup().ok());  // nothing left to do is fine too
  // A removed key can be used again.
  ASSERT_TRUE(sn_->Prepare("b", "base", {}).ok());
  ASSERT_NO_FATAL_FAILURE(Open());
  ASSERT_TRUE(sn_->Cleanup().ok());
  for (const std::string key : {"b", "c"}) {
    auto mounts = sn_->Mounts(key);
    ASSERT_TRUE(mounts.ok()) << mounts.status().ToString();
    Mounted m(*mounts, MountPoint(key));
    ASSERT_TRUE(m.status().ok()) << m.status().ToString();
    EXPECT_EQ(Slurp(m / "kept"), "k");
    EXPECT_TRUE(Put(m / "mine", key));
  }
  ASSERT_TRUE(sn_->Remove("b").ok());
  ASSERT_TRUE(sn_->Remove("c").ok());
  ASSERT_TRUE(sn_->Remove("base").ok());
  ASSERT_TRUE(sn_->Cleanup().ok());
  int left = 0;
  ASSERT_TRUE(sn_->Walk(
                     [&](const snapshots::Info&) {
                       ++left;
                       return Status::Ok();
                     },
                     {})
                  .ok());
  EXPECT_EQ(left, 0);
}

TEST_P(SnapshotterConformance, UsageMeasuredWhileActiveRecordedAtCommit) {
  auto a = sn_->Prepare("a", "", {});
  ASSERT_TRUE(a.ok());
  auto before = sn_->Usage("a");
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  {
    Mounted m(*a, MountPoint("a"));
    ASSERT_TRUE(m.status().ok()) << m.status().ToString();
    ASSERT_TRUE(Put(m / "blob", std::string(1 << 20, 'z')));
  }
  auto after = sn_->Usage("a");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_GE(after->size - before->size, 1 << 20);
  EXPECT_EQ(after->inodes, before->inodes + 1);
  ASSERT_TRUE(sn_->Commit("c", "a", {}).ok());
  auto committed = sn_->Usage("c");
  ASSERT_TRUE(committed.ok());
  EXPECT_GE(committed->size, 1 << 20);
  EXPECT_EQ(committed->inodes, after->inodes);

  // A child counts what it adds, not what its parent holds.
  auto child = sn_->Prepare("child", "c", {});
  ASSERT_TRUE(child.ok());
  {
    Mounted m(*child, MountPoint("child"));
    ASSERT_TRUE(m.status().ok()) << m.status().ToString();
    ASSERT_TRUE(Put(m / "small", std::string(256 << 10, 's')));
  }
  auto own = sn_->Usage("child");
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_GE(own->size, 256 << 10);
  EXPECT_LT(own->size, 1 << 20);
  EXPECT_GE(own->inodes, 1);
  EXPECT_LE(own->inodes, 2);  // the new file, and the changed top folder
  auto view = sn_->View("view", "c", {});
  ASSERT_TRUE(view.ok());
  auto view_usage = sn_->Usage("view");
  ASSERT_TRUE(view_usage.ok());
  EXPECT_EQ(view_usage->size, 0);
  EXPECT_EQ(sn_->Usage("nope").status().code(), Code::kNotFound);
}

TEST_P(SnapshotterConformance, LabelsUpdateWalkFiltersAndReopen) {
  ASSERT_TRUE(sn_->Prepare("a", "", {{"containerd.io/snapshot/x", "1"}}).ok());
  ASSERT_TRUE(sn_->Commit("base", "a", {{"containerd.io/snapshot/y", "2"}}).ok());
  ASSERT_TRUE(sn_->Prepare("b", "base", {}).ok());
  EXPECT_EQ(sn_->Stat("base")->labels.at("containerd.io/snapshot/y"), "2");
  snapshots::Info update;
  update.name = "b";
  update.labels = {{"k", "v"}};
  auto u = sn_->Update(update, {"labels.k"});
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->labels.at("k"), "v");
  update.name = "missing";
  EXPECT_EQ(sn_->Update(update, {"labels.k"}).status().code(), Code::kNotFound);
  update.name = "b";
  EXPECT_EQ(sn_->Update(update, {"kind"}).status().code(), Code::kInvalidArgument);

  ASSERT_NO_FATAL_FAILURE(Open());
  auto walk = [&](const std::vector<std::string>& filters) {
    std::vector<std::string> seen;
    Status s = sn_->Walk(
        [&](const snapshots::Info& i) {
          seen.push_back(i.name);
          return Status::Ok();
        },
        filters);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return seen;
  };
  EXPECT_EQ(walk({}), (std::vector<std::string>{"b", "base"}));
  EXPECT_EQ(walk({"labels.k==v"}), (std::vector<std::string>{"b"}));
  EXPECT_EQ(walk({"kind==committed"}), (std::vector<std::string>{"base"}));
  EXPECT_EQ(walk({"parent==base", "name==base"}), (std::vector<std::string>{"b", "base"}));
  EXPECT_EQ(sn_->Walk([](const snapshots::Info&) { return Status::Ok(); }, {"name=="}).code(),
            Code::kInvalidArgument);
  auto b = sn_->Stat("b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->labels.at("k"), "v");
  EXPECT_EQ(b->parent, "base");
  EXPECT_GE(b->updated, b->created);
}

TEST_P(SnapshotterConformance, ConcurrentSequencesOnDistinctKeys) {
  LAYER("base", "", [](const Mounted& m) { ASSERT_TRUE(Put(m / "f", "base")); });
  constexpr int kThreads = 4;
  constexpr int kRounds = 8;
  std::atomic<int> failures{0};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const std::string k = "t" + std::to_string(t) + "-" + std::to_string(i);
        Status s = sn_->Prepare(k + "-a", "base", {}).status();
        if (s.ok()) s = sn_->Commit(k, k + "-a", {});
        if (s.ok()) s = sn_->View(k + "-v", k, {}).status();
        if (s.ok()) s = sn_->Remove(k + "-v");
        if (s.ok()) s = sn_->Remove(k);
        if (!s.ok()) {
          errors[t] = k + ": " + s.ToString();
          failures.fetch_add(1);
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0) << errors[0] << errors[1] << errors[2] << errors[3];
  ASSERT_TRUE(sn_->Cleanup().ok());
  std::vector<std::string> left;
  ASSERT_TRUE(sn_->Walk(
                     [&](const snapshots::Info& i) {
                       left.push_back(i.name);
                       return Status::Ok();
                     },
                     {})
                  .ok());
  EXPECT_EQ(left, (std::vector<std::string>{"base"}));
}

}  // namespace
}  // namespace berth::test
