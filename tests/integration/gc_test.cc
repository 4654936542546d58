// Garbage collection and leases against a real berthd: the stock ctr's
// `leases` commands, berthctl's `leases`, `gc` and `--lease`, what a
// collection frees on disk, and a berthd killed (SIGKILL) while it collects.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "berth/digest.h"
#include "berth/services/gc/v1/gc.grpc.pb.h"
#include "berthd_process.h"
#include "containerd/services/content/v1/content.grpc.pb.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "daemon_test.h"
#include "fixtures.h"
#include "run_command.h"

namespace berth::test {
namespace {

namespace fs = std::filesystem;
namespace cpb = containerd::services::content::v1;
namespace spb = containerd::services::snapshots::v1;

constexpr char kUpperdirLabel[] = "containerd.io/snapshot/overlay.upperdir";
// Collections run only when a test asks, so that their figures are exact.
constexpr char kNoSchedulerConfig[] =
    "disabled_plugins = [\"io.containerd.gc.v1.scheduler\"]\n"
    "[plugins.\"io.containerd.snapshotter.v1.overlayfs\"]\n"
    "  upperdir_label = true\n";

// `berthctl gc` output: "name value" per line.
std::map<std::string, std::string> ParseGc(const std::string& out) {
  std::map<std::string, std::string> figures;
  for (const std::string& line : OutputLines(out)) {
    const std::size_t space = line.find(' ');
    if (space != std::string::npos) figures[line.substr(0, space)] = line.substr(space + 1);
  }
  return figures;
}

// Puts blobs and snapshots in over gRPC, one round trip each.
class Populator {
 public:
  explicit Populator(const std::string& socket) {
    auto channel = grpc::CreateChannel("unix://" + socket, grpc::InsecureChannelCredentials());
    content_ = cpb::Content::NewStub(channel);
    snapshots_ = spb::Snapshots::NewStub(channel);
    gc_ = ::berth::services::gc::v1::GC::NewStub(channel);
  }
  // Runs a collection; fails when the daemon dies meanwhile.
  grpc::Status Collect() {
    ::berth::services::gc::v1::CollectResponse resp;
    return gc_->Collect(NamespaceContext().get(), {}, &resp);
  }
  // Commits `data` as one request (labels as given).
  grpc::Status Blob(const std::string& data, const std::map<std::string, std::string>& labels) {
    auto ctx = NamespaceContext();
    auto stream = content_->Write(ctx.get());
    cpb::WriteContentRequest req;
    req.set_action(cpb::COMMIT);
    req.set_ref("pop-" + Sha256Of(data).substr(7, 16));
    req.set_total(static_cast<std::int64_t>(data.size()));
    req.set_expected(Sha256Of(data));
    req.set_data(data);
    for (const auto& [k, v] : labels) (*req.mutable_labels())[k] = v;
    cpb::WriteContentResponse resp;
    if (stream->Write(req)) stream->Read(&resp);
    stream->WritesDone();
    return stream->Finish();
  }
  grpc::Status Prepare(const std::string& key, const std::map<std::string, std::string>& labels) {
    spb::PrepareSnapshotRequest req;
    req.set_snapshotter("overlayfs");
    req.set_key(key);
    for (const auto& [k, v] : labels) (*req.mutable_labels())[k] = v;
    spb::PrepareSnapshotResponse resp;
    return snapshots_->Prepare(NamespaceContext().get(), req, &resp);
  }

 private:
  std::unique_ptr<cpb::Content::Stub> content_;
  std::unique_ptr<spb::Snapshots::Stub> snapshots_;
  std::unique_ptr<::berth::services::gc::v1::GC::Stub> gc_;
};

class GcDaemonTest : public DaemonTest {
 protected:
  explicit GcDaemonTest(const char* config = kNoSchedulerConfig)
      : DaemonTest(BerthdOptions{"", config, {}, {}}) {}

  CommandResult Berthctl(const std::vector<std::string>& args, const std::string& stdin_data = "") {
    return berthd_.Berthctl(args, stdin_data);
  }
  std::map<std::string, std::string> Collect() { return ParseGc(Ok(Berthctl({"gc"}))); }
  // The upper directory of every snapshot the namespace lists (overlay's
  // upperdir label, read from `ctr snapshots info`).
  std::vector<std::string> Uppers() {
    std::vector<std::string> uppers;
    const std::vector<std::string> rows = OutputLines(Ctr({"snapshots", "ls"}));
    for (std::size_t i = 1; i < rows.size(); ++i) {
      const std::string key = rows[i].substr(0, rows[i].find_first_of(" \t"));
      const std::string info = Ctr({"snapshots", "info", key});
      const std::string marker = std::string(kUpperdirLabel) + "\": \"";
      const std::size_t at = info.find(marker);
      EXPECT_NE(at, std::string::npos) << info;
      if (at == std::string::npos) continue;
      const std::size_t start = at + marker.size();
      uppers.push_back(info.substr(start, info.find('"', start) - start));
    }
    return uppers;
  }

  std::string BlobDir() const {
    return berthd_.root() + "/io.containerd.content.v1.content/blobs/sha256";
  }
  std::set<std::string> BlobsOnDisk() const {
    std::set<std::string> digests;
    std::error_code ec;
    for (auto it = fs::directory_iterator(BlobDir(), ec); !ec && it != fs::directory_iterator();
         ++it) {
      digests.insert("sha256:" + it->path().filename().string());
    }
    return digests;
  }
  std::set<std::string> SnapshotDirs() const {
    std::set<std::string> dirs;
    std::error_code ec;
    for (auto it = fs::directory_iterator(
             berthd_.root() + "/io.containerd.snapshotter.v1.overlayfs/snapshots", ec);
         !ec && it != fs::directory_iterator(); ++it) {
      dirs.insert(it->path().filename().string());
    }
    return dirs;
  }
};

TEST_F(GcDaemonTest, CtrLeasesCreateListRemove) {
  EXPECT_EQ(Ctr({"leases", "create", "--id", "build-1", "-x", "0", "team=blue"}), "build-1\n");
  const std::string generated = Ctr({"leases", "create"});
  ASSERT_FALSE(generated.empty());
  const std::string id = generated.substr(0, generated.size() - 1);

  const std::string ls = Ctr({"leases", "ls"});
  EXPECT_TRUE(Contains(ls, "build-1"));
  EXPECT_TRUE(Contains(ls, "team=blue"));
  EXPECT_TRUE(Contains(ls, "containerd.io/gc.expire=")) << "ctr's default 24h expiry";
  EXPECT_EQ(Ctr({"leases", "ls", "-q", "labels.team==blue"}), "build-1\n");
  auto berthctl_ids = OutputLines(Ok(Berthctl({"leases", "ls", "-q"})));
  std::sort(berthctl_ids.begin(), berthctl_ids.end());
  std::vector<std::string> want = {"build-1", id};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(berthctl_ids, want);

  EXPECT_EQ(Ctr({"leases", "rm", "build-1"}), "build-1\n");
  EXPECT_EQ(Ctr({"leases", "ls", "-q"}), id + "\n");
  CommandResult again =
      RunCommand({kCtr, "--address", berthd_.socket(), "leases", "rm", "build-1"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_TRUE(Contains(again.err, "not found"));

  EXPECT_EQ(Ok(Berthctl({"leases", "create", "--id", "mine", "--label", "a=b", "--expire", "1h"})),
            "mine\n");
  const std::string mine = Ctr({"leases", "ls", "id==mine"});
  EXPECT_TRUE(Contains(mine, "a=b"));
  EXPECT_TRUE(Contains(mine, "containerd.io/gc.expire="));
  EXPECT_EQ(Ok(Berthctl({"leases", "rm", "mine", id})), "mine\n" + id + "\n");
  EXPECT_EQ(Ctr({"leases", "ls", "-q"}), "");
}

TEST_F(GcDaemonTest, LeaseHoldsContentUntilRemovedWithSync) {
  Ctr({"leases", "create", "--id", "hold", "-x", "0"});
  const std::string held = "held by the lease\n";
  const std::string loose = "held by nothing\n";
  Ok(Berthctl({"--lease", "hold", "content", "ingest", "held"}, held));
  Ctr({"content", "ingest", "loose"}, loose);
  CommandResult missing = Berthctl({"--lease", "nope", "content", "ingest", "x"}, "x");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(Contains(missing.err, "not found"));
  EXPECT_EQ(BlobsOnDisk(), (std::set<std::string>{Sha256Of(held), Sha256Of(loose)}));

  auto figures = Collect();
  EXPECT_EQ(figures["content_removed"], "1");
  EXPECT_EQ(figures["backend_errors"], "0");
  EXPECT_TRUE(figures.count("mark") && figures.count("sweep") && figures.count("backend"));
  EXPECT_EQ(Ctr({"content", "ls", "-q"}), Sha256Of(held) + "\n");
  EXPECT_EQ(BlobsOnDisk(), std::set<std::string>{Sha256Of(held)});

  // With --sync the collection has run when ctr returns.
  EXPECT_EQ(Ctr({"leases", "rm", "--sync", "hold"}), "hold\n");
  EXPECT_EQ(Ctr({"content", "ls", "-q"}), "");
  EXPECT_TRUE(BlobsOnDisk().empty());
}

TEST_F(GcDaemonTest, UnreferencedSnapshotsAreCollected) {
  // ctr labels what it prepares containerd.io/gc.root; "scratch" loses it.
  Ctr({"snapshots", "prepare", "scratch"});
  Ctr({"snapshots", "prepare", "kept"});
  Ctr({"snapshots", "label", "scratch", "containerd.io/gc.root="});
  ASSERT_EQ(SnapshotDirs().size(), 2u);
  auto figures = Collect();
  EXPECT_EQ(figures["snapshots_removed"], "1");
  const std::string ls = Ctr({"snapshots", "ls"});
  EXPECT_TRUE(Contains(ls, "kept"));
  EXPECT_EQ(ls.find("scratch"), std::string::npos) << ls;
  EXPECT_EQ(SnapshotDirs().size(), 1u);
}

// Kills berthd at different moments of collections over a few thousand
// records; after each restart every record still has its data, and the
// next collection leaves exactly the referenced data on disk.
TEST_F(GcDaemonTest, SigkillWhileCollectingLeavesTheStoreConsistent) {
  Populator pop(berthd_.socket());
  int next = 0;
  std::size_t rooted_blobs = 0, rooted_snapshots = 0;
  auto populate = [&](int blobs, int snapshots) {
    for (int i = 0; i < blobs; ++i, ++next) {
      std::map<std::string, std::string> labels;
      if (i % 3 == 0) {
        labels["containerd.io/gc.root"] = "1";
        ++rooted_blobs;
      }
      grpc::Status s = pop.Blob("blob " + std::to_string(next), labels);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    for (int i = 0; i < snapshots; ++i, ++next) {
      std::map<std::string, std::string> labels;
      if (i % 2 == 0) {
        labels["containerd.io/gc.root"] = "1";
        ++rooted_snapshots;
      }
      grpc::Status s = pop.Prepare("snap-" + std::to_string(next), labels);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
  };
  const int delays_ms[] = {0, 1, 2, 4, 8, 30};
  for (int delay : delays_ms) {
    populate(300, 10);
    std::thread collect([&pop] { (void)pop.Collect(); });
    // The kill lands before, inside or after the mark, the sweep or the
    // backend phase; each case must leave the store consistent.
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    berthd_.Kill();
    collect.join();
    ASSERT_TRUE(berthd_.Start());
    ASSERT_TRUE(berthd_.WaitServing());
    pop = Populator(berthd_.socket());

    // No record without data.
    const std::set<std::string> on_disk = BlobsOnDisk();
    const std::vector<std::string> records = OutputLines(Ctr({"content", "ls", "-q"}));
    for (const std::string& digest : records) {
      EXPECT_TRUE(on_disk.count(digest)) << "delay " << delay << ": no blob for " << digest;
    }
    // Where the kill landed: records swept or not, data freed or not.
    std::cout << "kill after " << delay << " ms: " << records.size() << " blob records, "
              << on_disk.size() << " blobs on disk\n";
    for (const std::string& upper : Uppers()) {
      EXPECT_TRUE(fs::is_directory(upper)) << "delay " << delay << ": no " << upper;
    }
  }

  // Orphan data (left by a kill in the backend phase) goes with the next run.
  Collect();
  std::set<std::string> recorded;
  for (const std::string& d : OutputLines(Ctr({"content", "ls", "-q"}))) recorded.insert(d);
  EXPECT_EQ(BlobsOnDisk(), recorded);
  EXPECT_EQ(recorded.size(), rooted_blobs);
  std::set<std::string> recorded_dirs;
  for (const std::string& upper : Uppers()) {
    recorded_dirs.insert(fs::path(upper).parent_path().filename().string());
  }
  EXPECT_EQ(recorded_dirs.size(), rooted_snapshots);
  EXPECT_EQ(SnapshotDirs(), recorded_dirs);
}

// With the gc scheduler loaded (the default), collections on a caller's
// behalf go through it: `berthctl gc` and a synchronous lease delete wait for
// its run, and what a lease holds survives whatever it runs meanwhile.
class GcWithSchedulerTest : public GcDaemonTest {
 protected:
  GcWithSchedulerTest() : GcDaemonTest("") {}
};

TEST_F(GcWithSchedulerTest, SyncDeleteAndGcWaitForTheSchedulersRun) {
  const std::string plugins = Ctr({"plugins", "ls"});
  ASSERT_EQ(ParsePluginTable(plugins)["io.containerd.gc.v1.scheduler"], "ok") << plugins;
  Ctr({"leases", "create", "--id", "hold", "-x", "0"});
  const std::string held = "held while the scheduler runs\n";
  Ok(Berthctl({"--lease", "hold", "content", "ingest", "held"}, held));
  auto figures = Collect();
  EXPECT_EQ(figures["backend_errors"], "0");
  EXPECT_EQ(Ctr({"content", "ls", "-q"}), Sha256Of(held) + "\n");
  EXPECT_EQ(Ctr({"leases", "rm", "--sync", "hold"}), "hold\n");
  EXPECT_EQ(Ctr({"content", "ls", "-q"}), "");
  EXPECT_TRUE(BlobsOnDisk().empty());
}

}  // namespace
}  // namespace berth::test
