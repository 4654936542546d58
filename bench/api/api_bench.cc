// api_bench: latency of the cheap calls a client makes most (Version,
// Namespaces.Get, Snapshots.Stat, Snapshots.Mounts, Content.Info) through
// berthd and through containerd, both running at once on fresh roots in this
// run, each called over one connection by the same C++ client. The calls are
// interleaved in rounds (a block on berthd, then the same block on
// containerd) so that the machine's noise falls on both alike. Prints p50 and
// p99 per call and daemon, and the ratio berthd/containerd of the medians
// (< 1: berthd is faster); asserts nothing.
//
//   api_bench [--n CALLS] [--berthd PATH] [--containerd PATH] [--dir DIR]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "cleanup.h"
#include "containerd/services/content/v1/content.grpc.pb.h"
#include "containerd/services/namespaces/v1/namespace.grpc.pb.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "containerd/services/version/v1/version.grpc.pb.h"
#include "run.h"

namespace berth::bench {
namespace {

namespace fs = std::filesystem;
namespace snap = containerd::services::snapshots::v1;
namespace content = containerd::services::content::v1;
namespace ns_pb = containerd::services::namespaces::v1;
namespace version = containerd::services::version::v1;
using Clock = std::chrono::steady_clock;

constexpr char kNamespace[] = "bench";
const std::vector<std::string> kCalls = {"Version", "Namespaces.Get", "Snapshots.Stat",
                                         "Snapshots.Mounts", "Content.Info"};

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("containerd-namespace", kNamespace);
  return ctx;
}

// One daemon's stubs and the objects the calls name.
class Client {
 public:
  explicit Client(const std::string& socket)
      : channel_(grpc::CreateChannel("unix://" + socket, grpc::InsecureChannelCredentials())),
        version_(version::Version::NewStub(channel_)),
        namespaces_(ns_pb::Namespaces::NewStub(channel_)),
        snapshots_(snap::Snapshots::NewStub(channel_)),
        content_(content::Content::NewStub(channel_)) {}

  // Makes what the calls read: the namespace, a committed and an active
  // snapshot, a blob. False (with a message) when any step fails.
  bool Setup() {
    grpc::Status s;
    {
      snap::PrepareSnapshotRequest req;
      req.set_snapshotter("overlayfs");
      req.set_key("base-active");
      (*req.mutable_labels())["containerd.io/gc.root"] = "bench";
      snap::PrepareSnapshotResponse resp;
      s = snapshots_->Prepare(Ctx().get(), req, &resp);
      if (!Check(s, "prepare")) return false;
      snap::CommitSnapshotRequest commit;
      commit.set_snapshotter("overlayfs");
      commit.set_key("base-active");
      commit.set_name("base");
      (*commit.mutable_labels())["containerd.io/gc.root"] = "bench";
      google::protobuf::Empty empty;
      if (!Check(snapshots_->Commit(Ctx().get(), commit, &empty), "commit")) return false;
      req.set_key("active");
      req.set_parent("base");
      if (!Check(snapshots_->Prepare(Ctx().get(), req, &resp), "prepare")) return false;
    }
    auto ctx = Ctx();
    auto stream = content_->Write(ctx.get());
    content::WriteContentRequest req;
    req.set_action(content::COMMIT);
    req.set_ref("bench-blob");
    req.set_data("api bench blob");
    (*req.mutable_labels())["containerd.io/gc.root"] = "bench";
    content::WriteContentResponse resp;
    if (!stream->Write(req) || !stream->Read(&resp)) return Check(stream->Finish(), "write");
    digest_ = resp.digest();
    stream->WritesDone();
    while (stream->Read(&resp)) {
    }
    return Check(stream->Finish(), "write");
  }

  // One call of `name`; false when it fails.
  bool Call(const std::string& name) {
    auto ctx = Ctx();
    grpc::Status s;
    if (name == "Version") {
      google::protobuf::Empty req;
      version::VersionResponse resp;
      s = version_->Version(ctx.get(), req, &resp);
    } else if (name == "Namespaces.Get") {
      ns_pb::GetNamespaceRequest req;
      req.set_name(kNamespace);
      ns_pb::GetNamespaceResponse resp;
      s = namespaces_->Get(ctx.get(), req, &resp);
    } else if (name == "Snapshots.Stat") {
      snap::StatSnapshotRequest req;
      req.set_snapshotter("overlayfs");
      req.set_key("base");
      snap::StatSnapshotResponse resp;
      s = snapshots_->Stat(ctx.get(), req, &resp);
    } else if (name == "Snapshots.Mounts") {
      snap::MountsRequest req;
      req.set_snapshotter("overlayfs");
      req.set_key("active");
      snap::MountsResponse resp;
      s = snapshots_->Mounts(ctx.get(), req, &resp);
    } else {
      content::InfoRequest req;
      req.set_digest(digest_);
      content::InfoResponse resp;
      s = content_->Info(ctx.get(), req, &resp);
    }
    return Check(s, name);
  }

 private:
  static bool Check(const grpc::Status& s, const std::string& what) {
    if (!s.ok()) std::fprintf(stderr, "%s: %s\n", what.c_str(), s.error_message().c_str());
    return s.ok();
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<version::Version::Stub> version_;
  std::unique_ptr<ns_pb::Namespaces::Stub> namespaces_;
  std::unique_ptr<snap::Snapshots::Stub> snapshots_;
  std::unique_ptr<content::Content::Stub> content_;
  std::string digest_;
};

// Times `n` calls of `name` on each client, in interleaved blocks; latencies
// in microseconds per client.
std::vector<std::vector<double>> Measure(std::vector<Client*>& clients, const std::string& name,
                                         int n) {
  constexpr int kBlock = 25;
  std::vector<std::vector<double>> out(clients.size());
  for (Client* c : clients) {  // warm up connections and caches
    for (int i = 0; i < 20; ++i) c->Call(name);
  }
  for (int done = 0; done < n; done += kBlock) {
    for (std::size_t k = 0; k < clients.size(); ++k) {
      for (int i = 0; i < kBlock && done + i < n; ++i) {
        const auto start = Clock::now();
        if (!clients[k]->Call(name)) continue;
        out[k].push_back(
            std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      }
    }
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
  const int n = flags.Int("--n", 2000, 1);
  const DaemonFlags paths = ReadDaemonFlags(flags, BERTH_BIN_DIR);
  const std::string dir = MakeWorkDir(paths.base, "berth-api-bench");
  if (dir.empty()) return 1;
  std::printf("api_bench: %d calls of each kind per daemon, interleaved, work folder %s\n", n,
              dir.c_str());

  DaemonPair daemons = StartDaemons(paths.berthd, paths.containerd, dir, kNoGcToml, kNoCriToml);
  if (!daemons.WaitServing()) return 1;
  std::vector<std::unique_ptr<Client>> owned;  // dies before the daemons
  std::vector<Client*> clients;
  for (const auto& daemon : daemons.daemons) {
    owned.push_back(std::make_unique<Client>(daemon->socket()));
    if (!owned.back()->Setup()) return 1;
    clients.push_back(owned.back().get());
  }

  PrintLatencyHeader(18, "call (µs)", daemons.names);
  for (const std::string& call : kCalls) PrintLatencyRow(18, call, Measure(clients, call, n));
  return 0;
}
