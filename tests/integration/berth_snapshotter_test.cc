// berth-snapshotter as an operator runs it: serving snapshot-overlay to the
// stock containerd through a [proxy_plugins] entry, driven by the stock ctr
// (the printed mounts are mounted for real), stopping on SIGTERM/SIGINT, and
// refusing to start with a clear message when something is wrong.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "berthd_process.h"
#include "btrfs_loop.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "served_util.h"

namespace berth::test {
namespace {

namespace snapshots_pb = containerd::services::snapshots::v1;

constexpr char kContainerd[] = "/usr/bin/containerd";

std::string SnapshotterPath() { return std::string(BERTH_BIN_DIR) + "/berth-snapshotter"; }
std::string PluginDir() { return std::string(BERTH_BUILD_DIR) + "/lib/berth/plugins"; }

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

// Whether a Snapshots.List call on `socket` completes.
bool SnapshotsAnswer(const std::string& socket) {
  if (!Exists(socket)) return false;
  auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  auto stub = snapshots_pb::Snapshots::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 2s);
  snapshots_pb::ListSnapshotsRequest req;
  auto reader = stub->List(&ctx, req);
  snapshots_pb::ListSnapshotsResponse resp;
  while (reader->Read(&resp)) {
  }
  return reader->Finish().ok();
}

std::vector<std::string> SnapshotterArgs(const std::string& root, const std::string& socket) {
  return {SnapshotterPath(), "--plugin", "snapshot-overlay", "--root", root, "--address", socket};
}

// A containerd on its own root, state and socket under `dir`, with the
// snapshotter at `proxy_socket` as proxy plugin "berth". Its collector never
// runs (kPeerNoCollection): a test's unlabelled snapshots would otherwise go
// between two ctr calls.
// containerd's gc scheduler, kept from ever collecting: no startup run within
// a test's life, and thresholds no test reaches. (Disabling the plugin would
// also disable containerd's leases service, which requires it.)
constexpr char kPeerNoCollection[] =
    "[plugins.\"io.containerd.gc.v1.scheduler\"]\n"
    "  deletion_threshold = 0\n"
    "  mutation_threshold = 1000000000\n"
    "  schedule_delay = \"0s\"\n"
    "  startup_delay = \"1000h\"\n";

std::string WriteContainerdConfig(const std::string& dir, const std::string& proxy_socket) {
  std::ostringstream c;
  c << "version = 2\n"
    << "root = \"" << dir << "/root\"\n"
    << "state = \"" << dir << "/state\"\n"
    << "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
    << "[grpc]\n  address = \"" << dir << "/containerd.sock\"\n"
    << "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"" << dir << "/opt\"\n"
    << "[proxy_plugins.berth]\n  type = \"snapshot\"\n  address = \"" << proxy_socket << "\"\n"
    << kPeerNoCollection;
  std::string path = dir + "/containerd.toml";
  EXPECT_TRUE(WriteFile(path, c.str()));
  return path;
}

class ContainerdWithBerthSnapshotter : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Exists(kContainerd)) << kContainerd << " is not installed";
    ASSERT_TRUE(snapshotter_.Start());
    ASSERT_TRUE(snapshotter_.WaitReady([&] { return SnapshotsAnswer(snap_socket_); }, 30s));
    ASSERT_TRUE(containerd_.Start());
    ASSERT_TRUE(containerd_.WaitReady([&] { return Ctr({"version"}).exit_code == 0; }, 60s));
  }

  CommandResult Ctr(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kCtr, "--address", containerd_socket_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, "", 60s);
  }
  // `ctr snapshots --snapshotter berth <args>`, asserted to succeed.
  std::string Snapshots(const std::vector<std::string>& args) {
    std::vector<std::string> full = {"snapshots", "--snapshotter", "berth"};
    full.insert(full.end(), args.begin(), args.end());
    CommandResult r = Ctr(full);
    EXPECT_EQ(r.exit_code, 0) << r.Describe() << "\nberth-snapshotter log:\n"
                              << snapshotter_.Log() << "\ncontainerd log:\n"
                              << containerd_.Log();
    return r.out;
  }
  // Mounts `key` at a fresh target with the commands `ctr snapshots mounts`
  // prints, run by the shell as printed.
  std::string MountSnapshot(const std::string& key) {
    std::string target = scratch_.Join("mnt-" + key);
    EXPECT_EQ(mkdir(target.c_str(), 0755), 0);
    scratch_.AddMountPoint(target);
    std::string commands = Snapshots({"mounts", target, key});
    EXPECT_NE(commands.find("mount -t "), std::string::npos) << commands;
    CommandResult r = RunCommand({"sh", "-ec", commands}, "", 30s);
    EXPECT_EQ(r.exit_code, 0) << commands << "\n" << r.Describe();
    return target;
  }
  void Unmount(const std::string& target) {
    Status s = UnmountAll(target);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  ScratchDir scratch_{"berth-snapshotter-it-"};
  std::string snap_socket_ = scratch_.Join("snapshotter.sock");
  std::string snap_root_ = scratch_.Join("snapshotter-root");
  std::string containerd_socket_ = scratch_.Join("containerd/containerd.sock");
  ChildProcess snapshotter_{SnapshotterArgs(snap_root_, snap_socket_),
                            scratch_.Join("berth-snapshotter.log")};
  std::string containerd_config_ = [this] {
    mkdir(scratch_.Join("containerd").c_str(), 0700);
    return WriteContainerdConfig(scratch_.Join("containerd"), snap_socket_);
  }();
  ChildProcess containerd_{{kContainerd, "--config", containerd_config_},
                           scratch_.Join("containerd.log")};
};

TEST_F(ContainerdWithBerthSnapshotter, CtrDrivesOverlayThroughTheProxy) {
  Snapshots({"prepare", "base"});
  std::string base = MountSnapshot("base");
  ASSERT_TRUE(WriteFile(base + "/hello", "from the base layer"));
  Unmount(base);
  Snapshots({"commit", "layer1", "base"});

  Snapshots({"prepare", "work", "layer1"});
  std::string work = MountSnapshot("work");
  EXPECT_EQ(ReadFile(work + "/hello"), "from the base layer");
  ASSERT_TRUE(WriteFile(work + "/upper", "written on top"));
  Unmount(work);

  Snapshots({"view", "ro", "layer1"});
  std::string ro = MountSnapshot("ro");
  EXPECT_EQ(ReadFile(ro + "/hello"), "from the base layer");
  EXPECT_FALSE(WriteFile(ro + "/nope", "x")) << "a view mounted writable";
  Unmount(ro);

  std::string listing = Snapshots({"ls"});
  EXPECT_TRUE(Contains(listing, "layer1"));
  EXPECT_TRUE(Contains(listing, "Committed"));
  EXPECT_TRUE(Contains(listing, "Active"));
  EXPECT_TRUE(Contains(listing, "View"));
  // The snapshots live in berth-snapshotter's root, not in containerd's.
  std::error_code ec;
  EXPECT_GE(std::distance(std::filesystem::directory_iterator(snap_root_ + "/snapshots", ec),
                          std::filesystem::directory_iterator()),
            3);

  Snapshots({"rm", "work", "ro"});
  Snapshots({"rm", "layer1"});
  EXPECT_EQ(Snapshots({"ls"}).find("layer1"), std::string::npos);

  EXPECT_EQ(containerd_.Stop(), 0) << containerd_.Log();
  EXPECT_EQ(snapshotter_.Stop(), 0) << snapshotter_.Log();
  EXPECT_FALSE(Exists(snap_socket_)) << "socket left behind";
}

// snapshot-btrfs reaches real containerd the same way, its root on a loop
// btrfs. Locals go in reverse: containerd, the snapshotter, the mount points,
// then the filesystem.
TEST(BerthSnapshotterBtrfs, CtrDrivesBtrfsThroughContainerdsProxy) {
  if (!Exists(PluginDir() + "/snapshot-btrfs.so")) GTEST_SKIP() << "snapshot-btrfs not built";
  ASSERT_TRUE(Exists(kContainerd)) << kContainerd << " is not installed";
  BtrfsLoop fs;
  ASSERT_TRUE(fs.ok()) << fs.error();
  ScratchDir scratch("berth-snapshotter-btrfs-");
  const std::string sock = scratch.Join("snapshotter.sock");
  ChildProcess snapshotter({SnapshotterPath(), "--plugin", "snapshot-btrfs", "--root",
                            fs.Join("root"), "--address", sock},
                           scratch.Join("berth-snapshotter.log"));
  ASSERT_TRUE(snapshotter.Start());
  ASSERT_TRUE(snapshotter.WaitReady([&] { return SnapshotsAnswer(sock); }, 30s))
      << snapshotter.Log();
  mkdir(scratch.Join("containerd").c_str(), 0700);
  ChildProcess containerd({kContainerd, "--config",
                           WriteContainerdConfig(scratch.Join("containerd"), sock)},
                          scratch.Join("containerd.log"));
  ASSERT_TRUE(containerd.Start());
  auto ctr = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {kCtr, "--address", scratch.Join("containerd/containerd.sock"),
                                     "snapshots", "--snapshotter", "berth"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, "", 60s);
  };
  ASSERT_TRUE(containerd.WaitReady([&] { return ctr({"ls"}).exit_code == 0; }, 60s))
      << containerd.Log();
  auto mount_at = [&](const std::string& key) {
    std::string target = scratch.Join("mnt-" + key);
    EXPECT_EQ(mkdir(target.c_str(), 0755), 0);
    scratch.AddMountPoint(target);
    CommandResult printed = ctr({"mounts", target, key});
    EXPECT_TRUE(Contains(printed.out, "mount -t btrfs " + fs.device())) << printed.Describe();
    CommandResult r = RunCommand({"sh", "-ec", printed.out}, "", 30s);
    EXPECT_EQ(r.exit_code, 0) << printed.out << "\n" << r.Describe();
    return target;
  };

  ASSERT_EQ(ctr({"prepare", "base"}).exit_code, 0) << snapshotter.Log();
  std::string base = mount_at("base");
  ASSERT_TRUE(WriteFile(base + "/hello", "on btrfs"));
  EXPECT_TRUE(UnmountAll(base).ok());
  ASSERT_EQ(ctr({"commit", "layer1", "base"}).exit_code, 0) << snapshotter.Log();
  ASSERT_EQ(ctr({"view", "ro", "layer1"}).exit_code, 0) << snapshotter.Log();
  std::string ro = mount_at("ro");
  EXPECT_EQ(ReadFile(ro + "/hello"), "on btrfs");
  EXPECT_FALSE(WriteFile(ro + "/nope", "x")) << "a view mounted writable";
  EXPECT_TRUE(UnmountAll(ro).ok());
  // Subvolumes live on the loop filesystem in containerd's btrfs layout.
  EXPECT_TRUE(Exists(fs.Join("root/snapshots")));
  EXPECT_EQ(ctr({"rm", "ro"}).exit_code, 0);
  EXPECT_EQ(ctr({"rm", "layer1"}).exit_code, 0);
  EXPECT_EQ(ctr({"ls"}).out.find("layer1"), std::string::npos);
  EXPECT_EQ(containerd.Stop(), 0) << containerd.Log();
  EXPECT_EQ(snapshotter.Stop(), 0) << snapshotter.Log();
}

TEST_F(ContainerdWithBerthSnapshotter, ErrorsTravelAsErrdefs) {
  Snapshots({"prepare", "a"});
  CommandResult again = Ctr({"snapshots", "--snapshotter", "berth", "prepare", "a"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_TRUE(Contains(again.err, "already exists"));
  CommandResult missing = Ctr({"snapshots", "--snapshotter", "berth", "rm", "nope"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(Contains(missing.err, "not found"));
}

// berth-snapshotter run to its (early) end, with its stderr.
CommandResult RunSnapshotter(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {SnapshotterPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, "", 60s);
}

TEST(BerthSnapshotter, ExplainsWhyItCannotStart) {
  TempDir dir("berth-snapshotter-err-");
  const std::string sock = dir.Join("s.sock");
  const std::string root = dir.Join("root");

  CommandResult r = RunSnapshotter({"--plugin", "snapshot-overlay", "--address", sock});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "--root is required"));

  r = RunSnapshotter({"--plugin", "no-such-plugin", "--root", root, "--address", sock});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "plugin library \"no-such-plugin\" not found"));

  r = RunSnapshotter({"--plugin", "content-local", "--root", root, "--address", sock});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "registers no io.containerd.snapshotter.v1 plugin"));

  r = RunSnapshotter(
      {"--plugin", "snapshot-overlay", "--id", "nope", "--root", root, "--address", sock});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "has no io.containerd.snapshotter.v1 plugin \"nope\""));

  ASSERT_TRUE(WriteFile(dir.Join("file"), "not a folder"));
  r = RunSnapshotter(
      {"--plugin", "snapshot-overlay", "--root", dir.Join("file/root"), "--address", sock});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "io.containerd.snapshotter.v1.overlayfs"));

  ASSERT_TRUE(WriteFile(dir.Join("bad.toml"), "sync_remove = \"yes\"\n"));
  r = RunSnapshotter({"--plugin", "snapshot-overlay", "--root", root, "--address", sock, "--config",
                      dir.Join("bad.toml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "sync_remove"));
  EXPECT_FALSE(Exists(sock));
}

TEST(BerthSnapshotter, SaysWhenThePluginSkips) {
  if (!Exists(PluginDir() + "/snapshot-btrfs.so")) GTEST_SKIP() << "snapshot-btrfs not built";
  ScratchDir dir("berth-snapshotter-skip-");  // ext4, not btrfs
  CommandResult r = RunSnapshotter(
      {"--plugin", "snapshot-btrfs", "--root", dir.Join("root"), "--address", dir.Join("s.sock")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "skipped itself"));
  EXPECT_TRUE(Contains(r.err, "skip plugin"));
}

TEST(BerthSnapshotter, RefusesASocketInUseAndStopsOnSigint) {
  ScratchDir dir("berth-snapshotter-sock-");
  const std::string sock = dir.Join("s.sock");
  ChildProcess first(SnapshotterArgs(dir.Join("root1"), sock), dir.Join("first.log"));
  ASSERT_TRUE(first.Start());
  ASSERT_TRUE(first.WaitReady([&] { return SnapshotsAnswer(sock); }, 30s));

  CommandResult second = RunSnapshotter(
      {"--plugin", "snapshot-overlay", "--root", dir.Join("root2"), "--address", sock});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_TRUE(Contains(second.err, "in use"));
  EXPECT_TRUE(SnapshotsAnswer(sock)) << "the first server stopped answering";

  EXPECT_EQ(first.Stop(SIGINT), 0) << first.Log();
  EXPECT_FALSE(Exists(sock));
  EXPECT_TRUE(Contains(first.Log(), "serving snapshotter"));
}

}  // namespace
}  // namespace berth::test
