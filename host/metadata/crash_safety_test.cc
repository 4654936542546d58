// Crash safety of the namespaced snapshotter's and content store's two-store
// changes (snapshots.h and content.h, "Crash safety"): a fake crash at each
// failpoint (failpoint.h; the handler throws, so nothing after the point
// runs, as with _exit), then what a restart does (Recover, then Cleanup or a
// collection), then the state must be exactly the one before the call or the
// one after it, with the repair logged. Over the real overlay and
// content-local plugins.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "berth/digest.h"
#include "metadata/failpoint.h"
#include "metadata/intents.h"
#include "metadata/test_env.h"

namespace berth::host::metadata {
namespace {

namespace fs = std::filesystem;
using snapshots::Kind;

struct FakeCrash {
  std::string where;
};

// Makes failpoint `name` throw FakeCrash for the scope.
class CrashAt {
 public:
  explicit CrashAt(std::string name) {
    failpoint::SetHandlerForTesting([name = std::move(name)](std::string_view at) {
      if (at == name) throw FakeCrash{std::string(at)};
    });
  }
  ~CrashAt() { failpoint::SetHandlerForTesting({}); }
  CrashAt(const CrashAt&) = delete;
  CrashAt& operator=(const CrashAt&) = delete;
};

// The folders a snapshot's mounts show: a bind mount's source, an overlay's
// upperdir (first) and lowerdirs.
std::vector<std::string> MountDirs(const std::vector<Mount>& mounts) {
  std::vector<std::string> dirs;
  for (const Mount& m : mounts) {
    if (m.type == "bind") dirs.push_back(m.source);
    for (const std::string& o : m.options) {
      if (o.rfind("upperdir=", 0) == 0) dirs.insert(dirs.begin(), o.substr(9));
      if (o.rfind("lowerdir=", 0) == 0) {
        std::stringstream lowers(o.substr(9));
        for (std::string d; std::getline(lowers, d, ':');) dirs.push_back(d);
      }
    }
  }
  return dirs;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class CrashSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(env_.ok()) << env_.failure();
    ASSERT_TRUE(log_.ok());
  }

  NamespacedSnapshotter& sn() { return env_.overlay(); }

  // What the next start does before serving (plugin.cc): recover, then clean
  // up; and a first collection.
  void Restart() {
    failpoint::SetHandlerForTesting({});
    ASSERT_TRUE(env_.content().Recover().ok());
    ASSERT_TRUE(sn().Recover().ok());
    ASSERT_TRUE(sn().Cleanup().ok());
    env_.Collect();
  }
  std::size_t Intents() {
    std::size_t n = 0;
    EXPECT_TRUE(env_.db()
                    .Scan(keys::kIntentsRoot,
                          [&](std::string_view, std::string_view) {
                            ++n;
                            return true;
                          })
                    .ok());
    return n;
  }
  std::string Log() const { return log_.Text(); }

  // "base" committed; "a" active over it, with a file in its upper folder.
  void PrepareWithData() {
    env_.Layer("ns", "base", "", {{"containerd.io/gc.root", "x"}});
    auto mounts = sn().Prepare("ns", "a", "base", {{"containerd.io/gc.root", "x"}});
    ASSERT_TRUE(mounts.ok()) << mounts.status().ToString();
    auto dirs = MountDirs(*mounts);
    ASSERT_FALSE(dirs.empty());
    std::ofstream(dirs.front() + "/data.txt") << "precious";
  }
  // Whether the snapshot's mounts show data.txt with its content.
  bool HasData(const std::string& key) {
    auto info = sn().Stat("ns", key);
    if (!info.ok()) return false;
    std::vector<Mount> mounts;
    if (info->kind == Kind::kCommitted) {
      auto view = sn().View("ns", key + "-probe", key, {});
      if (!view.ok()) return false;
      mounts = *view;
    } else {
      auto m = sn().Mounts("ns", key);
      if (!m.ok()) return false;
      mounts = *m;
    }
    for (const std::string& dir : MountDirs(mounts)) {
      if (ReadAll(dir + "/data.txt") == "precious") return true;
    }
    return false;
  }

  host::testing::TempDir log_dir_;
  host::testing::LogCapture log_{log_dir_};
  testing::MetadataTestEnv env_;
};

TEST(IntentTest, EncodesAndDecodesEveryField) {
  Intent in;
  in.op = std::string(Intent::kCommit);
  in.ns = "ns";
  in.key = "a/b";
  in.name = "c";
  in.parent = "p";
  in.old_backend_key = "ns/1/a/b";
  in.new_backend_key = "ns/2/c";
  in.digest = "sha256:00";
  in.size = (std::int64_t{1} << 60) + 1;  // beyond a double's precision
  in.lease = "l";
  in.labels = {{"k", "v"}, {"e", ""}};
  in.created_ns = 1234567890123456789;
  auto out = DecodeIntent(EncodeIntent(in));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->op, in.op);
  EXPECT_EQ(out->ns, in.ns);
  EXPECT_EQ(out->key, in.key);
  EXPECT_EQ(out->name, in.name);
  EXPECT_EQ(out->parent, in.parent);
  EXPECT_EQ(out->old_backend_key, in.old_backend_key);
  EXPECT_EQ(out->new_backend_key, in.new_backend_key);
  EXPECT_EQ(out->digest, in.digest);
  EXPECT_EQ(out->size, in.size);
  EXPECT_EQ(out->lease, in.lease);
  EXPECT_EQ(out->labels, in.labels);
  EXPECT_EQ(out->created_ns, in.created_ns);
  EXPECT_TRUE(DecodeIntent("\xff\xff").status().Is(Code::kUnknown));
}

// --- Commit ---

TEST_F(CrashSafetyTest, CommitKilledBeforeTheBackendKeepsTheActiveSnapshot) {
  PrepareWithData();
  {
    CrashAt crash("snapshot-commit-after-intent");
    EXPECT_THROW((void)sn().Commit("ns", "c", "a", {{"containerd.io/gc.root", "x"}}), FakeCrash);
  }
  EXPECT_EQ(Intents(), 1u);
  Restart();
  EXPECT_EQ(Intents(), 0u);
  auto a = sn().Stat("ns", "a");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->kind, Kind::kActive);
  EXPECT_TRUE(sn().Stat("ns", "c").status().Is(Code::kNotFound));
  EXPECT_TRUE(HasData("a"));
  EXPECT_EQ(env_.BackendSnapshots(), 2u);  // base, a
  EXPECT_NE(Log().find("rolled back: the backend had not committed"), std::string::npos)
      << Log();
  // And the commit can be made again.
  ASSERT_TRUE(sn().Commit("ns", "c", "a", {{"containerd.io/gc.root", "x"}}).ok());
  EXPECT_TRUE(HasData("c"));
}

TEST_F(CrashSafetyTest, CommitKilledAfterTheBackendRollsForward) {
  PrepareWithData();
  ASSERT_TRUE(env_.md().CreateLease("ns", "lease-1", {}).ok());
  {
    CrashAt crash("snapshot-commit-after-backend");
    EXPECT_THROW(
        (void)sn().Commit("ns", "c", "a", {{"containerd.io/gc.root", "x"}, {"user", "1"}},
                          "lease-1"),
        FakeCrash);
  }
  Restart();
  EXPECT_EQ(Intents(), 0u);
  EXPECT_TRUE(sn().Stat("ns", "a").status().Is(Code::kNotFound));
  auto c = sn().Stat("ns", "c");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kind, Kind::kCommitted);
  EXPECT_EQ(c->parent, "base");
  EXPECT_EQ(c->labels.at("user"), "1");
  EXPECT_TRUE(HasData("c"));
  // The children index and the lease followed.
  EXPECT_TRUE(sn().Remove("ns", "base").Is(Code::kFailedPrecondition));
  auto held = env_.md().ListLeaseResources("ns", "lease-1");
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ(held->front().id, "c");
  EXPECT_NE(Log().find("rolled forward: recorded the committed snapshot"), std::string::npos)
      << Log();
  EXPECT_NE(Log().find("name=c"), std::string::npos) << Log();
}

TEST_F(CrashSafetyTest, CommitKilledAfterTheRecordNeedsNoRepair) {
  PrepareWithData();
  {
    CrashAt crash("snapshot-commit-after-record");
    EXPECT_THROW((void)sn().Commit("ns", "c", "a", {{"containerd.io/gc.root", "x"}}), FakeCrash);
  }
  EXPECT_EQ(Intents(), 0u);
  Restart();
  EXPECT_TRUE(HasData("c"));
  EXPECT_TRUE(sn().Stat("ns", "a").status().Is(Code::kNotFound));
  EXPECT_EQ(Log().find("repaired"), std::string::npos) << Log();
}

// --- Prepare and View ---

TEST_F(CrashSafetyTest, PrepareKilledAtEitherGapRollsBack) {
  for (const char* point : {"snapshot-prepare-after-intent", "snapshot-prepare-after-backend"}) {
    SCOPED_TRACE(point);
    const std::size_t before = env_.BackendSnapshots();
    {
      CrashAt crash(point);
      EXPECT_THROW((void)sn().Prepare("ns", "k", "", {}), FakeCrash);
    }
    Restart();
    EXPECT_EQ(Intents(), 0u);
    EXPECT_TRUE(sn().Stat("ns", "k").status().Is(Code::kNotFound));
    EXPECT_EQ(env_.BackendSnapshots(), before);
  }
  const std::string log = Log();
  EXPECT_NE(log.find("rolled back: the backend had not made the snapshot"), std::string::npos)
      << log;
  EXPECT_NE(log.find("rolled back: removed the backend snapshot made for it"), std::string::npos)
      << log;
  // The key is free again.
  EXPECT_TRUE(sn().Prepare("ns", "k", "", {}).ok());
}

TEST_F(CrashSafetyTest, ViewKilledAfterTheBackendRollsBack) {
  env_.Layer("ns", "base", "", {{"containerd.io/gc.root", "x"}});
  {
    CrashAt crash("snapshot-prepare-after-backend");
    EXPECT_THROW((void)sn().View("ns", "v", "base", {}), FakeCrash);
  }
  Restart();
  EXPECT_TRUE(sn().Stat("ns", "v").status().Is(Code::kNotFound));
  EXPECT_EQ(env_.BackendSnapshots(), 1u);
  EXPECT_NE(Log().find("repaired an interrupted snapshot view"), std::string::npos) << Log();
}

TEST_F(CrashSafetyTest, PrepareKilledAfterTheRecordKeepsIt) {
  {
    CrashAt crash("snapshot-prepare-after-record");
    EXPECT_THROW((void)sn().Prepare("ns", "k", "", {{"containerd.io/gc.root", "x"}}), FakeCrash);
  }
  Restart();
  EXPECT_TRUE(sn().Stat("ns", "k").ok());
  EXPECT_EQ(env_.BackendSnapshots(), 1u);
}

// --- Remove (one batch; the backend goes at cleanup) ---

TEST_F(CrashSafetyTest, RemoveKilledBeforeOrAfterItsBatch) {
  ASSERT_TRUE(sn().Prepare("ns", "k", "", {{"containerd.io/gc.root", "x"}}).ok());
  {
    CrashAt crash("snapshot-remove-before-record");
    EXPECT_THROW((void)sn().Remove("ns", "k"), FakeCrash);
  }
  Restart();
  EXPECT_TRUE(sn().Stat("ns", "k").ok());
  EXPECT_EQ(env_.BackendSnapshots(), 1u);
  {
    CrashAt crash("snapshot-remove-after-record");
    EXPECT_THROW((void)sn().Remove("ns", "k"), FakeCrash);
  }
  Restart();
  EXPECT_TRUE(sn().Stat("ns", "k").status().Is(Code::kNotFound));
  EXPECT_EQ(env_.BackendSnapshots(), 0u);
}

// --- Cleanup while an intent is unresolved ---

TEST_F(CrashSafetyTest, CleanupRepairsAnIntentLeftByAFailedFinalWrite) {
  PrepareWithData();
  ASSERT_TRUE(env_.md().CreateLease("ns", "gone", {}).ok());
  ASSERT_TRUE(sn().Prepare("ns", "b", "base", {}, "gone").ok());
  // The lease disappears while the commit runs: its final write fails and
  // the intent stays in this (live) process.
  {
    bool deleted = false;
    failpoint::SetHandlerForTesting([&](std::string_view at) {
      if (at == "snapshot-commit-after-backend" && !deleted) {
        deleted = true;
        // From another thread, as a client would (this one holds the
        // collection lock shared).
        std::thread([&] { EXPECT_TRUE(env_.md().DeleteLease("ns", "gone").ok()); }).join();
      }
    });
    EXPECT_TRUE(sn().Commit("ns", "bc", "b", {{"containerd.io/gc.root", "x"}}, "gone")
                    .Is(Code::kNotFound));
    failpoint::SetHandlerForTesting({});
  }
  EXPECT_EQ(Intents(), 1u);
  ASSERT_TRUE(sn().Cleanup().ok());
  EXPECT_EQ(Intents(), 0u);
  auto bc = sn().Stat("ns", "bc");
  ASSERT_TRUE(bc.ok()) << bc.status().ToString();
  EXPECT_EQ(bc->kind, Kind::kCommitted);
  EXPECT_NE(Log().find("(its lease is gone)"), std::string::npos) << Log();
}

// --- Content commit ---

class ContentCrashTest : public CrashSafetyTest {
 protected:
  const std::string data_ = "content that must not be lost";
  const std::string digest_ = Sha256Of(data_);

  // Opens "ref-1" in "ns", writes data_ and commits with the failpoint
  // `point` crashing.
  void CommitCrashingAt(const char* point) {
    auto w = env_.content().Writer("ns", {"ref-1", static_cast<std::int64_t>(data_.size()), ""});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->Write(data_.data(), data_.size()).ok());
    CrashAt crash(point);
    EXPECT_THROW((void)(*w)->Commit(static_cast<std::int64_t>(data_.size()), digest_,
                                    {{"containerd.io/gc.root", "x"}}),
                 FakeCrash);
  }
  std::string Read() {
    auto r = env_.content().ReaderAt("ns", digest_);
    if (!r.ok()) return "";
    std::string buf(data_.size(), '\0');
    auto n = (*r)->ReadAt(buf.data(), buf.size(), 0);
    return n.ok() ? buf.substr(0, *n) : "";
  }
};

TEST_F(ContentCrashTest, KilledBeforeTheBackendKeepsTheIngest) {
  CommitCrashingAt("content-commit-after-intent");
  EXPECT_EQ(Intents(), 1u);
  Restart();
  EXPECT_EQ(Intents(), 0u);
  EXPECT_TRUE(env_.content().Info("ns", digest_).status().Is(Code::kNotFound));
  auto st = env_.content().GetStatus("ns", "ref-1");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->offset, static_cast<std::int64_t>(data_.size()));
  EXPECT_NE(Log().find("rolled back: the backend had not published the blob"), std::string::npos)
      << Log();
  // The ingest resumes and commits.
  auto w = env_.content().Writer("ns", {"ref-1", static_cast<std::int64_t>(data_.size()), ""});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->Offset(), static_cast<std::int64_t>(data_.size()));
  ASSERT_TRUE((*w)->Commit(static_cast<std::int64_t>(data_.size()), digest_, {}).ok());
  EXPECT_EQ(Read(), data_);
}

TEST_F(ContentCrashTest, KilledAfterTheBackendRollsForward) {
  CommitCrashingAt("content-commit-after-backend");
  Restart();
  EXPECT_EQ(Intents(), 0u);
  auto info = env_.content().Info("ns", digest_);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->size, static_cast<std::int64_t>(data_.size()));
  EXPECT_EQ(info->labels.at("containerd.io/gc.root"), "x");
  EXPECT_EQ(Read(), data_);
  EXPECT_TRUE(env_.BlobOnDisk(digest_));
  EXPECT_TRUE(env_.content().GetStatus("ns", "ref-1").status().Is(Code::kNotFound));
  EXPECT_EQ(env_.IngestsOnDisk(), 0u);
  EXPECT_NE(Log().find("rolled forward: recorded the blob the backend holds"), std::string::npos)
      << Log();
  EXPECT_NE(Log().find(digest_), std::string::npos) << Log();
}

TEST_F(ContentCrashTest, KilledAfterTheRecordNeedsNoRepair) {
  CommitCrashingAt("content-commit-after-record");
  EXPECT_EQ(Intents(), 0u);
  Restart();
  EXPECT_EQ(Read(), data_);
  EXPECT_EQ(Log().find("repaired"), std::string::npos) << Log();
}

}  // namespace
}  // namespace berth::host::metadata
