// What the unpack tests share: a daemon driven by the stock ctr (berthd, or
// a private containerd 1.6.20 in the scratch directory), importing OCI
// archives into a snapshotter, mounting and unmounting images, reading
// `ctr snapshots` output; and the fixture that runs berthd beside
// containerd.
#ifndef BERTH_TESTS_INTEGRATION_UNPACK_FIXTURE_H_
#define BERTH_TESTS_INTEGRATION_UNPACK_FIXTURE_H_

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "berthd_process.h"
#include "btrfs_loop.h"
#include "fixtures.h"
#include "oci_archive.h"
#include "run_command.h"
#include "served_util.h"
#include "temp_dir.h"

namespace berth::test {

inline constexpr char kContainerd[] = "/usr/bin/containerd";
// Nothing is collected under a test.
inline constexpr char kNoCollection[] = "disabled_plugins = [\"io.containerd.gc.v1.scheduler\"]\n";
// containerd's collector never runs (its leases service needs the plugin).
inline constexpr char kPeerNoCollection[] =
    "[plugins.\"io.containerd.gc.v1.scheduler\"]\n"
    "  deletion_threshold = 0\n"
    "  mutation_threshold = 1000000000\n"
    "  schedule_delay = \"0s\"\n"
    "  startup_delay = \"1000h\"\n";

// ---------------------------------------------------------------------------
// `ctr` output.

// The keys of `ctr snapshots ls` rows of `kind` ("Committed", "Active", "View").
inline std::vector<std::string> SnapshotKeys(const std::string& ls, const std::string& kind) {
  std::vector<std::string> keys;
  std::istringstream lines(ls);
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string s; words >> s;) w.push_back(s);
    if (!w.empty() && w.back() == kind) keys.push_back(w.front());
  }
  return keys;
}

inline bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The directory holding a snapshot's own files, from the mount commands
// `ctr snapshots mounts` prints for a view of it: the first lowerdir of an
// overlay, or the source of a bind.
inline std::string OwnDirOf(const std::string& mount_commands) {
  const auto at = mount_commands.find("lowerdir=");
  if (at != std::string::npos) {
    const auto begin = at + 9;
    const auto end = mount_commands.find_first_of(":,\n ", begin);
    return mount_commands.substr(begin, end - begin);
  }
  std::istringstream words(mount_commands);
  std::vector<std::string> w;
  for (std::string s; words >> s;) w.push_back(s);
  // mount -t bind SOURCE TARGET -o ...
  return w.size() > 3 ? w[3] : "";
}

// ---------------------------------------------------------------------------
// A daemon driven by ctr: berthd or a private containerd.

class Daemon {
 public:
  virtual ~Daemon() = default;
  virtual std::string name() const = 0;
  virtual std::string socket() const = 0;
  virtual std::string Log() const = 0;

  CommandResult Ctr(const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout = std::chrono::seconds(120)) const {
    std::vector<std::string> argv = {kCtr, "--address", socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, "", timeout);
  }
  // ctr ... must succeed; returns its stdout.
  std::string Ok(const std::vector<std::string>& args) const {
    CommandResult r = Ctr(args);
    EXPECT_EQ(r.exit_code, 0) << name() << ": ctr " << args[0] << " "
                              << (args.size() > 1 ? args[1] : "") << ": " << r.Describe() << "\n"
                              << name() << " log tail:\n"
                              << Tail(Log());
    return r.out;
  }
  static std::string Tail(const std::string& log) {
    return log.size() > 6000 ? log.substr(log.size() - 6000) : log;
  }
};

class BerthdDaemon : public Daemon {
 public:
  explicit BerthdDaemon(BerthdOptions options) : process(std::move(options)) {}
  std::string name() const override { return "berthd"; }
  std::string socket() const override { return process.socket(); }
  std::string Log() const override { return process.Log(); }
  BerthdProcess process;
};

class ContainerdDaemon : public Daemon {
 public:
  explicit ContainerdDaemon(const ScratchDir& scratch)
      : dir_(scratch.Join("containerd")),
        process_({kContainerd, "--config", WriteConfig()}, scratch.Join("containerd.log")) {}
  std::string name() const override { return "containerd"; }
  std::string socket() const override { return dir_ + "/containerd.sock"; }
  std::string Log() const override { return process_.Log(); }
  std::string root() const { return dir_ + "/root"; }
  ::testing::AssertionResult Start() {
    auto started = process_.Start();
    if (!started) return started;
    return process_.WaitReady(
        [this] { return Ctr({"version"}, std::chrono::seconds(10)).exit_code == 0; },
        std::chrono::seconds(60));
  }
  // SIGTERM (SIGKILL after a bound) and reap; then its mounts go.
  void Stop() { process_.Stop(); }

 private:
  std::string WriteConfig() {
    mkdir(dir_.c_str(), 0700);
    std::ostringstream c;
    c << "version = 2\n"
      << "root = \"" << dir_ << "/root\"\n"
      << "state = \"" << dir_ << "/state\"\n"
      << "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
      << "[grpc]\n  address = \"" << dir_ << "/containerd.sock\"\n"
      << "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"" << dir_ << "/opt\"\n"
      << kPeerNoCollection;
    const std::string path = dir_ + "/containerd.toml";
    EXPECT_TRUE(WriteFile(path, c.str()));
    return path;
  }
  std::string dir_;
  ChildProcess process_;
};

// Imports `image` into `d` with `snapshotter`; the ctr result.
inline CommandResult Import(const Daemon& d, const ScratchDir& scratch, const OciImage& image,
                     const std::string& snapshotter, const std::string& file) {
  const std::string path = scratch.Join(file);
  EXPECT_TRUE(WriteFile(path, image.Archive()));
  return d.Ctr({"images", "import", "--snapshotter", snapshotter, path}, std::chrono::seconds(300));
}

// `ctr images mount` of `image` at a fresh folder of `scratch` (registered for
// unmounting); the folder.
inline std::string MountImage(const Daemon& d, ScratchDir& scratch, const std::string& image,
                       const std::string& snapshotter, const std::string& dir) {
  const std::string target = scratch.Join(dir);
  EXPECT_EQ(mkdir(target.c_str(), 0755), 0) << target;
  scratch.AddMountPoint(target);
  d.Ok({"images", "mount", "--snapshotter", snapshotter, image, target});
  return target;
}

inline bool IsMountPoint(const std::string& path) {
  struct stat st {
  }, parent{};
  if (lstat(path.c_str(), &st) != 0 || lstat((path + "/..").c_str(), &parent) != 0) return false;
  return st.st_dev != parent.st_dev;
}

inline void UnmountImage(const Daemon& d, const std::string& target) {
  d.Ok({"images", "unmount", target});
  EXPECT_FALSE(IsMountPoint(target)) << target << " still mounted after ctr images unmount";
}

// The raw directory of committed snapshot `chain_id` (through a view's
// mounts; the view is removed again).
inline std::string SnapshotDir(const Daemon& d, const std::string& snapshotter,
                        const std::string& chain_id, const std::string& view_key) {
  d.Ok({"snapshots", "--snapshotter", snapshotter, "view", view_key, chain_id});
  const std::string mounts =
      d.Ok({"snapshots", "--snapshotter", snapshotter, "mounts", "/unused", view_key});
  d.Ok({"snapshots", "--snapshotter", snapshotter, "rm", view_key});
  return OwnDirOf(mounts);
}

// ---------------------------------------------------------------------------
// 3 and 4: berthd beside a private containerd 1.6.20.

class UnpackVsContainerdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st {};
    ASSERT_EQ(stat(kContainerd, &st), 0) << kContainerd << " is not installed";
    mkdir(scratch_.Join("differ").c_str(), 0700);
    BerthdOptions options;
    options.extra_toml = std::string(kNoCollection) +
                         "[plugins.\"io.containerd.differ.v1.walking\"]\n  temp_dir = \"" +
                         scratch_.Join("differ") + "\"\n";
    berthd_ = std::make_unique<BerthdDaemon>(options);
    ASSERT_TRUE(berthd_->process.Start());
    ASSERT_TRUE(berthd_->process.WaitServing());
    containerd_ = std::make_unique<ContainerdDaemon>(scratch_);
    ASSERT_TRUE(containerd_->Start());
  }
  void TearDown() override {
    berthd_.reset();
    if (containerd_) containerd_->Stop();
    containerd_.reset();
    EXPECT_TRUE(DetachMountsUnder(scratch_.Join("differ"))) << "the differ left mounts";
    // containerd's state (its shim-less tmpmounts) lives under the scratch dir.
    EXPECT_TRUE(DetachMountsUnder(scratch_.path()));
  }
  std::vector<const Daemon*> Both() const { return {berthd_.get(), containerd_.get()}; }

  ScratchDir scratch_{"berth-unpack-cmp-"};
  std::unique_ptr<BerthdDaemon> berthd_;
  std::unique_ptr<ContainerdDaemon> containerd_;
};

}  // namespace berth::test

#endif  // BERTH_TESTS_INTEGRATION_UNPACK_FIXTURE_H_
