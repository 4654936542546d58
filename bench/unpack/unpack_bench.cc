// unpack_bench: import plus unpack of a generated image (about 256 MiB of
// files in 5 gzip layers of mixed file sizes) on overlayfs, through berthd
// and through containerd started in the same run on the same file system,
// beside this machine's limit for the same work: `gzip -dc layer | tar -x`
// into a folder on that file system.
//
// Two figures per daemon:
// - import: the wall time of `ctr images import IMAGE.tar` (content
//   ingest, image record, then ctr's unpack: Diff.Apply per layer onto
//   overlayfs snapshots);
// - apply: the layers applied one by one over gRPC (Snapshots.Prepare on the
//   previous layer, Diff.Apply, Snapshots.Commit) after an import that did
//   not unpack; MB/s of uncompressed layer bytes, Apply calls only.
// Prints both, the ratios berthd/containerd (apply: > 1 is faster) and
// apply as a share of the limit; asserts nothing.
//
//   unpack_bench [--layers N] [--mib MIB_PER_LAYER] [--berthd PATH]
//                [--containerd PATH] [--dir DIR]
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cleanup.h"
#include "containerd/services/diff/v1/diff.grpc.pb.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "daemon.h"
#include "image_gen.h"
#include "run.h"

namespace berth::bench {
namespace {

namespace fs = std::filesystem;
namespace diff_pb = containerd::services::diff::v1;
namespace snap = containerd::services::snapshots::v1;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Mb(std::int64_t bytes) { return static_cast<double>(bytes) / 1e6; }

// Seconds `fn` took; negative when it failed.
double Timed(const std::function<bool()>& fn) {
  const auto start = Clock::now();
  if (!fn()) return -1;
  return Seconds(Clock::now() - start);
}

// gzip -dc | tar -x of every layer into a fresh folder under `dir`.
double LimitSeconds(const GeneratedImage& image, const std::string& dir) {
  const std::string target = dir + "/limit";
  double total = 0;
  for (const GeneratedLayer& layer : image.layers) {
    fs::create_directories(target);
    const double s = Timed([&] {
      return RunToCompletion(
                 {"/bin/sh", "-c", "gzip -dc \"$0\" | tar -x -C \"$1\"", layer.path, target},
                 "/dev/null", dir + "/limit.log") == 0;
    });
    if (s < 0) return -1;
    total += s;
  }
  fs::remove_all(target);
  return total;
}

// `ctr images import` into namespace `ns` (with or without unpacking).
bool CtrImport(const Daemon& d, const std::string& ns, const GeneratedImage& image, bool unpack,
               const std::string& log) {
  std::vector<std::string> argv = {"/usr/bin/ctr", "--address", d.socket(), "-n", ns,
                                   "images",       "import"};
  if (!unpack) argv.push_back("--no-unpack");
  argv.push_back(image.tarball);
  const int rc = RunToCompletion(argv, "/dev/null", log);
  if (rc != 0) std::fprintf(stderr, "ctr images import exited %d; see %s\n", rc, log.c_str());
  return rc == 0;
}

// Prepare/Apply/Commit of every layer in `ns`; the seconds inside Apply.
double ApplySeconds(const Daemon& d, const std::string& ns, const GeneratedImage& image) {
  auto channel = grpc::CreateChannel("unix://" + d.socket(), grpc::InsecureChannelCredentials());
  auto snapshots = snap::Snapshots::NewStub(channel);
  auto differ = diff_pb::Diff::NewStub(channel);
  auto ctx = [&] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->AddMetadata("containerd-namespace", ns);
    return c;
  };
  double total = 0;
  std::string parent;
  for (std::size_t i = 0; i < image.layers.size(); ++i) {
    const GeneratedLayer& layer = image.layers[i];
    snap::PrepareSnapshotRequest prepare;
    prepare.set_snapshotter("overlayfs");
    prepare.set_key("apply-" + std::to_string(i));
    prepare.set_parent(parent);
    snap::PrepareSnapshotResponse mounts;
    grpc::Status s = snapshots->Prepare(ctx().get(), prepare, &mounts);
    if (!s.ok()) {
      std::fprintf(stderr, "Prepare: %s\n", s.error_message().c_str());
      return -1;
    }
    diff_pb::ApplyRequest apply;
    apply.mutable_diff()->set_media_type("application/vnd.oci.image.layer.v1.tar+gzip");
    apply.mutable_diff()->set_digest(layer.digest);
    apply.mutable_diff()->set_size(layer.size);
    *apply.mutable_mounts() = mounts.mounts();
    diff_pb::ApplyResponse applied;
    const auto start = Clock::now();
    s = differ->Apply(ctx().get(), apply, &applied);
    total += Seconds(Clock::now() - start);
    if (!s.ok() || applied.applied().digest() != layer.diff_id) {
      std::fprintf(stderr, "Apply: %s (applied %s, want %s)\n", s.error_message().c_str(),
                   applied.applied().digest().c_str(), layer.diff_id.c_str());
      return -1;
    }
    snap::CommitSnapshotRequest commit;
    commit.set_snapshotter("overlayfs");
    commit.set_name("applied-" + std::to_string(i));
    commit.set_key(prepare.key());
    google::protobuf::Empty empty;
    s = snapshots->Commit(ctx().get(), commit, &empty);
    if (!s.ok()) {
      std::fprintf(stderr, "Commit: %s\n", s.error_message().c_str());
      return -1;
    }
    parent = commit.name();
  }
  return total;
}

struct Figures {
  double import_s = -1;
  double apply_s = -1;
};

}  // namespace
}  // namespace berth::bench

int main(int argc, char** argv) {
  using namespace berth::bench;
  Cleanup::Install();
  CleanupScope cleanup;
  const Flags flags(argc, argv);
  const int layers = flags.Int("--layers", 5, 1);
  const int mib = flags.Int("--mib", 51, 1);
  const DaemonFlags paths = ReadDaemonFlags(flags, BERTH_BIN_DIR);
  const std::string dir = MakeWorkDir(paths.base, "berth-unpack-bench");
  if (dir.empty()) return 1;

  GeneratedImage image;
  const double gen_s = Timed([&] { return GenerateImage(dir, layers, mib, &image); });
  if (gen_s < 0) return 1;
  std::int64_t gz = 0;
  int files = 0;
  for (const GeneratedLayer& l : image.layers) {
    gz += l.size;
    files += l.files;
  }
  const double mb = Mb(image.TarBytes());
  std::printf(
      "unpack_bench: %d layers, %d files, %.1f MB uncompressed, %.1f MB gzip "
      "(generated in %.1f s), work folder %s\n",
      layers, files, mb, Mb(gz), gen_s, dir.c_str());

  const double limit_s = LimitSeconds(image, dir);
  if (limit_s < 0) return 1;

  DaemonPair pair = StartDaemons(paths.berthd, paths.containerd, dir, "", kNoCriToml);
  if (!pair.WaitServing()) return 1;
  const std::vector<std::string>& names = pair.names;
  std::vector<std::unique_ptr<Daemon>>& daemons = pair.daemons;
  std::vector<Figures> figures(daemons.size());
  // Apply first on every daemon, then import with unpack on every daemon:
  // each phase meets the page cache in the same state on both.
  for (std::size_t k = 0; k < daemons.size(); ++k) {
    const std::string log = dir + "/" + names[k] + "-ctr.log";
    if (!CtrImport(*daemons[k], "apply", image, /*unpack=*/false, log)) return 1;
    figures[k].apply_s = ApplySeconds(*daemons[k], "apply", image);
    if (figures[k].apply_s < 0) return 1;
  }
  for (std::size_t k = 0; k < daemons.size(); ++k) {
    const std::string log = dir + "/" + names[k] + "-ctr.log";
    figures[k].import_s = Timed([&] { return CtrImport(*daemons[k], "import", image, true, log); });
    if (figures[k].import_s < 0) return 1;
  }

  std::printf("\nlimit (gzip -dc | tar -x): %.2f s, %.0f MB/s\n\n", limit_s, mb / limit_s);
  std::printf("%-12s %12s %14s %12s\n", "daemon", "import (s)", "apply (MB/s)", "of limit");
  for (std::size_t k = 0; k < daemons.size(); ++k) {
    const double rate = mb / figures[k].apply_s;
    std::printf("%-12s %12.2f %14.0f %11.0f%%\n", names[k].c_str(), figures[k].import_s, rate,
                100.0 * rate / (mb / limit_s));
  }
  if (figures.size() > 1) {
    std::printf(
        "\nberthd/containerd: import time %.2fx (< 1: faster), apply throughput %.2fx "
        "(> 1: faster)\n",
        figures[0].import_s / figures[1].import_s, figures[1].apply_s / figures[0].apply_s);
  }
  return 0;
}
