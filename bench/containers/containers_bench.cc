// containers_bench: latency of the Containers service's calls
// (containerd.services.containers.v1.Containers) through berthd and through
// containerd, both running at once on fresh roots in this run, each called
// over one connection by the same C++ client. `--containers` records (default
// 100, each with a runtime, a label and an OCI spec of about 2.5 KiB) are
// made first; then Get (of one of them) and List (all of them) are timed,
// then Create of `--n` more and Delete of those. The daemons alternate in
// blocks of calls so that the machine's noise falls on both alike. Prints p50
// and p99 per call and daemon, and the ratio berthd/containerd of the medians
// (< 1: berthd is faster); asserts nothing.
//
//   containers_bench [--n CALLS] [--containers N] [--berthd PATH] [--containerd PATH] [--dir DIR]
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cleanup.h"
#include "containerd/services/containers/v1/containers.grpc.pb.h"
#include "run.h"

namespace berth::bench {
namespace {

namespace ctr = containerd::services::containers::v1;
using Clock = std::chrono::steady_clock;

constexpr char kNamespace[] = "bench";
constexpr char kSpecType[] = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

// An OCI spec shaped like the default one a client sends (about 2.5 KiB).
std::string SpecJson(const std::string& id) {
  std::string caps = R"(["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER",)"
                     R"("CAP_MKNOD","CAP_NET_RAW","CAP_SETGID","CAP_SETUID","CAP_SETFCAP",)"
                     R"("CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL",)"
                     R"("CAP_AUDIT_WRITE"])";
  std::string mounts;
  for (const char* m : {"proc", "dev", "devpts", "shm", "mqueue", "sysfs", "cgroup"}) {
    if (!mounts.empty()) mounts += ",";
    mounts += std::string(R"({"destination":"/)") + m + R"(","type":")" + m + R"(","source":")" +
              m + R"(","options":["nosuid","noexec","nodev"]})";
  }
  return R"({"ociVersion":"1.0.2-dev","process":{"user":{"uid":0,"gid":0},)"
         R"("args":["sh","-c","sleep 3600"],"env":["PATH=/usr/local/sbin:/usr/local/bin:)"
         R"(/usr/sbin:/usr/bin:/sbin:/bin"],"cwd":"/","capabilities":{"bounding":)" +
         caps + R"(,"effective":)" + caps + R"(,"permitted":)" + caps +
         R"(},"rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],)"
         R"("noNewPrivileges":true},"root":{"path":"rootfs"},"hostname":")" +
         id + R"(","mounts":[)" + mounts +
         R"(],"linux":{"resources":{"devices":[{"allow":false,"access":"rwm"}]},)"
         R"("cgroupsPath":"/bench/)" +
         id +
         R"(","namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},)"
         R"({"type":"network"}],"maskedPaths":["/proc/acpi","/proc/asound","/proc/kcore",)"
         R"("/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats",)"
         R"("/proc/sched_debug","/sys/firmware","/proc/scsi"],"readonlyPaths":["/proc/bus",)"
         R"("/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}})";
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("containerd-namespace", kNamespace);
  return ctx;
}

bool Check(const grpc::Status& s, const std::string& what) {
  if (!s.ok()) std::fprintf(stderr, "%s: %s\n", what.c_str(), s.error_message().c_str());
  return s.ok();
}

// One daemon's stub.
class Client {
 public:
  explicit Client(const std::string& socket)
      : channel_(grpc::CreateChannel("unix://" + socket, grpc::InsecureChannelCredentials())),
        containers_(ctr::Containers::NewStub(channel_)) {}

  bool Create(const std::string& id) {
    ctr::CreateContainerRequest req;
    ctr::Container* c = req.mutable_container();
    c->set_id(id);
    (*c->mutable_labels())["bench"] = "containers";
    c->mutable_runtime()->set_name("io.containerd.runc.v2");
    c->mutable_spec()->set_type_url(kSpecType);
    c->mutable_spec()->set_value(SpecJson(id));
    ctr::CreateContainerResponse resp;
    return Check(containers_->Create(Ctx().get(), req, &resp), "create " + id);
  }
  bool Get(const std::string& id) {
    ctr::GetContainerRequest req;
    req.set_id(id);
    ctr::GetContainerResponse resp;
    return Check(containers_->Get(Ctx().get(), req, &resp), "get " + id) &&
           resp.container().id() == id;
  }
  // `want`: how many the answer must hold.
  bool List(int want) {
    ctr::ListContainersRequest req;
    ctr::ListContainersResponse resp;
    if (!Check(containers_->List(Ctx().get(), req, &resp), "list")) return false;
    if (resp.containers_size() == want) return true;
    std::fprintf(stderr, "list: %d containers, want %d\n", resp.containers_size(), want);
    return false;
  }
  bool Delete(const std::string& id) {
    ctr::DeleteContainerRequest req;
    req.set_id(id);
    google::protobuf::Empty resp;
    return Check(containers_->Delete(Ctx().get(), req, &resp), "delete " + id);
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ctr::Containers::Stub> containers_;
};

// Times call(client, i) for i in [0, n) on each client, in interleaved
// blocks, after `warm_up` untimed calls (i < 0) on each; latencies in
// microseconds per client.
std::vector<std::vector<double>> Measure(std::vector<Client*>& clients, int n, int warm_up,
                                         const std::function<bool(Client&, int)>& call) {
  constexpr int kBlock = 25;
  std::vector<std::vector<double>> out(clients.size());
  for (Client* c : clients) {
    for (int i = 1; i <= warm_up; ++i) call(*c, -i);
  }
  for (int done = 0; done < n; done += kBlock) {
    for (std::size_t k = 0; k < clients.size(); ++k) {
      for (int i = done; i < done + kBlock && i < n; ++i) {
        const auto start = Clock::now();
        if (!call(*clients[k], i)) continue;
        out[k].push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
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
  const int present = flags.Int("--containers", 100, 1);
  const DaemonFlags paths = ReadDaemonFlags(flags, BERTH_BIN_DIR);
  const std::string dir = MakeWorkDir(paths.base, "berth-containers-bench");
  if (dir.empty()) return 1;
  std::printf(
      "containers_bench: %d calls of each kind per daemon, interleaved, %d containers "
      "present, work folder %s\n",
      n, present, dir.c_str());

  DaemonPair daemons = StartDaemons(paths.berthd, paths.containerd, dir, kNoGcToml, kNoCriToml);
  if (!daemons.WaitServing()) return 1;
  std::vector<std::unique_ptr<Client>> owned;  // dies before the daemons
  std::vector<Client*> clients;
  for (const auto& daemon : daemons.daemons) {
    owned.push_back(std::make_unique<Client>(daemon->socket()));
    clients.push_back(owned.back().get());
    for (int i = 0; i < present; ++i) {
      if (!clients.back()->Create("base-" + std::to_string(i))) return 1;
    }
  }

  // Warm-up calls (i < 0) of Create and Delete work on their own records.
  const auto new_id = [](int i) {
    return (i < 0 ? "warm-" : "new-") + std::to_string(i < 0 ? -i : i);
  };
  struct Call {
    const char* name;
    std::function<bool(Client&, int)> run;
  };
  const std::vector<Call> calls = {
      {"Get",
       [&](Client& c, int i) { return c.Get("base-" + std::to_string(((i % present) + present) % present)); }},
      {"List", [&](Client& c, int) { return c.List(present); }},
      {"Create", [&](Client& c, int i) { return c.Create(new_id(i)); }},
      {"Delete", [&](Client& c, int i) { return c.Delete(new_id(i)); }},
  };
  PrintLatencyHeader(10, "call (µs)", daemons.names);
  for (const Call& call : calls) PrintLatencyRow(10, call.name, Measure(clients, n, 20, call.run));
  return 0;
}
