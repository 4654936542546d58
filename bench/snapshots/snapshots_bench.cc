// snapshots_bench: per-operation latency (p50, p99) and operations per second
// of one snapshot sequence, repeated N times:
//   Prepare(active over a committed base) → Mounts → Stat → Commit →
//   View(of the commit) → Remove(view) → Remove(commit)
// run in-process on the overlay snapshotter, through berthd's gRPC snapshots
// service, and through containerd's (overlayfs) when it is installed, each
// daemon started on a fresh temporary root in this run; then the same for
// the btrfs snapshotters (berth's in-process and through berthd, and
// containerd's), their roots on one btrfs filesystem on a loop device made
// for the run. Prints figures, the containerd/berthd ratio (>1: berthd is
// faster) and the Prepare/Commit/Remove latencies of btrfs beside overlayfs;
// asserts nothing.
//
//   snapshots_bench [--n N] [--berthd PATH] [--containerd PATH] [--dir DIR] [--no-btrfs]
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "daemon.h"
#include "overlay.h"
#if BERTH_BENCH_BTRFS
#include "btrfs.h"
#include "btrfs_loop.h"
#endif

namespace berth::bench {
namespace {

namespace fs = std::filesystem;
namespace pb = containerd::services::snapshots::v1;
using Clock = std::chrono::steady_clock;

const std::vector<std::string> kOps = {"Prepare", "Mounts", "Stat",  "Commit",
                                       "View",    "Remove", "Remove(view)"};

// The sequence's operations against one snapshotter; each returns success.
class Target {
 public:
  virtual ~Target() = default;
  virtual bool Prepare(const std::string& key, const std::string& parent) = 0;
  virtual bool View(const std::string& key, const std::string& parent) = 0;
  virtual bool Mounts(const std::string& key) = 0;
  virtual bool Stat(const std::string& key) = 0;
  virtual bool Commit(const std::string& name, const std::string& key) = 0;
  virtual bool Remove(const std::string& key) = 0;
  virtual std::string LastError() const = 0;
};

class InProcessTarget final : public Target {
 public:
  explicit InProcessTarget(std::shared_ptr<Snapshotter> sn) : sn_(std::move(sn)) {}
  bool Prepare(const std::string& key, const std::string& parent) override {
    return Check(sn_->Prepare(key, parent, {}).status());
  }
  bool View(const std::string& key, const std::string& parent) override {
    return Check(sn_->View(key, parent, {}).status());
  }
  bool Mounts(const std::string& key) override { return Check(sn_->Mounts(key).status()); }
  bool Stat(const std::string& key) override { return Check(sn_->Stat(key).status()); }
  bool Commit(const std::string& name, const std::string& key) override {
    return Check(sn_->Commit(name, key, {}));
  }
  bool Remove(const std::string& key) override { return Check(sn_->Remove(key)); }
  std::string LastError() const override { return error_; }

 private:
  bool Check(const Status& s) {
    if (!s.ok()) error_ = s.ToString();
    return s.ok();
  }
  std::shared_ptr<Snapshotter> sn_;
  std::string error_;
};

// containerd's snapshots API; labels as ctr sets them, so that containerd's
// garbage collector keeps what the sequence creates.
class GrpcTarget final : public Target {
 public:
  GrpcTarget(const std::string& socket, std::string snapshotter)
      : snapshotter_(std::move(snapshotter)),
        stub_(pb::Snapshots::NewStub(grpc::CreateChannel(
            "unix://" + socket, grpc::InsecureChannelCredentials()))) {}
  bool Prepare(const std::string& key, const std::string& parent) override {
    pb::PrepareSnapshotRequest req;
    req.set_snapshotter(snapshotter_);
    req.set_key(key);
    req.set_parent(parent);
    (*req.mutable_labels())["containerd.io/gc.root"] = "bench";
    pb::PrepareSnapshotResponse resp;
    return Check(stub_->Prepare(Ctx().get(), req, &resp));
  }
  bool View(const std::string& key, const std::string& parent) override {
    pb::ViewSnapshotRequest req;
    req.set_snapshotter(snapshotter_);
    req.set_key(key);
    req.set_parent(parent);
    (*req.mutable_labels())["containerd.io/gc.root"] = "bench";
    pb::ViewSnapshotResponse resp;
    return Check(stub_->View(Ctx().get(), req, &resp));
  }
  bool Mounts(const std::string& key) override {
    pb::MountsRequest req;
    req.set_snapshotter(snapshotter_);
    req.set_key(key);
    pb::MountsResponse resp;
    return Check(stub_->Mounts(Ctx().get(), req, &resp));
  }
  bool Stat(const std::string& key) override {
    pb::StatSnapshotRequest req;
    req.set_snapshotter(snapshotter_);
    req.set_key(key);
    pb::StatSnapshotResponse resp;
    return Check(stub_->Stat(Ctx().get(), req, &resp));
  }
  bool Commit(const std::string& name, const std::string& key) override {
    pb::CommitSnapshotRequest req;
    req.set_snapshotter(snapshotter_);
    req.set_name(name);
    req.set_key(key);
    (*req.mutable_labels())["containerd.io/gc.root"] = "bench";
    google::protobuf::Empty resp;
    return Check(stub_->Commit(Ctx().get(), req, &resp));
  }
  bool Remove(const std::string& key) override {
    pb::RemoveSnapshotRequest req;
    req.set_snapshotter(snapshotter_);
    req.set_key(key);
    google::protobuf::Empty resp;
    return Check(stub_->Remove(Ctx().get(), req, &resp));
  }
  std::string LastError() const override { return error_; }

 private:
  static std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("containerd-namespace", "bench");
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return ctx;
  }
  bool Check(const grpc::Status& s) {
    if (!s.ok()) error_ = s.error_message();
    return s.ok();
  }
  std::string snapshotter_;
  std::unique_ptr<pb::Snapshots::Stub> stub_;
  std::string error_;
};

struct OpFigures {
  double p50_us = 0, p99_us = 0, ops_per_s = 0;
};

struct RunFigures {
  std::map<std::string, OpFigures> ops;
  double sequence_ops_per_s = 0;
  bool ok = false;
};

OpFigures Summarise(std::vector<double> us) {
  if (us.empty()) return {};
  std::sort(us.begin(), us.end());
  double total = 0;
  for (double v : us) total += v;
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)],
          1e6 * static_cast<double>(us.size()) / total};
}

// Runs the sequence `n` times (after a few unmeasured warm-up rounds).
RunFigures RunSequence(const std::string& name, Target& t, int n) {
  RunFigures out;
  if (!t.Prepare("base-active", "") || !t.Commit("base", "base-active")) {
    std::fprintf(stderr, "%s: cannot create the base: %s\n", name.c_str(),
                 t.LastError().c_str());
    return out;
  }
  std::map<std::string, std::vector<double>> samples;
  auto timed = [&](const std::string& op, bool measure, const std::function<bool()>& fn) {
    const auto start = Clock::now();
    const bool ok = fn();
    if (measure) {
      samples[op].push_back(
          std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
    if (!ok) std::fprintf(stderr, "%s: %s: %s\n", name.c_str(), op.c_str(), t.LastError().c_str());
    return ok;
  };
  constexpr int kWarmup = 5;
  const auto start = Clock::now();
  auto measured_start = start;
  for (int i = 0; i < n + kWarmup; ++i) {
    if (i == kWarmup) measured_start = Clock::now();
    const bool m = i >= kWarmup;
    const std::string k = "s" + std::to_string(i);
    if (!timed("Prepare", m, [&] { return t.Prepare(k + "-a", "base"); }) ||
        !timed("Mounts", m, [&] { return t.Mounts(k + "-a"); }) ||
        !timed("Stat", m, [&] { return t.Stat(k + "-a"); }) ||
        !timed("Commit", m, [&] { return t.Commit(k, k + "-a"); }) ||
        !timed("View", m, [&] { return t.View(k + "-v", k); }) ||
        !timed("Remove(view)", m, [&] { return t.Remove(k + "-v"); }) ||
        !timed("Remove", m, [&] { return t.Remove(k); })) {
      return out;
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - measured_start).count();
  for (auto& [op, us] : samples) out.ops[op] = Summarise(us);
  out.sequence_ops_per_s = 7.0 * n / seconds;
  out.ok = true;
  return out;
}

void Print(const std::string& name, const RunFigures& f) {
  std::printf("\n%s\n", name.c_str());
  if (!f.ok) {
    std::printf("  (failed; see the messages above)\n");
    return;
  }
  std::printf("  %-13s %10s %10s %10s\n", "op", "p50 us", "p99 us", "ops/s");
  for (const auto& op : kOps) {
    const OpFigures& o = f.ops.at(op);
    std::printf("  %-13s %10.1f %10.1f %10.0f\n", op.c_str(), o.p50_us, o.p99_us,
                o.ops_per_s);
  }
  std::printf("  sequence throughput: %.0f ops/s\n", f.sequence_ops_per_s);
}

void PrintRatio(const std::string& what, const RunFigures& berthd,
                const RunFigures& containerd) {
  if (!berthd.ok || !containerd.ok) return;
  std::printf("\ncontainerd / berthd, %s (gRPC; >1 means berthd is faster)\n", what.c_str());
  std::printf("  %-13s %10s %10s\n", "op", "p50", "p99");
  for (const auto& op : kOps) {
    const OpFigures& b = berthd.ops.at(op);
    const OpFigures& c = containerd.ops.at(op);
    std::printf("  %-13s %9.2fx %9.2fx\n", op.c_str(), c.p50_us / b.p50_us,
                c.p99_us / b.p99_us);
  }
  std::printf("  %-13s %9.2fx\n", "throughput",
              berthd.sequence_ops_per_s / containerd.sequence_ops_per_s);
}

// Prepare, Commit and Remove p50 / p99 (us) of each run, one column per run.
void PrintSideBySide(const std::vector<std::pair<std::string, const RunFigures*>>& runs) {
  std::printf("\nbtrfs beside overlayfs: p50 / p99 us\n  %-13s", "op");
  for (const auto& [name, f] : runs) std::printf(" %20s", name.c_str());
  std::printf("\n");
  for (const std::string op : {"Prepare", "Commit", "Remove", "Remove(view)"}) {
    std::printf("  %-13s", op.c_str());
    for (const auto& [name, f] : runs) {
      if (!f->ok) {
        std::printf(" %20s", "-");
        continue;
      }
      const OpFigures& o = f->ops.at(op);
      char cell[32];
      std::snprintf(cell, sizeof(cell), "%.0f / %.0f", o.p50_us, o.p99_us);
      std::printf(" %20s", cell);
    }
    std::printf("\n");
  }
}

RunFigures InProcess(const std::string& name, std::shared_ptr<Snapshotter> sn, int n) {
  InProcessTarget t(sn);
  RunFigures f = RunSequence(name, t, n);
  (void)sn->Close();
  return f;
}

RunFigures InProcessOverlay(const std::string& dir, int n) {
  auto sn = overlay::OverlaySnapshotter::Open(dir + "/in-process", {});
  if (!sn.ok()) {
    std::fprintf(stderr, "in-process: %s\n", sn.status().ToString().c_str());
    return {};
  }
  return InProcess("in-process", *sn, n);
}

// Runs the sequence against each of `snapshotters` in one daemon.
std::vector<RunFigures> ThroughDaemon(const std::string& name, const std::string& binary,
                                      const std::string& dir, const std::string& extra_toml,
                                      const std::vector<std::string>& snapshotters, int n) {
  Daemon d(binary, dir, extra_toml);
  if (!d.WaitServing()) {
    std::fprintf(stderr, "%s did not come up; see %s\n", name.c_str(), d.log().c_str());
    return std::vector<RunFigures>(snapshotters.size());
  }
  std::vector<RunFigures> out;
  for (const auto& snapshotter : snapshotters) {
    GrpcTarget t(d.socket(), snapshotter);
    out.push_back(RunSequence(name + " " + snapshotter, t, n));
  }
  return out;
}

std::string BtrfsRootToml(const std::string& root) {
  return "[plugins.\"io.containerd.snapshotter.v1.btrfs\"]\n  root_path = \"" + root + "\"\n";
}

}  // namespace
}  // namespace berth::bench

int main(int argc, char** argv) {
  using namespace berth::bench;
  int n = 200;
  bool with_btrfs = true;
  std::string berthd = std::string(BERTH_BIN_DIR) + "/berthd";
  std::string containerd = "/usr/bin/containerd";
  std::string base = "/var/tmp";  // a real disk: overlay cannot sit on tmpfs/overlay
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--no-btrfs") {
      with_btrfs = false;
      continue;
    }
    if (i + 1 >= argc) break;
    if (a == "--n") n = std::max(1, std::atoi(argv[i + 1]));
    else if (a == "--berthd") berthd = argv[i + 1];
    else if (a == "--containerd") containerd = argv[i + 1];
    else if (a == "--dir") base = argv[i + 1];
    ++i;
  }
  std::string tmpl = base + "/berth-snapshots-bench-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  std::printf("snapshots_bench: %d sequences of 7 operations, work folder %s\n", n,
              dir.c_str());
  const bool have_containerd = access(containerd.c_str(), X_OK) == 0;

  // Where the btrfs snapshotters keep their roots; empty: btrfs not measured.
  std::string btrfs_mnt;
#if BERTH_BENCH_BTRFS
  std::unique_ptr<berth::test::BtrfsLoop> loop;
  if (with_btrfs) {
    loop = std::make_unique<berth::test::BtrfsLoop>(std::uint64_t{4} << 30);
    if (loop->ok()) {
      btrfs_mnt = loop->mount_point();
      std::printf("btrfs on %s mounted at %s\n", loop->device().c_str(), btrfs_mnt.c_str());
    } else {
      std::printf("no btrfs loop filesystem (%s): btrfs not measured\n", loop->error().c_str());
    }
  }
#else
  if (with_btrfs) std::printf("built without the btrfs snapshotter: btrfs not measured\n");
#endif
  const bool btrfs = !btrfs_mnt.empty();
  std::vector<std::string> snapshotters = {"overlayfs"};
  if (btrfs) snapshotters.push_back("btrfs");

  const RunFigures in_process = InProcessOverlay(dir, n);
  Print("in-process overlay snapshotter (no metadata, no gRPC)", in_process);
  RunFigures in_process_btrfs;
#if BERTH_BENCH_BTRFS
  if (btrfs) {
    auto sn = berth::btrfs::BtrfsSnapshotter::Open(btrfs_mnt + "/in-process");
    if (sn.ok()) {
      in_process_btrfs = InProcess("in-process btrfs", *sn, n);
    } else {
      std::fprintf(stderr, "in-process btrfs: %s\n", sn.status().ToString().c_str());
    }
    Print("in-process btrfs snapshotter (no metadata, no gRPC)", in_process_btrfs);
  }
#endif
  const std::vector<RunFigures> b =
      ThroughDaemon("berthd", berthd, dir + "/berthd",
                    btrfs ? BtrfsRootToml(btrfs_mnt + "/berthd") : "", snapshotters, n);
  for (std::size_t i = 0; i < snapshotters.size(); ++i) {
    Print("berthd gRPC, " + snapshotters[i] + " (" + berthd + ")", b[i]);
  }
  std::vector<RunFigures> c(snapshotters.size());
  if (have_containerd) {
    c = ThroughDaemon("containerd", containerd, dir + "/containerd",
                      "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n" +
                          (btrfs ? BtrfsRootToml(btrfs_mnt + "/containerd") : ""),
                      snapshotters, n);
    for (std::size_t i = 0; i < snapshotters.size(); ++i) {
      Print("containerd gRPC, " + snapshotters[i] + " (" + containerd + ")", c[i]);
    }
    for (std::size_t i = 0; i < snapshotters.size(); ++i) PrintRatio(snapshotters[i], b[i], c[i]);
  } else {
    std::printf("\ncontainerd not installed at %s: no comparison\n", containerd.c_str());
  }
  if (btrfs) {
    std::vector<std::pair<std::string, const RunFigures*>> runs = {
        {"in-proc overlayfs", &in_process}, {"in-proc btrfs", &in_process_btrfs},
        {"berthd overlayfs", &b[0]},        {"berthd btrfs", &b[1]}};
    if (have_containerd) {
      runs.push_back({"containerd overlayfs", &c[0]});
      runs.push_back({"containerd btrfs", &c[1]});
    }
    PrintSideBySide(runs);
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
