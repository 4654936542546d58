// tasks_bench: what running a container costs through the Tasks API, on
// berthd and on containerd, both running at once on fresh roots in this run
// and driven by the same C++ gRPC client, with berth's shim
// (containerd-shim-berth-v2, runtime io.containerd.berth.v2) and the stock
// one (containerd-shim-runc-v2, io.containerd.runc.v2), each over runc and
// over crun (runtime options containerd.runc.v1.Options binary_name).
//
// 1. Latency, per combination of daemon, shim and OCI runtime, over `--n`
//    rounds; the combinations take turns within each round (the order
//    rotating) so that the machine's noise falls on all alike:
//    - echo: Snapshots.Prepare of the busybox layer, Containers.Create (the
//      spec `ctr oci spec` prints, with the args, PATH and cgroup path ctr
//      run sets), Tasks.Create with the rootfs mounts and no stdio,
//      Tasks.Start, Tasks.Wait until exit, Tasks.Delete, Containers.Delete,
//      Snapshots.Remove; p50/p99 of the whole and p50 of its three parts.
//    - detached start: Tasks.Create + Tasks.Start of `sleep 1000` (snapshot
//      and container made before, kill and delete after, both untimed).
//    Ratios are to containerd + stock shim + runc (< 1: faster).
// 2. Idle shims under berthd (runc): `--idle` counts of `sleep 1000`
//    containers per shim; per shim process (the parent of each init pid) the
//    RSS and PSS of /proc/PID/smaps_rollup and the Threads of
//    /proc/PID/status, averaged; ours/stock ratios.
// 3. The shim sockets (/run/containerd/s/<sha256 of address/ns/id>) left
//    behind after Tasks.Delete, per daemon; they are removed.
//
// Prints, never asserts. Every task, container, snapshot, shim, cgroup and
// folder it made is removed however it ends: on SIGINT/SIGTERM/SIGHUP the
// main thread is parked, the tasks are removed through the API, and what the
// API could not remove (a daemon that died, e.g. from the same ^C) by hand:
// `runc|crun delete --force`, SIGKILL of our daemons' shims, unmounting.
//
//   tasks_bench [--n ROUNDS] [--idle 20,100] [--runtimes runc,crun]
//               [--berthd PATH] [--containerd PATH] [--dir DIR]
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>
#include <openssl/sha.h>

#include "berth/mutex.h"
#include "cleanup.h"
#include "containerd/services/containers/v1/containers.grpc.pb.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "containerd/services/tasks/v1/tasks.grpc.pb.h"
#include "daemon.h"

namespace berth::bench {
namespace {

namespace fs = std::filesystem;
namespace ctr_pb = containerd::services::containers::v1;
namespace snap = containerd::services::snapshots::v1;
namespace tasks = containerd::services::tasks::v1;
using Clock = std::chrono::steady_clock;
using Mounts = google::protobuf::RepeatedPtrField<containerd::types::Mount>;
using namespace std::chrono_literals;

constexpr char kSnapshotter[] = "overlayfs";
constexpr char kImage[] = "docker.io/library/busybox:latest";
constexpr char kSpecType[] = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
constexpr char kRuncOptionsType[] = "containerd.runc.v1.Options";
constexpr char kBerthRuntime[] = "io.containerd.berth.v2";
constexpr char kStockRuntime[] = "io.containerd.runc.v2";
constexpr char kStockShim[] = "/usr/bin/containerd-shim-runc-v2";
constexpr char kCtr[] = "/usr/bin/ctr";
// The Env of the image scripts/busybox-image.sh makes, which ctr run copies.
constexpr char kImagePath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr char kRuncRoot[] = "/run/containerd/runc";  // both shims' default

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The first number after "key:" in a /proc file of "Key: value" lines; -1.
long ProcField(const std::string& path, const std::string& key) {
  std::istringstream in(ReadFile(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::atol(line.c_str() + key.size() + 1);
  }
  return -1;
}

// `name` on PATH (then /usr/sbin, /usr/bin), or "".
std::string Which(const std::string& name) {
  std::string path = getenv("PATH") ? getenv("PATH") : "";
  path += ":/usr/sbin:/usr/bin";
  std::istringstream dirs(path);
  std::string d;
  while (std::getline(dirs, d, ':')) {
    if (!d.empty() && access((d + "/" + name).c_str(), X_OK) == 0) return d + "/" + name;
  }
  return "";
}

// containerd.runc.v1.Options with only binary_name (field 6, a string) set,
// in protobuf's wire format: key (6 << 3 | 2), varint length, bytes. The SDK
// has no full proto for the message and one field does not need one.
google::protobuf::Any RuncOptions(const std::string& binary) {
  std::string value(1, static_cast<char>(6 << 3 | 2));
  for (std::size_t n = binary.size();; n >>= 7) {
    if (n < 0x80) {
      value.push_back(static_cast<char>(n));
      break;
    }
    value.push_back(static_cast<char>((n & 0x7f) | 0x80));
  }
  value += binary;
  google::protobuf::Any any;
  any.set_type_url(kRuncOptionsType);
  any.set_value(value);
  return any;
}

// One daemon's stubs, in one namespace. Every call has a deadline
// (timeout(), 60 s unless lowered); thread-safe.
class Client {
 public:
  Client(const std::string& socket, const std::string& ns)
      : ns_(ns),
        channel_(grpc::CreateChannel("unix://" + socket, grpc::InsecureChannelCredentials())),
        containers_(ctr_pb::Containers::NewStub(channel_)),
        tasks_(tasks::Tasks::NewStub(channel_)),
        snapshots_(snap::Snapshots::NewStub(channel_)) {}

  void set_timeout(std::chrono::seconds t) { timeout_s_ = static_cast<int>(t.count()); }
  // False once a call found the daemon gone or stuck (UNAVAILABLE or
  // DEADLINE_EXCEEDED); the clean-up then skips it.
  bool alive() const { return alive_; }

  bool Prepare(const std::string& key, const std::string& parent, Mounts* mounts) {
    snap::PrepareSnapshotRequest req;
    req.set_snapshotter(kSnapshotter);
    req.set_key(key);
    req.set_parent(parent);
    // Kept from a collection between Prepare and Containers.Create (ctr
    // holds a lease instead).
    (*req.mutable_labels())["containerd.io/gc.root"] = "tasks_bench";
    snap::PrepareSnapshotResponse resp;
    if (!Check(snapshots_->Prepare(Ctx().get(), req, &resp), "Snapshots.Prepare")) return false;
    *mounts = resp.mounts();
    return true;
  }

  bool CreateContainer(const std::string& id, const std::string& runtime,
                       const std::string& spec) {
    ctr_pb::CreateContainerRequest req;
    ctr_pb::Container* c = req.mutable_container();
    c->set_id(id);
    c->set_image(kImage);
    c->mutable_runtime()->set_name(runtime);
    c->mutable_spec()->set_type_url(kSpecType);
    c->mutable_spec()->set_value(spec);
    c->set_snapshotter(kSnapshotter);
    c->set_snapshot_key(id);
    ctr_pb::CreateContainerResponse resp;
    return Check(containers_->Create(Ctx().get(), req, &resp), "Containers.Create");
  }

  // No stdio (empty paths). `binary` other than runc goes in the options.
  bool CreateTask(const std::string& id, const Mounts& rootfs, const std::string& binary) {
    tasks::CreateTaskRequest req;
    req.set_container_id(id);
    *req.mutable_rootfs() = rootfs;
    if (binary != "runc") *req.mutable_options() = RuncOptions(binary);
    tasks::CreateTaskResponse resp;
    return Check(tasks_->Create(Ctx().get(), req, &resp), "Tasks.Create");
  }

  bool Start(const std::string& id) {
    tasks::StartRequest req;
    req.set_container_id(id);
    tasks::StartResponse resp;
    return Check(tasks_->Start(Ctx().get(), req, &resp), "Tasks.Start");
  }

  bool Wait(const std::string& id, uint32_t* exit_status, bool quiet = false) {
    tasks::WaitRequest req;
    req.set_container_id(id);
    tasks::WaitResponse resp;
    if (!Check(tasks_->Wait(Ctx().get(), req, &resp), "Tasks.Wait", quiet)) return false;
    *exit_status = resp.exit_status();
    return true;
  }

  bool Kill(const std::string& id, int signal, bool quiet = false) {
    tasks::KillRequest req;
    req.set_container_id(id);
    req.set_signal(static_cast<uint32_t>(signal));
    google::protobuf::Empty resp;
    return Check(tasks_->Kill(Ctx().get(), req, &resp), "Tasks.Kill", quiet);
  }

  // The task's init pid; -1 when the call fails.
  pid_t InitPid(const std::string& id) {
    tasks::GetRequest req;
    req.set_container_id(id);
    tasks::GetResponse resp;
    if (!Check(tasks_->Get(Ctx().get(), req, &resp), "Tasks.Get")) return -1;
    return static_cast<pid_t>(resp.process().pid());
  }

  // The Delete calls; NOT_FOUND counts as done when `gone_ok`.
  bool DeleteTask(const std::string& id, bool gone_ok = false) {
    tasks::DeleteTaskRequest req;
    req.set_container_id(id);
    tasks::DeleteResponse resp;
    return Check(tasks_->Delete(Ctx().get(), req, &resp), "Tasks.Delete", false, gone_ok);
  }
  bool DeleteContainer(const std::string& id, bool gone_ok = false) {
    ctr_pb::DeleteContainerRequest req;
    req.set_id(id);
    google::protobuf::Empty resp;
    return Check(containers_->Delete(Ctx().get(), req, &resp), "Containers.Delete", false,
                 gone_ok);
  }
  bool RemoveSnapshot(const std::string& key, bool gone_ok = false) {
    snap::RemoveSnapshotRequest req;
    req.set_snapshotter(kSnapshotter);
    req.set_key(key);
    google::protobuf::Empty resp;
    return Check(snapshots_->Remove(Ctx().get(), req, &resp), "Snapshots.Remove", false,
                 gone_ok);
  }

  // The name of the one committed snapshot of the namespace: the imported
  // one-layer image's chain id (its diff id). "" when there is not exactly one.
  std::string CommittedSnapshot() {
    snap::ListSnapshotsRequest req;
    req.set_snapshotter(kSnapshotter);
    auto ctx = Ctx();
    auto reader = snapshots_->List(ctx.get(), req);
    snap::ListSnapshotsResponse resp;
    std::vector<std::string> names;
    while (reader->Read(&resp)) {
      for (const auto& info : resp.info()) {
        if (info.kind() == snap::COMMITTED) names.push_back(info.name());
      }
    }
    if (!Check(reader->Finish(), "Snapshots.List")) return "";
    if (names.size() != 1) {
      std::fprintf(stderr, "%zu committed snapshots after the import, not 1\n", names.size());
      return "";
    }
    return names[0];
  }

 private:
  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("containerd-namespace", ns_);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_s_.load()));
    return ctx;
  }

  bool Check(const grpc::Status& s, const char* what, bool quiet = false, bool gone_ok = false) {
    if (s.ok() || (gone_ok && s.error_code() == grpc::StatusCode::NOT_FOUND)) return true;
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
        s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      alive_ = false;
    }
    if (!quiet) std::fprintf(stderr, "%s: %s\n", what, s.error_message().c_str());
    return false;
  }

  std::string ns_;
  std::atomic<int> timeout_s_{60};
  std::atomic<bool> alive_{true};
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ctr_pb::Containers::Stub> containers_;
  std::unique_ptr<tasks::Tasks::Stub> tasks_;
  std::unique_ptr<snap::Snapshots::Stub> snapshots_;
};

// A daemon as the clean-up needs it.
struct Target {
  std::string socket;
  std::string state;  // its state folder: bundles under io.containerd.runtime.v2.task
  Client* client = nullptr;
};

// What the bench made beyond Cleanup's daemons and folders: containers
// (each with its snapshot and maybe its task and shim), by id; ids are
// unique across daemons. The termination-signal watcher parks the main
// thread (at its next Checkpoint()) before removing them.
struct Undo {
  Mutex mu;
  CondVar cv;
  std::string ns BERTH_GUARDED_BY(mu);
  std::string dir BERTH_GUARDED_BY(mu);
  std::vector<Target> targets BERTH_GUARDED_BY(mu);
  std::map<std::string, std::pair<std::size_t, std::string>> made
      BERTH_GUARDED_BY(mu);  // id → (target, runtime binary)
  std::vector<std::pair<std::size_t, std::string>> ever BERTH_GUARDED_BY(mu);  // (target, id)
  bool stopping BERTH_GUARDED_BY(mu) = false;
  bool parked BERTH_GUARDED_BY(mu) = false;
  bool torn_down BERTH_GUARDED_BY(mu) = false;
};

Undo& Pending() {
  static Undo undo;
  return undo;
}

void Track(const std::string& id, std::size_t target, const std::string& binary) {
  Undo& u = Pending();
  MutexLock lock(&u.mu);
  u.made[id] = {target, binary};
  u.ever.push_back({target, id});
}

void Untrack(const std::string& id) {
  Undo& u = Pending();
  MutexLock lock(&u.mu);
  u.made.erase(id);
}

// Called by the main thread between steps: once a signal came, waits there
// for the watcher to clean up and exit.
void Checkpoint() {
  Undo& u = Pending();
  MutexLock lock(&u.mu);
  if (!u.stopping) return;
  u.parked = true;
  u.cv.SignalAll();
  u.cv.Wait(&u.mu, [] { return false; });
}

// Kills, waits for and deletes the task, then deletes the container and its
// snapshot, each step tolerating that it is already gone. True when all
// three are gone.
bool Remove(Client& c, const std::string& id) {
  c.Kill(id, SIGKILL, /*quiet=*/true);
  uint32_t status = 0;
  c.Wait(id, &status, /*quiet=*/true);
  const bool task = c.DeleteTask(id, true);
  const bool container = c.DeleteContainer(id, true);
  const bool snapshot = c.RemoveSnapshot(id, true);
  if (task && container && snapshot) Untrack(id);
  return task && container && snapshot;
}

// Octal escapes of /proc/self/mountinfo (\040 for a space) undone.
std::string Unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8)));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void UnmountUnder(const std::string& dir) {
  std::istringstream in(ReadFile("/proc/self/mountinfo"));
  std::vector<std::string> points;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    f >> id >> parent >> dev >> root >> point;
    point = Unescape(point);
    if (point.rfind(dir + "/", 0) == 0) points.push_back(point);
  }
  std::sort(points.begin(), points.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& p : points) umount2(p.c_str(), MNT_DETACH);
}

// Pids of the shims our daemon at `socket` started for `id`: command lines
// with "containerd-shim", "-address SOCKET" and "-id ID".
std::vector<pid_t> ShimsOf(const std::string& socket, const std::string& id) {
  std::vector<pid_t> pids;
  const std::string address = std::string("-address") + '\0' + socket + '\0';
  const std::string want_id = std::string("-id") + '\0' + id + '\0';
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string cmdline = ReadFile(entry.path().string() + "/cmdline");
    if (cmdline.find("containerd-shim") != std::string::npos &&
        cmdline.find(address) != std::string::npos && cmdline.find(want_id) != std::string::npos) {
      pids.push_back(std::stoi(name));
    }
  }
  return pids;
}

// The socket a v2 shim (ours and the stock one alike) listens on:
// /run/containerd/s/<hex sha256 of "<daemon address>/<ns>/<id>">.
std::string ShimSocket(const std::string& address, const std::string& ns, const std::string& id) {
  const std::string path = address + "/" + ns + "/" + id;
  unsigned char sum[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(path.data()), path.size(), sum);
  std::string hex = "/run/containerd/s/";
  for (unsigned char b : sum) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", b);
    hex += two;
  }
  return hex;
}

// Unlinks the sockets shims of every container made so far left behind
// (none should be: a shim removes its socket when it exits); how many per
// target.
std::map<std::size_t, int> SweepShimSockets() {
  Undo& u = Pending();
  std::vector<std::pair<std::size_t, std::string>> ever;
  std::vector<Target> targets;
  std::string ns;
  {
    MutexLock lock(&u.mu);
    ever = u.ever;
    targets = u.targets;
    ns = u.ns;
  }
  std::map<std::size_t, int> left;
  for (const auto& [target, id] : ever) {
    if (unlink(ShimSocket(targets[target].socket, ns, id).c_str()) == 0) ++left[target];
  }
  return left;
}

// Removes everything still tracked, through the API while the daemon
// answers, by hand otherwise; then the namespace's cgroup parents and runc
// root, and any mount left under the work folder. Runs once.
void TearDownAll() {
  Undo& u = Pending();
  std::vector<Target> targets;
  std::map<std::string, std::pair<std::size_t, std::string>> made;
  std::string ns, dir;
  {
    MutexLock lock(&u.mu);
    if (u.torn_down || u.ns.empty()) return;
    u.torn_down = true;
    targets = u.targets;
    made = u.made;
    ns = u.ns;
    dir = u.dir;
  }
  if (!made.empty()) std::fprintf(stderr, "removing %zu containers left\n", made.size());
  for (const auto& [id, where] : made) {
    const Target& t = targets[where.first];
    if (t.client != nullptr && t.client->alive()) {
      t.client->set_timeout(10s);
      if (Remove(*t.client, id)) continue;
    }
    std::fprintf(stderr, "%s: not removed through the API; by hand\n", id.c_str());
    const std::string runtime = Which(where.second);
    if (!runtime.empty()) {
      RunToCompletion({runtime, "--root", std::string(kRuncRoot) + "/" + ns, "delete", "--force",
                       id},
                      "/dev/null", dir + "/cleanup.log");
    }
    const std::string bundle = t.state + "/io.containerd.runtime.v2.task/" + ns + "/" + id;
    std::string address = ReadFile(bundle + "/address");
    for (pid_t shim : ShimsOf(t.socket, id)) kill(shim, SIGKILL);
    if (address.rfind("unix://", 0) == 0) unlink(address.substr(7).c_str());
  }
  SweepShimSockets();
  UnmountUnder(dir);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    rmdir((entry.path().string() + "/" + ns).c_str());
  }
  rmdir(("/sys/fs/cgroup/" + ns).c_str());
  rmdir((std::string(kRuncRoot) + "/" + ns).c_str());
}

// Replaces Cleanup::Install(): on a termination signal, parks the main
// thread, removes the containers, then runs Cleanup (daemons, folders).
// REQUIRES: called first in main, before any other thread exists.
void InstallSignalWatcher() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) return;
    std::fprintf(stderr, "\ntasks_bench: signal %d, cleaning up\n", sig);
    Undo& u = Pending();
    {
      MutexLock lock(&u.mu);
      u.stopping = true;
      // A call in flight ends by its deadline at the latest.
      u.cv.WaitFor(&u.mu, 15s, [&u]() BERTH_NO_THREAD_SAFETY_ANALYSIS { return u.parked; });
    }
    TearDownAll();
    Cleanup::Run();
    _exit(128 + sig);
  }).detach();
}

// A daemon, shim and OCI runtime to run containers with.
struct Combo {
  std::string label;
  std::size_t daemon;   // index in the daemons / targets
  std::string runtime;  // io.containerd.berth.v2 or io.containerd.runc.v2
  std::string binary;   // runc or crun
};

struct Figures {
  std::vector<double> total, create, run, remove, detached;
  int echo_failures = 0, detached_failures = 0;
  std::map<uint32_t, int> nonzero_exits;  // echo's exit status → runs
};

// Makes OCI specs from the default one ctr prints, as ctr run would
// complete it: args, the image's PATH, cgroup /<ns>/<id>.
class SpecMaker {
 public:
  SpecMaker(nlohmann::json base, std::string ns) : base_(std::move(base)), ns_(std::move(ns)) {}
  std::string For(const std::string& id, const std::vector<std::string>& args) const {
    nlohmann::json spec = base_;
    spec["process"]["args"] = args;
    spec["process"]["env"] = {kImagePath};
    spec["process"]["cwd"] = "/";
    spec["root"]["path"] = "rootfs";
    spec["linux"]["cgroupsPath"] = "/" + ns_ + "/" + id;
    return spec.dump();
  }

 private:
  nlohmann::json base_;
  std::string ns_;
};

struct Context {
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::string> chain;  // per daemon: the busybox layer's snapshot
  const SpecMaker* specs = nullptr;
};

// Makes the snapshot and the container (tracked first), untimed.
bool MakeContainer(Context& cx, const Combo& c, const std::string& id,
                   const std::vector<std::string>& args, Mounts* mounts) {
  Checkpoint();
  Track(id, c.daemon, c.binary);
  Client& cl = *cx.clients[c.daemon];
  return cl.Prepare(id, cx.chain[c.daemon], mounts) &&
         cl.CreateContainer(id, c.runtime, cx.specs->For(id, args));
}

// One echo, timed from Prepare to Remove. False (after removing what was
// made) when a step fails; an exit status other than 0 is counted, the run
// still timed.
bool Echo(Context& cx, const Combo& c, const std::string& id, Figures* f) {
  Client& cl = *cx.clients[c.daemon];
  Mounts mounts;
  const auto t0 = Clock::now();
  bool ok = MakeContainer(cx, c, id, {"echo", "hi"}, &mounts) && cl.CreateTask(id, mounts, c.binary);
  const auto t1 = Clock::now();
  uint32_t status = 0;
  ok = ok && cl.Start(id) && cl.Wait(id, &status);
  const auto t2 = Clock::now();
  ok = ok && cl.DeleteTask(id) && cl.DeleteContainer(id) && cl.RemoveSnapshot(id);
  const auto t3 = Clock::now();
  if (!ok) {
    Remove(cl, id);
    return false;
  }
  Untrack(id);
  if (f != nullptr) {
    if (status != 0) ++f->nonzero_exits[status];
    f->total.push_back(Ms(t3 - t0));
    f->create.push_back(Ms(t1 - t0));
    f->run.push_back(Ms(t2 - t1));
    f->remove.push_back(Ms(t3 - t2));
  }
  return true;
}

// Starts `sleep 1000` and leaves it running; `*ms` is Tasks.Create+Start.
bool StartSleeper(Context& cx, const Combo& c, const std::string& id, double* ms) {
  Client& cl = *cx.clients[c.daemon];
  Mounts mounts;
  if (!MakeContainer(cx, c, id, {"sleep", "1000"}, &mounts)) return false;
  const auto t0 = Clock::now();
  const bool ok = cl.CreateTask(id, mounts, c.binary) && cl.Start(id);
  if (ms != nullptr) *ms = Ms(Clock::now() - t0);
  return ok;
}

// Which OCI runtime made the state of `id`: runc writes state.json, crun
// a status file. "" when neither is there.
std::string StateOf(const std::string& ns, const std::string& id) {
  const std::string d = std::string(kRuncRoot) + "/" + ns + "/" + id;
  if (access((d + "/state.json").c_str(), F_OK) == 0) return "runc";
  if (access((d + "/status").c_str(), F_OK) == 0) return "crun";
  return "";
}

struct ShimMemory {
  int containers = 0;
  int shims = 0;
  double rss_kib = 0, pss_kib = 0, threads = 0;
};

// Averages over the distinct parents of the init pids of `ids`.
ShimMemory MeasureShims(Client& cl, const std::vector<std::string>& ids,
                        const std::string& want_exe) {
  std::set<pid_t> shims;
  for (const std::string& id : ids) {
    const pid_t init = cl.InitPid(id);
    if (init <= 0) continue;
    const long ppid = ProcField("/proc/" + std::to_string(init) + "/status", "PPid");
    if (ppid > 1) shims.insert(static_cast<pid_t>(ppid));
  }
  ShimMemory m;
  m.containers = static_cast<int>(ids.size());
  for (pid_t shim : shims) {
    const std::string proc = "/proc/" + std::to_string(shim);
    std::error_code ec;
    const std::string exe = fs::read_symlink(proc + "/exe", ec).filename().string();
    if (exe != want_exe) {
      std::fprintf(stderr, "parent %d of a task is %s, not %s; skipped\n", shim, exe.c_str(),
                   want_exe.c_str());
      continue;
    }
    const long rss = ProcField(proc + "/smaps_rollup", "Rss");
    const long pss = ProcField(proc + "/smaps_rollup", "Pss");
    const long threads = ProcField(proc + "/status", "Threads");
    if (rss < 0 || pss < 0 || threads < 0) continue;
    ++m.shims;
    m.rss_kib += static_cast<double>(rss);
    m.pss_kib += static_cast<double>(pss);
    m.threads += static_cast<double>(threads);
  }
  if (m.shims > 0) {
    m.rss_kib /= m.shims;
    m.pss_kib /= m.shims;
    m.threads /= m.shims;
  }
  return m;
}

// Runs fn(0) .. fn(count - 1) on `workers` threads.
void ParallelFor(int count, int workers, const std::function<void(int)>& fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (int i = next++; i < count; i = next++) fn(i);
    });
  }
  for (std::thread& t : threads) t.join();
}

// Idle containers are started and removed a few at a time: their start is
// not what is measured, and 2 x 100 one by one would take minutes.
constexpr int kIdleWorkers = 4;

// Kills every task first (they die together), then removes each.
void RemoveMany(Client& cl, const std::vector<std::string>& ids) {
  for (const std::string& id : ids) cl.Kill(id, SIGKILL, /*quiet=*/true);
  ParallelFor(static_cast<int>(ids.size()), kIdleWorkers, [&](int i) {
    Checkpoint();
    Remove(cl, ids[static_cast<std::size_t>(i)]);
  });
}

// crun refuses a hybrid cgroup host (cgroup2 at /sys/fs/cgroup/unified with
// controllers enabled). Then the bench, and with it the daemons, shims and
// runtimes it starts, runs in a mount namespace of its own, private, with
// that mount detached (runc then sees cgroup v1 only, as on a legacy host);
// tests/integration/tasks_more_test.cc does the same for crun alone. False
// with a message when that fails. REQUIRES: no other thread yet.
bool HideUnifiedCgroup() {
  const std::string controllers = ReadFile("/sys/fs/cgroup/unified/cgroup.controllers");
  if (controllers.find_first_not_of(" \n") == std::string::npos) return true;
  if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      umount2("/sys/fs/cgroup/unified", MNT_DETACH) != 0) {
    std::perror("hiding /sys/fs/cgroup/unified in a mount namespace");
    return false;
  }
  std::printf("hybrid cgroup host: running in a mount namespace without /sys/fs/cgroup/unified\n");
  std::fflush(stdout);
  return true;
}

struct Options {
  int n = 30;
  std::vector<int> idle = {20, 100};
  std::vector<std::string> runtimes = {"runc", "crun"};
  std::string berthd = std::string(BERTH_BIN_DIR) + "/berthd";
  std::string containerd = "/usr/bin/containerd";
  std::string base = "/var/tmp";  // a real disk: overlay cannot sit on tmpfs/overlay
};

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Runs the whole bench; what it made is removed by TearDownAll (before the
// daemons stop) and Cleanup.
int Bench(const Options& o) {
  const auto began = Clock::now();
  std::string tmpl = o.base + "/berth-tasks-bench-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  Cleanup::AddDir(dir);
  const std::string ns = "tasks-bench-" + std::to_string(getpid());
  {
    Undo& u = Pending();
    MutexLock lock(&u.mu);
    u.ns = ns;
    u.dir = dir;
  }
  // containerd finds our shim on PATH (berthd also looks beside itself).
  const char* path = getenv("PATH");
  setenv("PATH", (std::string(BERTH_BIN_DIR) + ":" + (path ? path : "/usr/sbin:/usr/bin")).c_str(),
         1);

  const std::string image = dir + "/busybox.tar";
  if (RunToCompletion({"/bin/bash", std::string(BERTH_SOURCE_DIR) + "/scripts/busybox-image.sh",
                       image},
                      "/dev/null", dir + "/image.log") != 0) {
    std::fprintf(stderr, "busybox-image.sh failed:\n%s", ReadFile(dir + "/image.log").c_str());
    return 1;
  }
  // The default spec, as ctr prints it; ctr run starts from the same.
  nlohmann::json base_spec;
  if (RunToCompletion({kCtr, "oci", "spec"}, "/dev/null", dir + "/spec.json") != 0 ||
      (base_spec = nlohmann::json::parse(ReadFile(dir + "/spec.json"), nullptr, false))
          .is_discarded()) {
    std::fprintf(stderr, "ctr oci spec failed:\n%s", ReadFile(dir + "/spec.json").c_str());
    return 1;
  }
  const SpecMaker specs(base_spec, ns);

  // berthd without the gc scheduler (the snapshots are removed explicitly),
  // containerd without CRI (its leases service, which ctr import uses,
  // needs its scheduler).
  std::vector<std::string> names = {"berthd"};
  std::vector<std::unique_ptr<Daemon>> daemons;
  daemons.push_back(std::make_unique<Daemon>(
      o.berthd, dir + "/berthd", "disabled_plugins = [\"io.containerd.gc.v1.scheduler\"]\n"));
  if (access(o.containerd.c_str(), X_OK) == 0) {
    names.push_back("containerd");
    daemons.push_back(std::make_unique<Daemon>(
        o.containerd, dir + "/containerd",
        "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"));
  } else {
    std::printf("containerd not installed at %s: no comparison\n", o.containerd.c_str());
  }
  Context cx;
  cx.specs = &specs;
  // Declared after the daemons and clients: runs before they go.
  struct TearDownFirst {
    ~TearDownFirst() { TearDownAll(); }
  } tear_down_first;
  for (std::size_t k = 0; k < daemons.size(); ++k) {
    if (!daemons[k]->WaitServing()) {
      std::fprintf(stderr, "%s did not start; see %s\n", names[k].c_str(),
                   daemons[k]->log().c_str());
      return 1;
    }
    cx.clients.push_back(std::make_unique<Client>(daemons[k]->socket(), ns));
    {
      Undo& u = Pending();
      MutexLock lock(&u.mu);
      u.targets.push_back({daemons[k]->socket(), dir + "/" + names[k] + "/state",
                           cx.clients.back().get()});
    }
    if (RunToCompletion({kCtr, "--address", daemons[k]->socket(), "-n", ns, "images", "import",
                         image},
                        "/dev/null", dir + "/import.log") != 0) {
      std::fprintf(stderr, "ctr images import on %s failed:\n%s", names[k].c_str(),
                   ReadFile(dir + "/import.log").c_str());
      return 1;
    }
    cx.chain.push_back(cx.clients.back()->CommittedSnapshot());
    if (cx.chain.back().empty()) return 1;
  }

  const bool have_berth_shim = access(BERTH_BIN_DIR "/containerd-shim-berth-v2", X_OK) == 0;
  const bool have_stock_shim = access(kStockShim, X_OK) == 0;
  std::vector<std::string> binaries;
  for (const std::string& b : o.runtimes) {
    if (Which(b).empty()) {
      std::printf("%s not installed: skipped\n", b.c_str());
    } else {
      binaries.push_back(b);
    }
  }
  std::vector<Combo> combos;
  std::size_t baseline = SIZE_MAX;
  for (const std::string& b : binaries) {
    for (std::size_t k = 0; k < daemons.size(); ++k) {
      // berthd: ours first; containerd: stock first.
      std::vector<std::pair<std::string, std::string>> shims;
      if (have_berth_shim) shims.push_back({"berth shim", kBerthRuntime});
      if (have_stock_shim) shims.push_back({"stock shim", kStockRuntime});
      if (k == 1) std::reverse(shims.begin(), shims.end());
      for (const auto& [shim, runtime] : shims) {
        if (k == 1 && runtime == kStockRuntime && b == "runc") baseline = combos.size();
        combos.push_back({names[k] + " + " + shim + " + " + b, k, runtime, b});
      }
    }
  }
  std::printf("tasks_bench: %d rounds over %zu combinations, interleaved; namespace %s, "
              "work folder %s\n",
              o.n, combos.size(), ns.c_str(), dir.c_str());
  std::fflush(stdout);

  // 1. Latency. Round -1 warms up (page cache, connections) and checks
  // which OCI runtime ran; it is not recorded.
  std::vector<Figures> figs(combos.size());
  for (int round = -1; round < o.n; ++round) {
    for (std::size_t j = 0; j < combos.size(); ++j) {
      const std::size_t k = (j + static_cast<std::size_t>(round + 1)) % combos.size();
      const Combo& c = combos[k];
      const std::string tag = "c" + std::to_string(k) + "-" + std::to_string(round + 1);
      Figures* f = round < 0 ? nullptr : &figs[k];
      if (!Echo(cx, c, tag + "-echo", f) && f != nullptr) ++f->echo_failures;
      const std::string id = tag + "-sleep";
      double ms = 0;
      const bool ok = StartSleeper(cx, c, id, &ms);
      if (ok && round < 0) {
        const std::string seen = StateOf(ns, id);
        if (seen != c.binary) {
          std::printf("warning: %s: the OCI runtime state is %s's, not %s's\n", c.label.c_str(),
                      seen.empty() ? "neither" : seen.c_str(), c.binary.c_str());
        }
      }
      if (f != nullptr) {
        if (ok) {
          f->detached.push_back(ms);
        } else {
          ++f->detached_failures;
        }
      }
      Checkpoint();
      Remove(*cx.clients[c.daemon], id);
    }
    if (round >= 0 && (round + 1) % 10 == 0) {
      std::fprintf(stderr, "  round %d/%d, %.0f s\n", round + 1, o.n, Ms(Clock::now() - began) / 1e3);
    }
  }

  auto ratio = [&](const std::vector<double> Figures::*field, std::size_t k) {
    if (baseline == SIZE_MAX) return std::string("");
    const double b = Percentile(figs[baseline].*field, 0.5);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2fx", b > 0 ? Percentile(figs[k].*field, 0.5) / b : 0);
    return std::string(buf);
  };
  std::printf("\necho hi, Prepare..Snapshots.Remove (ms)  %7s %7s %8s %10s %8s  %s\n", "p50", "p99",
              "create", "start→exit", "delete", "p50 vs containerd+stock+runc");
  for (std::size_t k = 0; k < combos.size(); ++k) {
    const Figures& f = figs[k];
    std::printf("%-40s %7.1f %7.1f %8.1f %10.1f %8.1f  %s", combos[k].label.c_str(),
                Percentile(f.total, 0.5), Percentile(f.total, 0.99), Percentile(f.create, 0.5),
                Percentile(f.run, 0.5), Percentile(f.remove, 0.5),
                ratio(&Figures::total, k).c_str());
    if (f.echo_failures > 0) std::printf("   (%d failed)", f.echo_failures);
    for (const auto& [status, runs] : f.nonzero_exits) {
      std::printf("   (exit %u in %d runs)", status, runs);
    }
    std::printf("\n");
  }
  std::printf("\ndetached sleep, Tasks.Create+Start (ms)  %7s %7s  %s\n", "p50", "p99",
              "p50 vs containerd+stock+runc");
  for (std::size_t k = 0; k < combos.size(); ++k) {
    const Figures& f = figs[k];
    std::printf("%-40s %7.1f %7.1f  %s", combos[k].label.c_str(), Percentile(f.detached, 0.5),
                Percentile(f.detached, 0.99), ratio(&Figures::detached, k).c_str());
    if (f.detached_failures > 0) std::printf("   (%d failed)", f.detached_failures);
    std::printf("\n");
  }
  if (binaries.size() > 1) {
    std::printf("\n%s/%s, p50                          %7s %9s\n", binaries[1].c_str(),
                binaries[0].c_str(), "echo", "detached");
    const std::size_t per = combos.size() / binaries.size();
    for (std::size_t k = 0; k < per; ++k) {
      const Figures& a = figs[k];
      const Figures& b = figs[k + per];
      const double e = Percentile(a.total, 0.5), d = Percentile(a.detached, 0.5);
      std::string label = combos[k].label.substr(0, combos[k].label.rfind(" + "));
      std::printf("%-40s %6.2fx %8.2fx\n", label.c_str(),
                  e > 0 ? Percentile(b.total, 0.5) / e : 0, d > 0 ? Percentile(b.detached, 0.5) / d : 0);
    }
  }
  std::fflush(stdout);

  // 2. Idle shims under berthd, runc.
  std::vector<int> counts = o.idle;
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  counts.erase(std::remove_if(counts.begin(), counts.end(), [](int n) { return n <= 0; }),
               counts.end());
  struct Kind {
    std::string label, runtime, exe;
  };
  std::vector<Kind> kinds;
  if (have_berth_shim) kinds.push_back({"berth shim", kBerthRuntime, "containerd-shim-berth-v2"});
  if (have_stock_shim) kinds.push_back({"stock shim", kStockRuntime, "containerd-shim-runc-v2"});
  std::vector<std::vector<ShimMemory>> mem(kinds.size());
  if (!counts.empty()) {
    for (std::size_t s = 0; s < kinds.size(); ++s) {
      const Combo c{kinds[s].label, 0, kinds[s].runtime, "runc"};
      std::vector<std::string> ids;
      for (int count : counts) {
        const int from = static_cast<int>(ids.size());
        std::vector<std::string> more(static_cast<std::size_t>(count - from));
        ParallelFor(count - from, kIdleWorkers, [&](int i) {
          const std::string id = "idle-" + std::to_string(s) + "-" + std::to_string(from + i);
          if (StartSleeper(cx, c, id, nullptr)) {
            more[static_cast<std::size_t>(i)] = id;
          } else {
            std::fprintf(stderr, "%s: could not start %s\n", kinds[s].label.c_str(), id.c_str());
            Remove(*cx.clients[0], id);
          }
        });
        for (std::string& id : more) {
          if (!id.empty()) ids.push_back(std::move(id));
        }
        std::this_thread::sleep_for(1s);  // let the start-up settle
        Checkpoint();
        mem[s].push_back(MeasureShims(*cx.clients[0], ids, kinds[s].exe));
        std::fprintf(stderr, "  %s: %zu idle, %.0f s\n", kinds[s].label.c_str(), ids.size(),
                     Ms(Clock::now() - began) / 1e3);
      }
      RemoveMany(*cx.clients[0], ids);
    }
    std::printf("\nidle shims under berthd (runc)  containers  shims   RSS MiB   PSS MiB  threads\n");
    for (std::size_t i = 0; i < counts.size(); ++i) {
      for (std::size_t s = 0; s < kinds.size(); ++s) {
        const ShimMemory& m = mem[s][i];
        std::printf("%-31s %10d %6d %9.2f %9.2f %8.1f\n", kinds[s].label.c_str(), m.containers,
                    m.shims, m.rss_kib / 1024, m.pss_kib / 1024, m.threads);
      }
      if (kinds.size() == 2 && mem[1][i].shims > 0 && mem[1][i].pss_kib > 0) {
        const ShimMemory& a = mem[0][i];
        const ShimMemory& b = mem[1][i];
        std::printf("%-31s %10d %6s %8.2fx %8.2fx %7.2fx\n", "ours/stock", a.containers, "",
                    a.rss_kib / b.rss_kib, a.pss_kib / b.pss_kib, a.threads / b.threads);
      }
    }
  }
  std::this_thread::sleep_for(500ms);  // the last shims to exit
  std::map<std::size_t, int> made_on;
  {
    Undo& u = Pending();
    MutexLock lock(&u.mu);
    for (const auto& e : u.ever) ++made_on[e.first];
  }
  const std::map<std::size_t, int> left = SweepShimSockets();
  std::printf("\nshim sockets left in /run/containerd/s after Tasks.Delete (removed now):");
  for (const auto& [k, n] : made_on) {
    std::printf(" %s %d of %d;", names[k].c_str(), left.count(k) ? left.at(k) : 0, n);
  }
  std::printf("\n\ntotal %.0f s\n", Ms(Clock::now() - began) / 1e3);
  return 0;
}

}  // namespace
}  // namespace berth::bench

int main(int argc, char** argv) {
  using namespace berth::bench;
  if (!HideUnifiedCgroup()) return 1;
  InstallSignalWatcher();
  CleanupScope cleanup;
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--n") {
      o.n = std::max(1, std::atoi(argv[i + 1]));
    } else if (a == "--idle") {
      o.idle.clear();
      for (const std::string& s : SplitCommas(argv[i + 1])) o.idle.push_back(std::atoi(s.c_str()));
    } else if (a == "--runtimes") {
      o.runtimes = SplitCommas(argv[i + 1]);
    } else if (a == "--berthd") {
      o.berthd = argv[i + 1];
    } else if (a == "--containerd") {
      o.containerd = argv[i + 1];
    } else if (a == "--dir") {
      o.base = argv[i + 1];
    } else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  return Bench(o);
}
