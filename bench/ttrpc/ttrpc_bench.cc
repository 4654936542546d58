// ttrpc_bench: round trips of berth's ttrpc (libberth-ttrpc, C++ client
// against C++ server) and of containerd's own ttrpc 1.1.1 (Go client against
// Go server, go_bench.go built here offline in GOPATH mode from Debian's
// golang-github-containerd-ttrpc-dev), each pair in one process over one unix
// socket. Echo of a BytesValue, on one connection: one caller at a time
// ("serial") and `--callers` callers sharing the client ("concurrent").
// The sides alternate in rounds (C++, then Go) so the machine's noise falls
// on both alike. Prints p50 and p99 of the round trip and calls/s per run and
// side, and the ratio C++/Go (< 1 for latency, > 1 for calls/s: C++ is
// better); asserts nothing. Without `go` the Go side is skipped.
//
//   ttrpc_bench [--n CALLS] [--callers N] [--payload BYTES] [--rounds R] [--dir DIR]
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "berth/ttrpc/client.h"
#include "berth/ttrpc/server.h"
#include "cleanup.h"
#include "daemon.h"
#include "run.h"

namespace berth::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr char kService[] = "berth.bench.v1.Bench";
constexpr int kWarmUp = 200;

// google.protobuf.BytesValue by hand: field 1, length-delimited.
std::string BytesValue(std::string_view value) {
  std::string out;
  if (value.empty()) return out;
  out.push_back('\x0a');
  for (std::uint64_t v = value.size();; v >>= 7) {
    if (v < 0x80) {
      out.push_back(static_cast<char>(v));
      break;
    }
    out.push_back(static_cast<char>(v | 0x80));
  }
  out.append(value);
  return out;
}

// The value of a BytesValue; nullopt when `in` is not one.
std::optional<std::string> ParseBytesValue(std::string_view in) {
  if (in.empty()) return std::string();
  if (in.front() != '\x0a') return std::nullopt;
  in.remove_prefix(1);
  std::uint64_t len = 0;
  for (int shift = 0;; shift += 7) {
    if (in.empty() || shift > 63) return std::nullopt;
    const auto b = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    len |= std::uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) break;
  }
  if (len != in.size()) return std::nullopt;
  return std::string(in);
}

// Latencies (µs) of one kind of run, summed over rounds.
struct Figures {
  std::vector<double> lat;
  double wall_us = 0;
  long calls = 0;
  void Add(const std::vector<double>& l, double wall) {
    lat.insert(lat.end(), l.begin(), l.end());
    wall_us += wall;
    calls += static_cast<long>(l.size());
  }
  double PerSecond() const { return wall_us > 0 ? static_cast<double>(calls) * 1e6 / wall_us : 0; }
};

struct Side {
  Figures serial, concurrent;
};

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// `calls` Echo calls from `callers` threads sharing `client`; false on the
// first failure.
bool CppRun(ttrpc::Client& client, const std::string& request, int calls, int callers,
            Figures* out) {
  std::vector<double> lat(static_cast<std::size_t>(calls));
  std::vector<char> failed(static_cast<std::size_t>(callers), 0);
  auto caller = [&](int g) {
    for (int i = g; i < calls; i += callers) {
      const auto start = Clock::now();
      Result<std::string> r = client.Call(kService, "Echo", request);
      if (!r.ok() || *r != request) {
        std::fprintf(stderr, "C++ echo: %s\n",
                     r.ok() ? "wrong answer" : r.status().ToString().c_str());
        failed[static_cast<std::size_t>(g)] = 1;
        return;
      }
      lat[static_cast<std::size_t>(i)] = Micros(Clock::now() - start);
    }
  };
  const auto start = Clock::now();
  if (callers == 1) {
    caller(0);
  } else {
    std::vector<std::thread> threads;
    for (int g = 0; g < callers; ++g) threads.emplace_back(caller, g);
    for (auto& t : threads) t.join();
  }
  const double wall = Micros(Clock::now() - start);
  if (std::find(failed.begin(), failed.end(), 1) != failed.end()) return false;
  if (out != nullptr) out->Add(lat, wall);
  return true;
}

// One C++ round: a server on its own io thread, a client with its own.
bool CppRound(const std::string& socket, int calls, int callers, const std::string& request,
              Side* side) {
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  ttrpc::Server server(io, {.logger = nullptr});
  Status s = server.Register(kService, "Echo",
                             [](const ttrpc::Context&, std::string_view p) -> Result<std::string> {
                               // Parsed and built again, as the Go server does.
                               std::optional<std::string> v = ParseBytesValue(p);
                               if (!v) return Status::InvalidArgument("bad BytesValue");
                               return BytesValue(*v);
                             });
  if (s.ok()) s = server.Listen(socket);
  if (!s.ok()) {
    std::fprintf(stderr, "C++ server: %s\n", s.ToString().c_str());
    return false;
  }
  std::thread io_thread([&io] { io.run(); });
  bool ok = false;
  {
    auto client = ttrpc::Client::Connect(socket);
    if (!client.ok()) {
      std::fprintf(stderr, "C++ client: %s\n", client.status().ToString().c_str());
    } else {
      ok = CppRun(**client, request, kWarmUp, 1, nullptr) &&
           CppRun(**client, request, calls, 1, &side->serial) &&
           CppRun(**client, request, calls, callers, &side->concurrent);
    }
  }
  (void)server.StopAndWait(std::chrono::seconds(2));
  guard.reset();
  io.stop();
  io_thread.join();
  return ok;
}

std::optional<std::string> FindGo() {
  std::string dirs = getenv("PATH") != nullptr ? getenv("PATH") : "/usr/bin:/bin";
  dirs += ":/usr/lib/go/bin";
  std::istringstream in(dirs);
  for (std::string dir; std::getline(in, dir, ':');) {
    if (dir.empty()) continue;
    if (access((dir + "/go").c_str(), X_OK) == 0) return dir + "/go";
  }
  return std::nullopt;
}

// Builds go_bench.go into `binary` offline in GOPATH mode (as
// tests/ttrpc_interop does); false with the log's path printed on failure.
bool BuildGo(const std::string& go, const std::string& dir, const std::string& binary) {
  // Only the go tool reads these; set before any other thread reads the env.
  setenv("GO111MODULE", "off", 1);
  setenv("GOPATH", (dir + "/gopath:/usr/share/gocode").c_str(), 1);
  setenv("GOCACHE", BERTH_BENCH_GOCACHE, 1);
  setenv("GOPROXY", "off", 1);
  setenv("GOFLAGS", "", 1);
  setenv("HOME", dir.c_str(), 1);
  const std::string log = dir + "/go-build.log";
  const int rc =
      RunToCompletion({go, "build", "-o", binary, BERTH_BENCH_GO_SOURCE}, "/dev/null", log);
  if (rc == 0) return true;
  std::ifstream in(log);
  std::fprintf(stderr, "go build failed (%d):\n%s\n", rc,
               std::string(std::istreambuf_iterator<char>(in), {}).c_str());
  return false;
}

// One Go round: go_bench in a process of its own; its output parsed.
bool GoRound(const std::string& binary, const std::string& dir, int calls, int callers, int payload,
             Side* side) {
  const std::string socket = dir + "/go.sock";
  const std::string out_path = dir + "/go-round.out";
  unlink(socket.c_str());
  unlink(out_path.c_str());
  const int rc = RunToCompletion(
      {binary, socket, std::to_string(calls), std::to_string(callers), std::to_string(payload)},
      "/dev/null", out_path);
  std::ifstream in(out_path);
  std::vector<double> lat[2];
  double wall[2] = {0, 0};
  bool walls[2] = {false, false};
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string kind, run;
    fields >> kind >> run;
    const int k = run == "serial" ? 0 : 1;
    double v = 0;
    long n = 0;
    if (kind == "lat" && (fields >> v)) {
      lat[k].push_back(v);
    } else if (kind == "wall" && (fields >> n >> v)) {
      wall[k] = v;
      walls[k] = true;
    } else {
      std::fprintf(stderr, "go_bench: %s\n", line.c_str());
    }
  }
  unlink(socket.c_str());
  if (rc != 0 || !walls[0] || !walls[1]) {
    std::fprintf(stderr, "go_bench exited %d\n", rc);
    return false;
  }
  side->serial.Add(lat[0], wall[0]);
  side->concurrent.Add(lat[1], wall[1]);
  return true;
}

void PrintRow(const std::string& run, const char* figure, double cpp, std::optional<double> go) {
  std::printf("%-16s %-10s %12.1f", run.c_str(), figure, cpp);
  if (go) {
    std::printf(" %12.1f", *go);
    if (*go > 0) std::printf("   %8.2fx", cpp / *go);
  }
  std::printf("\n");
}

void PrintRun(const std::string& run, const Figures& cpp, const Figures* go) {
  auto g = [go](auto f) { return go ? std::optional<double>(f(*go)) : std::nullopt; };
  PrintRow(run, "p50 µs", Percentile(cpp.lat, 0.5),
           g([](const Figures& f) { return Percentile(f.lat, 0.5); }));
  PrintRow(run, "p99 µs", Percentile(cpp.lat, 0.99),
           g([](const Figures& f) { return Percentile(f.lat, 0.99); }));
  PrintRow(run, "calls/s", cpp.PerSecond(), g([](const Figures& f) { return f.PerSecond(); }));
}

}  // namespace
}  // namespace berth::bench

int main(int argc, char** argv) {
  using namespace berth::bench;
  Cleanup::Install();
  CleanupScope cleanup;
  const Flags flags(argc, argv);
  const int n = flags.Int("--n", 20000, 1);
  const int callers = flags.Int("--callers", 8, 1);
  const int payload = flags.Int("--payload", 64, 0);
  const int rounds = flags.Int("--rounds", 4, 1);
  const std::string dir = MakeWorkDir(flags.Str("--dir", "/tmp"), "berth-ttrpc-bench");
  if (dir.empty()) return 1;
  const int per_round = std::max(1, n / rounds);
  std::printf(
      "ttrpc_bench: Echo of %d bytes, %d calls per run in %d rounds, %d concurrent "
      "callers, work folder %s\n",
      payload, per_round * rounds, rounds, callers, dir.c_str());

  std::optional<std::string> go = FindGo();
  const std::string go_binary = dir + "/go_bench";
  if (!go) {
    std::printf(
        "`go` not found: the Go side is skipped (install golang-go and "
        "golang-github-containerd-ttrpc-dev)\n");
  } else if (!BuildGo(*go, dir, go_binary)) {
    return 1;
  }

  const std::string request = BytesValue(std::string(static_cast<std::size_t>(payload), 'b'));
  Side cpp, gos;
  for (int r = 0; r < rounds; ++r) {
    unlink((dir + "/cpp.sock").c_str());
    if (!CppRound(dir + "/cpp.sock", per_round, callers, request, &cpp)) return 1;
    if (go && !GoRound(go_binary, dir, per_round, callers, payload, &gos)) return 1;
  }

  std::printf("\n%-16s %-10s %12s", "run", "figure", "C++");
  if (go) std::printf(" %12s   %9s", "Go", "C++/Go");
  std::printf("\n");
  PrintRun("serial", cpp.serial, go ? &gos.serial : nullptr);
  PrintRun("concurrent (" + std::to_string(callers) + ")", cpp.concurrent,
           go ? &gos.concurrent : nullptr);
  return 0;
}
