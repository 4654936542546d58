// The snapshots service of a real berthd, once with the overlayfs and once
// with the btrfs snapshotter (its root on a btrfs filesystem on a loop device
// made for the test), driven by the stock ctr, compared with berthctl, and
// mounted for real; then SIGKILLed during bursts of changes and checked
// against the disk. And the btrfs snapshotter skipping on a root not on btrfs.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "berth/mount.h"
#include "berthd_process.h"
#include "btrfs_loop.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

namespace fs = std::filesystem;
namespace pb = containerd::services::snapshots::v1;

constexpr char kUpperdirLabel[] = "containerd.io/snapshot/overlay.upperdir";
// The snapshot verbs are under test here, not collection: ctr's `view` and
// the bursts below set no gc.root label, so a collection would take them.
constexpr char kNoCollection[] = "disabled_plugins = [\"io.containerd.gc.v1.scheduler\"]\n";
constexpr char kOverlayConfig[] =
    "[plugins.\"io.containerd.snapshotter.v1.overlayfs\"]\n"
    "  upperdir_label = true\n";

// A mount command line as `ctr snapshots mounts` prints it, parsed.
std::vector<Mount> ParseMountCommands(const std::string& text) {
  std::vector<Mount> mounts;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string mount_word, dash_t, type, source, target, dash_o, options;
    words >> mount_word >> dash_t >> type >> source >> target >> dash_o >> options;
    if (mount_word != "mount" || dash_t != "-t" || dash_o != "-o") continue;
    Mount m{type, source, "", {}};
    std::istringstream opts(options);
    for (std::string o; std::getline(opts, o, ',');) m.options.push_back(o);
    mounts.push_back(std::move(m));
  }
  return mounts;
}

// Mounts on a fresh folder; unmounts (and removes the folder) on scope exit.
class MountedAt {
 public:
  MountedAt(const std::vector<Mount>& mounts, const std::string& where) : where_(where) {
    fs::create_directories(where_);
    status_ = mounts.empty() ? Status::InvalidArgument("no mounts") : MountAll(mounts, where_);
  }
  ~MountedAt() {
    Status s = UnmountAll(where_);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::error_code ec;
    fs::remove(where_, ec);
  }
  const Status& status() const { return status_; }
  std::string operator/(const std::string& rel) const { return where_ + "/" + rel; }

 private:
  std::string where_;
  Status status_;
};

class SnapshotsClient {
 public:
  SnapshotsClient(const std::string& socket, std::string snapshotter)
      : snapshotter_(std::move(snapshotter)),
        stub_(pb::Snapshots::NewStub(grpc::CreateChannel(
            "unix://" + socket, grpc::InsecureChannelCredentials()))) {}

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("containerd-namespace", "default");
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ctx;
  }
  grpc::Status Prepare(const std::string& key, const std::string& parent) {
    pb::PrepareSnapshotRequest req;
    req.set_snapshotter(snapshotter_);
    req.set_key(key);
    req.set_parent(parent);
    pb::PrepareSnapshotResponse resp;
    return stub_->Prepare(Ctx().get(), req, &resp);
  }
  grpc::Status Commit(const std::string& name, const std::string& key) {
    pb::CommitSnapshotRequest req;
    req.set_snapshotter(snapshotter_);
    req.set_name(name);
    req.set_key(key);
    google::protobuf::Empty resp;
    return stub_->Commit(Ctx().get(), req, &resp);
  }
  grpc::Status Remove(const std::string& key) {
    pb::RemoveSnapshotRequest req;
    req.set_snapshotter(snapshotter_);
    req.set_key(key);
    google::protobuf::Empty resp;
    return stub_->Remove(Ctx().get(), req, &resp);
  }
  grpc::Status List(std::vector<pb::Info>& out) {
    pb::ListSnapshotsRequest req;
    req.set_snapshotter(snapshotter_);
    auto ctx = Ctx();
    auto reader = stub_->List(ctx.get(), req);
    pb::ListSnapshotsResponse resp;
    while (reader->Read(&resp)) out.insert(out.end(), resp.info().begin(), resp.info().end());
    return reader->Finish();
  }
  grpc::Status PrepareWithNul() {
    return Prepare(std::string("bad\0key", 7), "");
  }

 private:
  std::string snapshotter_;
  std::unique_ptr<pb::Snapshots::Stub> stub_;
};

// Parameterised by the snapshotter's name: "overlayfs" or "btrfs".
class SnapshotsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    BerthdOptions options;
    if (btrfs()) {
      loop_ = std::make_unique<BtrfsLoop>();
      ASSERT_TRUE(loop_->ok()) << loop_->error();
      options.extra_toml =
          std::string(kNoCollection) + "[plugins.\"io.containerd.snapshotter.v1.btrfs\"]\n"
          "  root_path = \"" + loop_->Join("btrfs") + "\"\n";
    } else {
      options.extra_toml = std::string(kNoCollection) + kOverlayConfig;
    }
    berthd_ = std::make_unique<BerthdProcess>(options);
    ASSERT_TRUE(berthd_->Start());
    ASSERT_TRUE(berthd_->WaitServing());
  }
  void TearDown() override {
    berthd_.reset();  // the daemon goes before its filesystem
    loop_.reset();
  }
  bool btrfs() const { return GetParam() == "btrfs"; }
  // ctr snapshots --snapshotter NAME ... must succeed; returns its stdout.
  std::string Ctr(const std::vector<std::string>& args) {
    CommandResult r = berthd_->Ctr(Argv(args));
    EXPECT_EQ(r.exit_code, 0) << "ctr snapshots " << args[0] << ": " << r.Describe();
    return r.out;
  }
  std::string Berthctl(const std::vector<std::string>& args) {
    CommandResult r = berthd_->Berthctl(Argv(args));
    EXPECT_EQ(r.exit_code, 0) << "berthctl snapshots " << args[0] << ": " << r.Describe();
    return r.out;
  }
  // ctr snapshots ... must fail; returns its stderr.
  std::string CtrFails(const std::vector<std::string>& args) {
    CommandResult r = berthd_->Ctr(Argv(args));
    EXPECT_NE(r.exit_code, 0) << "ctr snapshots " << args[0] << ": " << r.Describe();
    return r.err;
  }
  std::vector<Mount> MountsOf(const std::string& key) {
    return ParseMountCommands(Ctr({"mounts", "/unused", key}));
  }
  // The start of the mount command ctr prints for `target`.
  std::string MountCommandPrefix(const std::string& target) const {
    if (btrfs()) return "mount -t btrfs " + loop_->device() + " " + target + " -o subvolid=";
    return "mount -t overlay overlay " + target + " -o ";
  }
  std::string SnapshotterRoot() const {
    if (btrfs()) return loop_->Join("btrfs");
    return berthd_->root() + "/io.containerd.snapshotter.v1.overlayfs";
  }
  // The folders snapshots live in: overlay's "snapshots/<id>"; btrfs's
  // "active/", "view/" and "snapshots/" by kind.
  std::vector<std::string> StorageDirs() const {
    if (!btrfs()) return {SnapshotterRoot() + "/snapshots"};
    return {SnapshotterRoot() + "/active", SnapshotterRoot() + "/view",
            SnapshotterRoot() + "/snapshots"};
  }
  std::size_t StorageEntries() const {
    std::size_t n = 0;
    for (const auto& dir : StorageDirs()) {
      for (const auto& e : fs::directory_iterator(dir)) n += e.is_directory();
    }
    return n;
  }
  SnapshotsClient Client() const { return SnapshotsClient(berthd_->socket(), GetParam()); }

  // Declared first, destroyed last.
  std::unique_ptr<BtrfsLoop> loop_;
  std::unique_ptr<BerthdProcess> berthd_;

 private:
  std::vector<std::string> Argv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"snapshots", "--snapshotter", GetParam()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
};

TEST_P(SnapshotsTest, CtrEveryVerbWithRealMounts) {
  const std::string mnt = berthd_->dir().Join("mnt");
  Ctr({"prepare", "base-active"});
  {
    MountedAt m(MountsOf("base-active"), mnt);
    ASSERT_TRUE(m.status().ok()) << m.status().ToString();
    ASSERT_TRUE(WriteFile(m / "lower.txt", "from the lower layer"));
    fs::create_directory(m / "dir");
  }
  Ctr({"commit", "base", "base-active"});

  // `prepare --target` prints the mount command ctr users paste.
  const std::string printed = Ctr({"prepare", "--target", mnt, "upper", "base"});
  EXPECT_TRUE(Contains(printed, MountCommandPrefix(mnt)));
  EXPECT_EQ(MountsOf("upper"), ParseMountCommands(printed));
  {
    MountedAt m(ParseMountCommands(printed), mnt);
    ASSERT_TRUE(m.status().ok()) << m.status().ToString();
    EXPECT_EQ(ReadFile(m / "lower.txt"), "from the lower layer");
    ASSERT_TRUE(WriteFile(m / "dir/upper.txt", "from the upper layer"));
  }
  Ctr({"view", "look", "base"});
  {
    MountedAt m(MountsOf("look"), mnt);
    ASSERT_TRUE(m.status().ok()) << m.status().ToString();
    EXPECT_EQ(ReadFile(m / "lower.txt"), "from the lower layer");
    EXPECT_FALSE(fs::exists(m / "dir/upper.txt"));
    const int fd = ::open((m / "refused").c_str(), O_CREAT | O_WRONLY, 0644);
    EXPECT_EQ(fd, -1);
    EXPECT_EQ(errno, EROFS);
    if (fd >= 0) ::close(fd);
  }

  const std::string ls = Ctr({"ls"});
  EXPECT_EQ(ls,
            "KEY   PARENT KIND      \n"
            "base         Committed \n"
            "look  base   View      \n"
            "upper base   Active    \n");
  EXPECT_EQ(Berthctl({"ls"}), ls);

  const std::string info = Ctr({"info", "upper"});
  EXPECT_TRUE(Contains(info, "\"Kind\": \"Active\""));
  EXPECT_TRUE(Contains(info, "\"Parent\": \"base\""));
  EXPECT_TRUE(Contains(info, "\"containerd.io/gc.root\""));
  if (!btrfs()) {
    EXPECT_TRUE(Contains(info, kUpperdirLabel));
  }
  EXPECT_EQ(Berthctl({"info", "upper"}), info);

  const std::string usage = Ctr({"usage", "-b", "upper"});
  EXPECT_TRUE(Contains(usage, "KEY   SIZE"));
  EXPECT_EQ(Berthctl({"usage", "-b", "upper"}), usage);
  EXPECT_EQ(Berthctl({"usage"}), Ctr({"usage"}));

  EXPECT_TRUE(Contains(Ctr({"label", "upper", "color=blue"}), "color=blue"));
  EXPECT_TRUE(Contains(Ctr({"info", "upper"}), "\"color\": \"blue\""));
  EXPECT_TRUE(Contains(Berthctl({"label", "upper", "shape=round"}), "shape=round"));
  const std::string cleared = Ctr({"label", "upper", "color="});
  EXPECT_FALSE(Contains(cleared, "color="));
  EXPECT_TRUE(Contains(cleared, "shape=round"));

  const std::string tree = Ctr({"tree"});
  EXPECT_EQ(tree, " base\n  \\_ look\n  \\_ upper\n");
  EXPECT_EQ(Berthctl({"tree"}), tree);

  EXPECT_TRUE(Contains(CtrFails({"rm", "base"}), "failed precondition"));
  EXPECT_TRUE(Contains(CtrFails({"commit", "from-view", "look"}), "failed precondition"));
  EXPECT_TRUE(Contains(CtrFails({"prepare", "upper", "base"}), "already exists"));
  EXPECT_TRUE(Contains(CtrFails({"info", "missing"}), "not found"));
  Ctr({"rm", "upper", "look"});
  Berthctl({"rm", "base"});
  EXPECT_EQ(Ctr({"ls"}), "KEY PARENT KIND \n");
}

TEST_P(SnapshotsTest, ChainOfLayersWithWhiteoutAndRename) {
  const std::string mnt = berthd_->dir().Join("mnt");
  std::string parent;
  // Layer i adds f<i>, renames f<i-1> (a lower file) to g<i-1> and deletes
  // g<i-2> (a whiteout over a lower file).
  constexpr int kLayers = 6;
  for (int i = 0; i < kLayers; ++i) {
    const std::string key = "active-" + std::to_string(i);
    Ctr(parent.empty() ? std::vector<std::string>{"prepare", key}
                       : std::vector<std::string>{"prepare", key, parent});
    {
      MountedAt m(MountsOf(key), mnt);
      ASSERT_TRUE(m.status().ok()) << m.status().ToString();
      ASSERT_TRUE(WriteFile(m / ("f" + std::to_string(i)), std::to_string(i)));
      if (i >= 1) {
        fs::rename(m / ("f" + std::to_string(i - 1)), m / ("g" + std::to_string(i - 1)));
      }
      if (i >= 2) {
        ASSERT_TRUE(fs::remove(m / ("g" + std::to_string(i - 2))));
      }
    }
    parent = "layer-" + std::to_string(i);
    Ctr({"commit", parent, key});
  }
  Ctr({"view", "top", parent});
  MountedAt m(MountsOf("top"), mnt);
  ASSERT_TRUE(m.status().ok()) << m.status().ToString();
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(mnt)) names.insert(e.path().filename());
  EXPECT_EQ(names, (std::set<std::string>{"f5", "g4"}));
  EXPECT_EQ(ReadFile(m / "g4"), "4");
  EXPECT_TRUE(Contains(Ctr({"tree"}), "          \\_ layer-5\n"));
}

TEST_P(SnapshotsTest, BadInputGetsItsError) {
  EXPECT_TRUE(Contains(CtrFails({"prepare", std::string(5000, 'k')}), "invalid argument"));
  // A key is a name: a NUL byte is as good as any (containerd takes it).
  EXPECT_TRUE(Client().PrepareWithNul().ok());
  Ctr({"prepare", "k"});
  EXPECT_TRUE(Contains(CtrFails({"label", "k", "big=" + std::string(5000, 'v')}),
                       "invalid argument"));
  EXPECT_TRUE(Contains(CtrFails({"--snapshotter", "nope", "ls"}), "nope"));
  // Nothing but the two good keys reached the disk.
  EXPECT_EQ(StorageEntries(), 2u);
}

// Runs prepare/commit/view/remove bursts until a call fails (the daemon
// going away); `error` receives that call's status.
void Burst(SnapshotsClient client, const std::string& prefix, std::atomic<int>& done,
           grpc::Status& error) {
  auto ok = [&](const grpc::Status& s) {
    if (!s.ok()) error = s;
    return s.ok();
  };
  if (!ok(client.Prepare(prefix + "base-a", "")) ||
      !ok(client.Commit(prefix + "base", prefix + "base-a"))) {
    return;
  }
  std::string previous;
  for (int i = 0;; ++i) {
    const std::string n = prefix + std::to_string(i);
    if (!ok(client.Prepare(n + "-a", prefix + "base")) || !ok(client.Commit(n, n + "-a")) ||
        !ok(client.Prepare(n + "-x", n)) || !ok(client.Remove(n + "-x")) ||
        (!previous.empty() && !ok(client.Remove(previous)))) {
      return;
    }
    previous = n;
    done.fetch_add(5);
  }
}

TEST_P(SnapshotsTest, SigkillDuringBurstsLeavesDiskAndRecordsInStep) {
  for (int round = 0; round < 5; ++round) {
    std::atomic<int> done{0};
    std::vector<std::thread> workers;
    grpc::Status errors[2];
    for (int w = 0; w < 2; ++w) {
      workers.emplace_back(Burst, Client(),
                           "r" + std::to_string(round) + "w" + std::to_string(w) + "-",
                           std::ref(done), std::ref(errors[w]));
    }
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    const int target = 20 + 13 * round;
    while (done.load() < target && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(2ms);
    }
    berthd_->Kill();
    for (auto& t : workers) t.join();
    EXPECT_GE(done.load(), target)
        << "round " << round << " made too little progress; worker errors: "
        << errors[0].error_message() << " / " << errors[1].error_message() << "\n"
        << berthd_->Log();
    ASSERT_TRUE(berthd_->Start());
    ASSERT_TRUE(berthd_->WaitServing());
  }
  Berthctl({"cleanup"});

  std::vector<pb::Info> infos;
  ASSERT_TRUE(Client().List(infos).ok());
  if (btrfs()) {
    // Each kind's folder holds one subvolume per record of that kind.
    std::map<std::string, std::size_t> recorded, on_disk;
    const char* folder[] = {"", "view", "active", "snapshots"};  // by pb kind
    for (const auto& info : infos) recorded[folder[info.kind()]]++;
    for (const char* dir : {"active", "view", "snapshots"}) {
      for (const auto& e : fs::directory_iterator(SnapshotterRoot() + "/" + dir)) {
        EXPECT_FALSE(e.path().filename().string().starts_with("rm-")) << e.path();
        on_disk[dir]++;
      }
    }
    EXPECT_EQ(recorded, on_disk);
  } else {
    std::set<std::string> recorded;
    for (const auto& info : infos) {
      auto it = info.labels().find(kUpperdirLabel);
      ASSERT_NE(it, info.labels().end()) << info.name();
      const fs::path upper(it->second);
      EXPECT_TRUE(fs::is_directory(upper)) << info.name() << ": no " << upper;
      recorded.insert(upper.parent_path().filename());
    }
    std::set<std::string> on_disk;
    for (const auto& e : fs::directory_iterator(StorageDirs()[0])) {
      on_disk.insert(e.path().filename());
    }
    EXPECT_EQ(recorded, on_disk);
  }
  EXPECT_GE(infos.size(), 4u);  // at least each round's bases survive
  // ctr agrees (header plus one line per snapshot), and every snapshot answers.
  const std::string ls = Ctr({"ls"});
  EXPECT_EQ(static_cast<std::size_t>(std::count(ls.begin(), ls.end(), '\n')),
            infos.size() + 1);
  for (const auto& info : infos) Ctr({"info", info.name()});
}

INSTANTIATE_TEST_SUITE_P(Snapshotters, SnapshotsTest, ::testing::Values("overlayfs", "btrfs"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(BtrfsSnapshotterTest, SkipsWhenTheRootIsNotOnBtrfs) {
  BerthdProcess berthd;
  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  CommandResult ls = berthd.Ctr({"plugins", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  EXPECT_EQ(ParsePluginTable(ls.out)["io.containerd.snapshotter.v1.btrfs"], "skip") << ls.out;
  EXPECT_EQ(ParsePluginTable(ls.out)["io.containerd.snapshotter.v1.overlayfs"], "ok") << ls.out;
  const std::string root = berthd.root() + "/io.containerd.snapshotter.v1.btrfs";
  EXPECT_TRUE(Contains(berthd.Log(), "path " + root + " ("));
  EXPECT_TRUE(Contains(berthd.Log(),
                       ") must be a btrfs filesystem to be used with the btrfs snapshotter: "
                       "skip plugin"));
  CommandResult r = berthd.Ctr({"snapshots", "--snapshotter", "btrfs", "ls"});
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(Contains(r.err, "btrfs"));
}

}  // namespace
}  // namespace berth::test
