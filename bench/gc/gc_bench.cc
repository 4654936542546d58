// gc_bench: how long a garbage collection takes to free a population of
// unreferenced resources, and how long other requests wait meanwhile.
//
// For each case — N small blobs (--blobs, default 10000,100000) and S
// snapshots in chains of 10 (--snapshots, default 1000) — a fresh daemon is
// started, the population is put in over gRPC under one lease (so that
// nothing is collected early), a rooted "probe" blob is added, and then the
// lease is deleted and a collection run:
//   - berthd (its gc scheduler disabled, so that the run is the one asked
//     for): Leases.Delete, then berth.services.gc.v1.GC/Collect; mark, sweep
//     and backend come from Collect's answer;
//   - containerd, when installed: Leases.Delete with sync (its own way to
//     wait for a collection); mark+sweep ("garbage collected" d=, the time
//     its metadata lock is held) and the backend phase ("content/snapshot
//     garbage collected" d=) come from its debug log. containerd does not
//     time mark and sweep apart.
// Meanwhile two probe threads loop on a label update of the probe blob (a
// change, which must wait for mark and sweep) and on Info (a read, which
// should not); the figures are each probe's median before the run and its
// worst and 99th-percentile latency among the calls overlapping the run.
// Everything is printed; nothing is asserted.
//
// With --probes 0 the probes stay off, to time the run alone (the probes'
// own synced writes compete with the backend phase for the disk).
//
// Each case runs --repeat times (default 3), the daemons taking turns; every
// run is printed, then the medians (figures vary much on a busy disk).
//
//   gc_bench [--blobs N,N] [--snapshots S] [--dir BASE] [--threads T]
//            [--probes 0|1] [--repeat R] [--berthd PATH] [--containerd PATH]
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "berth/config.h"
#include "berth/digest.h"
#include "berth/services/gc/v1/gc.grpc.pb.h"
#include "cleanup.h"
#include "containerd/services/content/v1/content.grpc.pb.h"
#include "containerd/services/leases/v1/leases.grpc.pb.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "daemon.h"

namespace berth::bench {
namespace {

namespace cpb = containerd::services::content::v1;
namespace lpb = containerd::services::leases::v1;
namespace spb = containerd::services::snapshots::v1;
namespace gpb = ::berth::services::gc::v1;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::duration<double, std::milli>;

constexpr char kLease[] = "gc-bench";
constexpr int kChain = 10;

struct Options {
  std::vector<int> blobs = {10000, 100000};
  int snapshots = 1000;
  std::string dir = "/var/tmp";
  int threads = 4;
  bool probes = true;
  int repeat = 3;
  std::string berthd = std::string(BERTH_BIN_DIR) + "/berthd";
  std::string containerd = "/usr/bin/containerd";
};

std::unique_ptr<grpc::ClientContext> Context(bool leased) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("containerd-namespace", "default");
  if (leased) ctx->AddMetadata("containerd-lease", kLease);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(30));
  return ctx;
}

std::shared_ptr<grpc::Channel> Channel(const std::string& socket) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per caller
  return grpc::CreateCustomChannel("unix://" + socket, grpc::InsecureChannelCredentials(), args);
}

grpc::Status PutBlob(cpb::Content::Stub& stub, const std::string& data, bool leased,
                     const std::map<std::string, std::string>& labels = {}) {
  auto ctx = Context(leased);
  auto stream = stub.Write(ctx.get());
  cpb::WriteContentRequest req;
  req.set_action(cpb::COMMIT);
  req.set_ref("bench-" + Sha256Of(data).substr(7, 20));
  req.set_total(static_cast<std::int64_t>(data.size()));
  req.set_expected(Sha256Of(data));
  req.set_data(data);
  for (const auto& [k, v] : labels) (*req.mutable_labels())[k] = v;
  cpb::WriteContentResponse resp;
  // One message: half-close at once, then read the answer.
  if (stream->Write(req) && stream->WritesDone()) {
    while (stream->Read(&resp)) {
    }
  }
  return stream->Finish();
}

// Runs fn(i) for i in [0, n) on `threads` threads, each with its own channel.
template <typename Fn>
std::string Parallel(const std::string& socket, int n, int threads, Fn fn) {
  std::vector<std::thread> workers;
  std::vector<std::string> errors(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto channel = Channel(socket);
      for (int i = t; i < n && errors[t].empty(); i += threads) {
        grpc::Status s = fn(channel, i);
        if (!s.ok()) errors[t] = s.error_message();
      }
    });
  }
  for (auto& w : workers) w.join();
  for (const auto& e : errors) {
    if (!e.empty()) return e;
  }
  return "";
}

std::string PopulateBlobs(const std::string& socket, int n, int threads) {
  return Parallel(socket, n, threads, [](const std::shared_ptr<grpc::Channel>& ch, int i) {
    auto stub = cpb::Content::NewStub(ch);
    return PutBlob(*stub, "unreferenced blob " + std::to_string(i) + std::string(64, 'x'), true);
  });
}

// Chains of kChain committed snapshots, each over the one before.
std::string PopulateSnapshots(const std::string& socket, int n, int threads) {
  const int chains = (n + kChain - 1) / kChain;
  return Parallel(socket, chains, threads, [n](const std::shared_ptr<grpc::Channel>& ch, int c) {
    auto stub = spb::Snapshots::NewStub(ch);
    std::string parent;
    for (int i = 0; i < kChain && c * kChain + i < n; ++i) {
      const std::string name = "c" + std::to_string(c) + "-" + std::to_string(i);
      spb::PrepareSnapshotRequest prep;
      prep.set_snapshotter("overlayfs");
      prep.set_key(name + "-active");
      prep.set_parent(parent);
      spb::PrepareSnapshotResponse prep_resp;
      grpc::Status s = stub->Prepare(Context(true).get(), prep, &prep_resp);
      if (!s.ok()) return s;
      spb::CommitSnapshotRequest commit;
      commit.set_snapshotter("overlayfs");
      commit.set_name(name);
      commit.set_key(name + "-active");
      google::protobuf::Empty empty;
      s = stub->Commit(Context(true).get(), commit, &empty);
      if (!s.ok()) return s;
      parent = name;
    }
    return grpc::Status::OK;
  });
}

// Latencies of one probe, with their start times.
struct ProbeLog {
  std::vector<std::pair<Clock::time_point, double>> calls;  // start, ms
};

struct ProbeFigures {
  double before_p50 = 0, during_p99 = 0, during_max = 0;
  std::size_t during_calls = 0;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

ProbeFigures Summarise(const ProbeLog& log, Clock::time_point run_start,
                       Clock::time_point run_end) {
  std::vector<double> before, during;
  for (const auto& [start, ms] : log.calls) {
    const auto end = start + std::chrono::duration_cast<Clock::duration>(Ms(ms));
    if (end < run_start) {
      before.push_back(ms);
    } else if (start <= run_end) {
      during.push_back(ms);
    }
  }
  ProbeFigures f;
  f.before_p50 = Percentile(before, 0.5);
  f.during_p99 = Percentile(during, 0.99);
  f.during_max = during.empty() ? 0 : *std::max_element(during.begin(), during.end());
  f.during_calls = during.size();
  return f;
}

// Loops `call` on its own channel until stopped.
class Probe {
 public:
  template <typename Call>
  Probe(const std::string& socket, Call call) {
    thread_ = std::thread([this, socket, call] {
      auto stub = cpb::Content::NewStub(Channel(socket));
      for (int i = 0; !stop_.load(); ++i) {
        const auto start = Clock::now();
        call(*stub, i);
        log_.calls.emplace_back(start, Ms(Clock::now() - start).count());
      }
    });
  }
  ProbeLog Stop() {
    stop_ = true;
    thread_.join();
    return std::move(log_);
  }

 private:
  std::atomic<bool> stop_{false};
  ProbeLog log_;
  std::thread thread_;
};

struct CaseResult {
  std::string error;
  double populate_s = 0, wall_ms = 0, mark_ms = -1, sweep_ms = -1, locked_ms = -1, backend_ms = -1;
  std::int64_t removed = -1;
  ProbeFigures change, read;
};

CaseResult Failed(std::string error) {
  CaseResult r;
  r.error = std::move(error);
  return r;
}

double DurationMs(const google::protobuf::Duration& d) {
  return static_cast<double>(d.seconds()) * 1e3 + static_cast<double>(d.nanos()) / 1e6;
}

// The last `d=` of log lines holding `msg` after byte `from`, in ms; -1.
double LoggedMs(const std::string& log_path, std::size_t from, const std::string& msg) {
  std::ifstream in(log_path);
  in.seekg(static_cast<std::streamoff>(from));
  double found = -1;
  for (std::string line; std::getline(in, line);) {
    if (line.find("msg=\"" + msg + "\"") == std::string::npos) continue;
    const std::size_t at = line.find(" d=");
    if (at == std::string::npos) continue;
    std::string value = line.substr(at + 3, line.find(' ', at + 3) - at - 3);
    value.erase(std::remove(value.begin(), value.end(), '"'), value.end());
    Duration d;
    if (ParseDuration(value, d)) found = Ms(d.value).count();
  }
  return found;
}

std::size_t FileSize(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<std::size_t>(size);
}

CaseResult RunCase(bool is_berthd, const std::string& binary, const std::string& dir,
                   bool snapshots, int n, const Options& o) {
  CaseResult r;
  const std::string extra =
      is_berthd
          ? "disabled_plugins = [\"io.containerd.gc.v1.scheduler\"]\n"
          : "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[debug]\n  level = \"debug\"\n";
  Daemon daemon(binary, dir, extra);
  if (!daemon.WaitServing()) return Failed("daemon did not start; see " + daemon.log());
  auto channel = Channel(daemon.socket());
  auto leases = lpb::Leases::NewStub(channel);
  auto content = cpb::Content::NewStub(channel);
  if (is_berthd) {
    // berthd's first collection visits every backend (to free what a crash
    // may have left); containerd's startup collection does its first run.
    auto gc = gpb::GC::NewStub(channel);
    gpb::CollectResponse first;
    grpc::Status s = gc->Collect(Context(false).get(), gpb::CollectRequest(), &first);
    if (!s.ok()) return Failed("first collection: " + s.error_message());
  }
  {
    lpb::CreateRequest req;
    req.set_id(kLease);
    lpb::CreateResponse resp;
    grpc::Status s = leases->Create(Context(false).get(), req, &resp);
    if (!s.ok()) return Failed("lease: " + s.error_message());
  }
  const auto populate_start = Clock::now();
  std::string error = snapshots ? PopulateSnapshots(daemon.socket(), n, o.threads)
                                : PopulateBlobs(daemon.socket(), n, o.threads);
  if (!error.empty()) return Failed("populate: " + error);
  r.populate_s = std::chrono::duration<double>(Clock::now() - populate_start).count();
  const std::string probe_data = "probe blob";
  grpc::Status s = PutBlob(*content, probe_data, false, {{"containerd.io/gc.root", "1"}});
  if (!s.ok()) return Failed("probe blob: " + s.error_message());
  const std::string probe = Sha256Of(probe_data);

  std::optional<Probe> change, read;
  if (o.probes) {
    change.emplace(daemon.socket(), [probe](cpb::Content::Stub& stub, int i) {
      cpb::UpdateRequest req;
      req.mutable_info()->set_digest(probe);
      (*req.mutable_info()->mutable_labels())["probe"] = std::to_string(i);
      req.mutable_update_mask()->add_paths("labels.probe");
      cpb::UpdateResponse resp;
      (void)stub.Update(Context(false).get(), req, &resp);
    });
    read.emplace(daemon.socket(), [probe](cpb::Content::Stub& stub, int) {
      cpb::InfoRequest req;
      req.set_digest(probe);
      cpb::InfoResponse resp;
      (void)stub.Info(Context(false).get(), req, &resp);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the probes' baseline
  }

  const std::size_t log_from = FileSize(daemon.log());
  const auto run_start = Clock::now();
  lpb::DeleteRequest del;
  del.set_id(kLease);
  del.set_sync(!is_berthd);
  google::protobuf::Empty empty;
  s = leases->Delete(Context(false).get(), del, &empty);
  gpb::CollectResponse figures;
  if (s.ok() && is_berthd) {
    auto gc = gpb::GC::NewStub(channel);
    s = gc->Collect(Context(false).get(), gpb::CollectRequest(), &figures);
  }
  const auto run_end = Clock::now();
  if (o.probes) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    r.change = Summarise(change->Stop(), run_start, run_end);
    r.read = Summarise(read->Stop(), run_start, run_end);
  }
  if (!s.ok()) return Failed("collect: " + s.error_message());
  r.wall_ms = Ms(run_end - run_start).count();
  if (is_berthd) {
    r.mark_ms = DurationMs(figures.mark());
    r.sweep_ms = DurationMs(figures.sweep());
    r.locked_ms = r.mark_ms + r.sweep_ms;
    r.backend_ms = DurationMs(figures.backend());
    r.removed = snapshots ? figures.snapshots_removed() : figures.content_removed();
  } else {
    r.locked_ms = LoggedMs(daemon.log(), log_from, "garbage collected");
    r.backend_ms = LoggedMs(daemon.log(), log_from,
                            snapshots ? "snapshot garbage collected" : "content garbage collected");
  }
  // What is left on disk.
  std::size_t left = 0;
  std::error_code ec;
  const std::string store = snapshots
                                ? dir + "/root/io.containerd.snapshotter.v1.overlayfs/snapshots"
                                : dir + "/root/io.containerd.content.v1.content/blobs/sha256";
  for (auto it = std::filesystem::directory_iterator(store, ec);
       !ec && it != std::filesystem::directory_iterator(); ++it) {
    ++left;
  }
  if (left != (snapshots ? 0u : 1u)) {
    r.error = std::to_string(left) + " entries left in " + store;
  }
  daemon.Stop();
  std::filesystem::remove_all(dir, ec);
  return r;
}

void Print(const char* who, const CaseResult& r, bool probes) {
  if (!r.error.empty()) {
    std::printf("    %-10s failed: %s\n", who, r.error.c_str());
    return;
  }
  auto ms = [](double v) {
    char buf[32];
    if (v < 0) return std::string("      -");
    std::snprintf(buf, sizeof buf, "%7.1f", v);
    return std::string(buf);
  };
  std::printf(
      "    %-10s run %s ms = mark %s + sweep %s (locked %s) + backend %s"
      "   [populated in %.1f s]\n",
      who, ms(r.wall_ms).c_str(), ms(r.mark_ms).c_str(), ms(r.sweep_ms).c_str(),
      ms(r.locked_ms).c_str(), ms(r.backend_ms).c_str(), r.populate_s);
  if (!probes) return;
  std::printf(
      "    %-10s changes wait: p50 before %.2f ms, during run p99 %.1f max %.1f ms"
      " (%zu calls); reads: p50 %.2f, during p99 %.1f max %.1f ms\n",
      "", r.change.before_p50, r.change.during_p99, r.change.during_max, r.change.during_calls,
      r.read.before_p50, r.read.during_p99, r.read.during_max);
}

// Each figure's median over the runs that succeeded (an error if none did).
CaseResult Median(const std::vector<CaseResult>& runs) {
  std::vector<const CaseResult*> ok;
  for (const CaseResult& r : runs) {
    if (r.error.empty()) ok.push_back(&r);
  }
  if (ok.empty()) return Failed("no run succeeded");
  auto med = [&](auto field) {
    std::vector<double> v;
    for (const CaseResult* r : ok) v.push_back(static_cast<double>(field(*r)));
    return Percentile(v, 0.5);
  };
  CaseResult m;
  m.populate_s = med([](const CaseResult& r) { return r.populate_s; });
  m.wall_ms = med([](const CaseResult& r) { return r.wall_ms; });
  m.mark_ms = med([](const CaseResult& r) { return r.mark_ms; });
  m.sweep_ms = med([](const CaseResult& r) { return r.sweep_ms; });
  m.locked_ms = med([](const CaseResult& r) { return r.locked_ms; });
  m.backend_ms = med([](const CaseResult& r) { return r.backend_ms; });
  m.change.before_p50 = med([](const CaseResult& r) { return r.change.before_p50; });
  m.change.during_p99 = med([](const CaseResult& r) { return r.change.during_p99; });
  m.change.during_max = med([](const CaseResult& r) { return r.change.during_max; });
  m.change.during_calls =
      static_cast<std::size_t>(med([](const CaseResult& r) { return r.change.during_calls; }));
  m.read.before_p50 = med([](const CaseResult& r) { return r.read.before_p50; });
  m.read.during_p99 = med([](const CaseResult& r) { return r.read.during_p99; });
  m.read.during_max = med([](const CaseResult& r) { return r.read.during_max; });
  return m;
}

std::vector<int> ParseList(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(std::stoi(item));
  }
  return out;
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--blobs")
      o.blobs = ParseList(argv[i + 1]);
    else if (a == "--snapshots")
      o.snapshots = std::stoi(argv[i + 1]);
    else if (a == "--dir")
      o.dir = argv[i + 1];
    else if (a == "--threads")
      o.threads = std::max(1, std::stoi(argv[i + 1]));
    else if (a == "--probes")
      o.probes = std::string(argv[i + 1]) != "0";
    else if (a == "--repeat")
      o.repeat = std::max(1, std::stoi(argv[i + 1]));
    else if (a == "--berthd")
      o.berthd = argv[i + 1];
    else if (a == "--containerd")
      o.containerd = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  std::string tmpl = o.dir + "/gc-bench-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  Cleanup::AddDir(tmpl);
  const bool have_containerd = access(o.containerd.c_str(), X_OK) == 0;
  std::printf("gc_bench: root under %s, %d client threads; containerd: %s\n", tmpl.c_str(),
              o.threads, have_containerd ? o.containerd.c_str() : "not installed");
  struct Case {
    bool snapshots;
    int n;
  };
  std::vector<Case> cases;
  for (int n : o.blobs) cases.push_back({false, n});
  if (o.snapshots > 0) cases.push_back({true, o.snapshots});
  int run = 0;
  for (const Case& c : cases) {
    std::printf("%d unreferenced %s, one lease deleted, then a collection:\n", c.n,
                c.snapshots ? "snapshots (chains of 10)" : "blobs");
    std::fflush(stdout);
    std::vector<CaseResult> b_runs, d_runs;
    for (int i = 0; i < o.repeat; ++i, ++run) {
      b_runs.push_back(
          RunCase(true, o.berthd, tmpl + "/b" + std::to_string(run), c.snapshots, c.n, o));
      Print("berthd", b_runs.back(), o.probes);
      std::fflush(stdout);
      if (!have_containerd) continue;
      d_runs.push_back(
          RunCase(false, o.containerd, tmpl + "/c" + std::to_string(run), c.snapshots, c.n, o));
      Print("containerd", d_runs.back(), o.probes);
      std::fflush(stdout);
    }
    const CaseResult b = Median(b_runs);
    if (o.repeat > 1) {
      std::printf("  medians of %d runs:\n", o.repeat);
      Print("berthd", b, o.probes);
    }
    if (!have_containerd) continue;
    const CaseResult d = Median(d_runs);
    if (o.repeat > 1) Print("containerd", d, o.probes);
    if (b.error.empty() && d.error.empty() && b.wall_ms > 0) {
      std::printf("    berthd / containerd: run %.2fx faster", d.wall_ms / b.wall_ms);
      if (o.probes && b.change.during_max > 0) {
        std::printf(", changes' worst wait %.2fx shorter",
                    d.change.during_max / b.change.during_max);
      }
      std::printf("\n");
    }
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace berth::bench

int main(int argc, char** argv) {
  berth::bench::Cleanup::Install();
  berth::bench::CleanupScope cleanup;
  return berth::bench::Main(argc, argv);
}
