// proxy_bench: the per-call cost of a proxy plugin, p50 and p99, measured
// against the same plugin loaded in-process, in one run:
//   - at the interface, in this process: Stat and Prepare on the overlay
//     snapshotter opened here, and through the proxy client (berth-proxy) to a
//     berth-snapshotter serving the same overlay plugin;
//   - through berthd: Stat and Prepare on its in-process overlayfs, and on a
//     [proxy_plugins] snapshotter pointing at that berth-snapshotter;
//   - through containerd (when installed): the same two, containerd's own
//     overlayfs and containerd's proxy to the same berth-snapshotter;
//   - a content Read of a 4 KiB and a 1 MiB blob from a berthd whose metadata
//     uses a content proxy to a second berthd, against the same Read served
//     by that second berthd's own content-local.
// Prints figures and the proxied-minus-in-process difference; asserts
// nothing. The daemons run one after the other, each in its own namespace, so
// that none sweeps another's snapshots off the shared peer.
//
//   proxy_bench [--n N] [--berthd PATH] [--containerd PATH] [--snapshotter PATH] [--dir DIR]
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "berth/digest.h"
#include "berth/grpc/status.h"
#include "cleanup.h"
#include "client/snapshotter.h"
#include "containerd/services/content/v1/content.grpc.pb.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "daemon.h"
#include "overlay.h"
#include "run.h"

namespace berth::bench {
namespace {

namespace spb = containerd::services::snapshots::v1;
namespace cpb = containerd::services::content::v1;
using Clock = std::chrono::steady_clock;
constexpr int kWarmup = 20;

struct Figures {
  double p50 = 0, p99 = 0;
  bool ok = false;
};

// Times fn(i) for i in [0, n) after kWarmup unmeasured calls (i < 0).
Figures Time(const std::string& what, int n, const std::function<Status(int)>& fn) {
  std::vector<double> us;
  for (int i = -kWarmup; i < n; ++i) {
    const auto start = Clock::now();
    Status s = fn(i);
    if (!s.ok()) {
      std::fprintf(stderr, "%s: %s\n", what.c_str(), s.ToString().c_str());
      return {};
    }
    if (i >= 0)
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)], true};
}

// Stat, Prepare and Remove of one snapshotter, however it is reached.
struct SnapshotOps {
  std::function<Status(const std::string&)> stat;
  std::function<Status(const std::string&)> prepare;
  std::function<Status(const std::string&)> remove;
};

SnapshotOps InterfaceOps(Snapshotter& sn) {
  return {[&sn](const std::string& k) { return sn.Stat(k).status(); },
          [&sn](const std::string& k) { return sn.Prepare(k, "", {}).status(); },
          [&sn](const std::string& k) { return sn.Remove(k); }};
}

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& ns) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("containerd-namespace", ns);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return ctx;
}

SnapshotOps GrpcOps(std::shared_ptr<spb::Snapshots::Stub> stub, const std::string& snapshotter,
                    const std::string& ns) {
  auto stat = [=](const std::string& k) {
    spb::StatSnapshotRequest req;
    req.set_snapshotter(snapshotter);
    req.set_key(k);
    spb::StatSnapshotResponse resp;
    return grpc_util::FromGrpc(stub->Stat(Ctx(ns).get(), req, &resp));
  };
  auto prepare = [=](const std::string& k) {
    spb::PrepareSnapshotRequest req;
    req.set_snapshotter(snapshotter);
    req.set_key(k);
    (*req.mutable_labels())["containerd.io/gc.root"] = "bench";
    spb::PrepareSnapshotResponse resp;
    return grpc_util::FromGrpc(stub->Prepare(Ctx(ns).get(), req, &resp));
  };
  auto remove = [=](const std::string& k) {
    spb::RemoveSnapshotRequest req;
    req.set_snapshotter(snapshotter);
    req.set_key(k);
    google::protobuf::Empty resp;
    return grpc_util::FromGrpc(stub->Remove(Ctx(ns).get(), req, &resp));
  };
  return {stat, prepare, remove};
}

struct SnapshotFigures {
  Figures stat, prepare;
};

// Stat of one snapshot n times, then n Prepares of new snapshots; removes
// what it made (untimed).
SnapshotFigures MeasureSnapshots(const std::string& name, const SnapshotOps& ops, int n) {
  SnapshotFigures f;
  const std::string statted = name + "-stat";
  if (Status s = ops.prepare(statted); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), s.ToString().c_str());
    return f;
  }
  f.stat = Time(name + " Stat", n, [&](int) { return ops.stat(statted); });
  f.prepare = Time(name + " Prepare", n,
                   [&](int i) { return ops.prepare(name + "-" + std::to_string(i + kWarmup)); });
  (void)ops.remove(statted);
  for (int i = 0; i < n + kWarmup; ++i) (void)ops.remove(name + "-" + std::to_string(i));
  return f;
}

// berth-snapshotter serving the overlay plugin, killed with the bench.
class Peer {
 public:
  Peer(const std::string& binary, const std::string& dir) : socket_(dir + "/peer.sock") {
    std::filesystem::create_directories(dir);
    const std::string log = dir + "/peer.log";
    const std::string root = dir + "/root";
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (out < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(127);
      execl(binary.c_str(), binary.c_str(), "--plugin", "snapshot-overlay", "--root", root.c_str(),
            "--address", socket_.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid_ > 0) Cleanup::AddChild(pid_);
  }
  ~Peer() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status;
    waitpid(pid_, &status, 0);
    Cleanup::RemoveChild(pid_);
  }
  // Polls until a Stat is answered (NotFound counts), for at most 30 s.
  bool WaitServing() {
    auto stub = spb::Snapshots::NewStub(
        grpc::CreateChannel("unix://" + socket_, grpc::InsecureChannelCredentials()));
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (pid_ > 0 && Clock::now() < deadline) {
      spb::StatSnapshotRequest req;
      req.set_key("probe");
      spb::StatSnapshotResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
      grpc::Status s = stub->Stat(&ctx, req, &resp);
      if (s.ok() || s.error_code() == grpc::StatusCode::NOT_FOUND) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  const std::string& socket() const { return socket_; }

 private:
  std::string socket_;
  pid_t pid_ = -1;
};

std::string ProxyToml(const std::string& name, const std::string& type, const std::string& socket) {
  return "[proxy_plugins." + name + "]\n  type = \"" + type + "\"\n  address = \"" + socket +
         "\"\n";
}

// Stat and Prepare through a daemon, on its in-process overlayfs and on its
// proxy "peer"; {} when the daemon does not come up.
std::vector<SnapshotFigures> ThroughDaemon(const std::string& name, const std::string& binary,
                                           const std::string& dir, const std::string& toml, int n) {
  Daemon d(binary, dir, toml);
  if (!d.WaitServing()) {
    std::fprintf(stderr, "%s did not come up; see %s\n", name.c_str(), d.log().c_str());
    return {};
  }
  std::shared_ptr<spb::Snapshots::Stub> stub = spb::Snapshots::NewStub(
      grpc::CreateChannel("unix://" + d.socket(), grpc::InsecureChannelCredentials()));
  const std::string ns = "bench-" + name;
  return {MeasureSnapshots(name + "-overlayfs", GrpcOps(stub, "overlayfs", ns), n),
          MeasureSnapshots(name + "-peer", GrpcOps(stub, "peer", ns), n)};
}

// Ingests `data` as one COMMIT request; OK or the error.
Status Ingest(const std::string& socket, const std::string& ns, const std::string& data,
              const std::string& digest) {
  auto stub = cpb::Content::NewStub(
      grpc::CreateChannel("unix://" + socket, grpc::InsecureChannelCredentials()));
  auto ctx = Ctx(ns);
  auto stream = stub->Write(ctx.get());
  cpb::WriteContentRequest req;
  req.set_action(cpb::COMMIT);
  req.set_ref("bench-" + digest);
  req.set_total(static_cast<std::int64_t>(data.size()));
  req.set_expected(digest);
  req.set_data(data);
  (*req.mutable_labels())["containerd.io/gc.root"] = "bench";  // kept by collections
  cpb::WriteContentResponse resp;
  stream->Write(req);
  stream->Read(&resp);
  stream->WritesDone();
  Status s = grpc_util::FromGrpc(stream->Finish());
  return s.Is(Code::kAlreadyExists) ? Status::Ok() : s;
}

Figures MeasureRead(const std::string& what, const std::string& socket, const std::string& ns,
                    const std::string& digest, std::size_t size, int n) {
  auto stub = cpb::Content::NewStub(
      grpc::CreateChannel("unix://" + socket, grpc::InsecureChannelCredentials()));
  return Time(what, n, [&](int) {
    cpb::ReadContentRequest req;
    req.set_digest(digest);
    auto ctx = Ctx(ns);
    auto reader = stub->Read(ctx.get(), req);
    cpb::ReadContentResponse resp;
    std::size_t got = 0;
    while (reader->Read(&resp)) got += resp.data().size();
    Status s = grpc_util::FromGrpc(reader->Finish());
    if (s.ok() && got != size) s = Status::Unknown("short read");
    return s;
  });
}

void Row(const std::string& label, const Figures& f) {
  if (!f.ok) {
    std::printf("  %-44s %10s %10s\n", label.c_str(), "-", "-");
    return;
  }
  std::printf("  %-44s %10.1f %10.1f\n", label.c_str(), f.p50, f.p99);
}

void Overhead(const std::string& label, const Figures& in_process, const Figures& proxied) {
  if (!in_process.ok || !proxied.ok) return;
  std::printf("  %-44s %+10.1f %+10.1f\n", label.c_str(), proxied.p50 - in_process.p50,
              proxied.p99 - in_process.p99);
}

void Header(const std::string& title) {
  std::printf("\n%s\n  %-44s %10s %10s\n", title.c_str(), "", "p50 us", "p99 us");
}

// The 4 KiB and 1 MiB reads: {direct 4K, proxied 4K, direct 1M, proxied 1M}.
std::vector<Figures> ContentReads(const std::string& berthd, const std::string& dir, int n) {
  std::vector<Figures> out(4);
  Daemon peer(berthd, dir + "/content-peer", "");
  if (!peer.WaitServing()) {
    std::fprintf(stderr, "content peer did not come up; see %s\n", peer.log().c_str());
    return out;
  }
  Daemon main(berthd, dir + "/content-main",
              ProxyToml("blobs", "content", peer.socket()) +
                  "[plugins.\"io.containerd.metadata.v1.leveldb\"]\n  content_store = \"blobs\"\n");
  if (!main.WaitServing()) {
    std::fprintf(stderr, "berthd with a content proxy did not come up; see %s\n",
                 main.log().c_str());
    return out;
  }
  std::size_t i = 0;
  for (std::size_t size : {std::size_t{4096}, std::size_t{1} << 20}) {
    std::string data(size, '\0');
    for (std::size_t j = 0; j < size; ++j) data[j] = static_cast<char>((j * 131 + size) & 0xff);
    const std::string digest = Sha256Of(data);
    Status s = Ingest(main.socket(), "bench", data, digest);
    if (!s.ok()) {
      std::fprintf(stderr, "ingest through the proxy: %s\n", s.ToString().c_str());
      return out;
    }
    out[i++] = MeasureRead("read from the peer", peer.socket(), "bench", digest, size, n);
    out[i++] = MeasureRead("read through the proxy", main.socket(), "bench", digest, size, n);
  }
  return out;
}

}  // namespace
}  // namespace berth::bench

int main(int argc, char** argv) {
  using namespace berth::bench;
  Cleanup::Install();
  CleanupScope cleanup;
  const Flags flags(argc, argv);
  const int n = flags.Int("--n", 500, 1);
  const DaemonFlags paths = ReadDaemonFlags(flags, BERTH_BIN_DIR);
  const std::string& berthd = paths.berthd;
  const std::string& containerd = paths.containerd;
  const std::string snapshotter =
      flags.Str("--snapshotter", std::string(BERTH_BIN_DIR) + "/berth-snapshotter");
  const std::string dir = MakeWorkDir(paths.base, "berth-proxy-bench");
  if (dir.empty()) return 1;
  std::printf("proxy_bench: %d calls each (after %d unmeasured), work folder %s\n", n, kWarmup,
              dir.c_str());

  Peer peer(snapshotter, dir + "/peer");
  if (!peer.WaitServing()) {
    std::fprintf(stderr, "berth-snapshotter did not come up; see %s/peer/peer.log\n", dir.c_str());
    return 1;
  }
  SnapshotFigures local, proxied;
  {
    auto sn = berth::overlay::OverlaySnapshotter::Open(dir + "/in-process", {});
    if (sn.ok()) {
      local = MeasureSnapshots("if-local", InterfaceOps(**sn), n);
      (void)(*sn)->Close();
    }
    auto channel = std::make_shared<berth::proxy::ProxyChannel>(
        berth::proxy::ChannelOptions{"peer", peer.socket(), berth::proxy::kDefaultTimeout});
    berth::proxy::ProxySnapshotter client(channel);
    proxied = MeasureSnapshots("if-proxy", InterfaceOps(client), n);
  }
  Header("snapshots at the interface, in this process");
  Row("Stat     overlay in-process", local.stat);
  Row("Stat     proxy client -> berth-snapshotter", proxied.stat);
  Row("Prepare  overlay in-process", local.prepare);
  Row("Prepare  proxy client -> berth-snapshotter", proxied.prepare);

  const std::string peer_toml = ProxyToml("peer", "snapshot", peer.socket());
  std::vector<SnapshotFigures> b = ThroughDaemon("berthd", berthd, dir + "/berthd", peer_toml, n);
  if (b.size() == 2) {
    Header("snapshots through berthd (" + berthd + ")");
    Row("Stat     overlayfs, in-process plugin", b[0].stat);
    Row("Stat     peer, proxy -> berth-snapshotter", b[1].stat);
    Row("Prepare  overlayfs, in-process plugin", b[0].prepare);
    Row("Prepare  peer, proxy -> berth-snapshotter", b[1].prepare);
  }
  std::vector<SnapshotFigures> c;
  if (access(containerd.c_str(), X_OK) == 0) {
    c = ThroughDaemon("containerd", containerd, dir + "/containerd", kNoCriToml + peer_toml, n);
    if (c.size() == 2) {
      Header("snapshots through containerd (" + containerd + ")");
      Row("Stat     overlayfs, in-process plugin", c[0].stat);
      Row("Stat     peer, proxy -> berth-snapshotter", c[1].stat);
      Row("Prepare  overlayfs, in-process plugin", c[0].prepare);
      Row("Prepare  peer, proxy -> berth-snapshotter", c[1].prepare);
    }
  } else {
    std::printf("\ncontainerd not installed at %s: no comparison\n", containerd.c_str());
  }

  const std::vector<Figures> reads = ContentReads(berthd, dir, n);
  Header("content Read through berthd");
  Row("4 KiB   peer berthd, its own content-local", reads[0]);
  Row("4 KiB   berthd, content proxy -> peer", reads[1]);
  Row("1 MiB   peer berthd, its own content-local", reads[2]);
  Row("1 MiB   berthd, content proxy -> peer", reads[3]);

  Header("what the proxy adds to a call (proxied - in-process)");
  Overhead("Stat     at the interface", local.stat, proxied.stat);
  Overhead("Prepare  at the interface", local.prepare, proxied.prepare);
  if (b.size() == 2) {
    Overhead("Stat     berthd", b[0].stat, b[1].stat);
    Overhead("Prepare  berthd", b[0].prepare, b[1].prepare);
  }
  if (c.size() == 2) {
    Overhead("Stat     containerd", c[0].stat, c[1].stat);
    Overhead("Prepare  containerd", c[0].prepare, c[1].prepare);
  }
  Overhead("Read 4 KiB  berthd (one more hop)", reads[0], reads[1]);
  Overhead("Read 1 MiB  berthd (one more hop)", reads[2], reads[3]);
  return 0;
}
