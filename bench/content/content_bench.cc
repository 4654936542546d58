// content_bench: ingest and read throughput of one blob (1 GiB by default),
// printed side by side with this machine's SHA-256 ceiling:
//   (a) the ceiling: OpenSSL EVP SHA-256 over a 256 MiB buffer in 16 KiB
//       blocks (as `openssl speed -evp sha256` measures its largest block);
//   (b) in-process: the content-local plugin loaded from its .so, a Writer
//       fed 1 MiB chunks and committed, then a ReaderAt read back;
//   (c) berthd's gRPC Content.Write (one stream, 1 MiB chunks) and
//       Content.Read, with berthd started on a temporary root in this run;
//   (d) the same client against a real containerd, when installed, and the
//       ratios;
//   (e) the stock `ctr content ingest` of the same amount from a file into
//       each daemon, when ctr is installed.
// Every figure is printed; nothing is asserted. Temporary folders and the
// daemons go away on every exit path (see cleanup.h).
//
// (b) runs again on tmpfs (--mem-dir, default /dev/shm; "" to skip) to
// show the store's CPU path apart from the disk.
//
//   content_bench [--size BYTES] [--dir BASE] [--mem-dir DIR] [--berthd PATH]
//                 [--containerd PATH] [--ctr PATH] [--plugin PATH]
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "berth/digest.h"
#include "berth/grpc/content_client.h"
#include "cleanup.h"
#include "daemon.h"
#include "in_process.h"

namespace berth::bench {
namespace {

namespace fs = std::filesystem;
namespace pb = containerd::services::content::v1;
using Clock = std::chrono::steady_clock;
// The size of each WRITE (berthctl's).
constexpr std::size_t kContentChunkBytes = 1 << 20;

constexpr std::size_t kCeilingBytes = 256u << 20;
constexpr std::size_t kCeilingBlock = 16u << 10;
constexpr std::size_t kPatternBytes = 64u << 20;
constexpr char kNamespace[] = "default";

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double MBps(std::int64_t bytes, double seconds) {
  return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0;
}

// Pseudo-random bytes (xorshift), so nothing along the way can shortcut them.
std::string Pattern(std::size_t size, std::uint64_t seed) {
  std::string out(size, '\0');
  std::uint64_t x = 0x9E3779B97F4A7C15ULL ^ seed;
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(out.data() + i, &x, 8);
  }
  return out;
}

// The blob: `size` bytes taken 1 MiB at a time from the pattern, cyclically.
class Blob {
 public:
  explicit Blob(std::int64_t size) : size_(size), pattern_(Pattern(kPatternBytes, 1)) {}
  std::int64_t size() const { return size_; }
  std::size_t chunks() const {
    return static_cast<std::size_t>((size_ + kContentChunkBytes - 1) / kContentChunkBytes);
  }
  std::string_view Chunk(std::size_t i) const {
    const std::size_t at = (i * kContentChunkBytes) % kPatternBytes;
    const auto left = static_cast<std::size_t>(size_ - static_cast<std::int64_t>(i * kContentChunkBytes));
    return std::string_view(pattern_).substr(at, std::min(kContentChunkBytes, left));
  }

 private:
  std::int64_t size_;
  std::string pattern_;
};

double ShaCeiling() {
  const std::string buf = Pattern(kCeilingBytes, 2);
  unsigned char md[EVP_MAX_MD_SIZE];
  double best = 0;
  for (int pass = 0; pass < 3; ++pass) {
    const auto start = Clock::now();
    for (std::size_t at = 0; at < buf.size(); at += kCeilingBlock) {
      EVP_Digest(buf.data() + at, kCeilingBlock, md, nullptr, EVP_sha256(), nullptr);
    }
    best = std::max(best, MBps(static_cast<std::int64_t>(buf.size()), Seconds(start)));
  }
  return best;
}

struct Figures {
  bool ok = false;
  std::string error;
  double ingest_s = 0;
  double commit_s = 0;  // part of ingest_s, when measured apart
  double read_s = 0;
  std::string digest;
};

Figures Failed(std::string error) {
  Figures f;
  f.error = std::move(error);
  return f;
}

Figures InProcess(const std::string& plugin, const std::string& root, const Blob& blob) {
  Figures f;
  auto loaded = LoadedContentStore::Load(plugin, root);
  if (!loaded.ok()) return Failed(loaded.status().ToString());
  ContentStore& store = (*loaded)->store();
  auto start = Clock::now();
  auto writer = store.Writer(WriterOptions{"bench-in-process", blob.size(), ""});
  if (!writer.ok()) return Failed(writer.status().ToString());
  for (std::size_t i = 0; i < blob.chunks(); ++i) {
    std::string_view c = blob.Chunk(i);
    Status s = (*writer)->Write(c.data(), c.size());
    if (!s.ok()) return Failed(s.ToString());
  }
  f.digest = (*writer)->Digest();
  const auto commit_start = Clock::now();
  Status committed = (*writer)->Commit(blob.size(), f.digest, {});
  if (!committed.ok()) return Failed(committed.ToString());
  f.commit_s = Seconds(commit_start);
  f.ingest_s = Seconds(start);
  writer->reset();

  start = Clock::now();
  auto reader = store.ReaderAt(f.digest);
  if (!reader.ok()) return Failed(reader.status().ToString());
  std::string buf(kContentChunkBytes, '\0');
  std::int64_t got = 0;
  for (;;) {
    auto n = (*reader)->ReadAt(buf.data(), buf.size(), got);
    if (!n.ok()) return Failed(n.status().ToString());
    if (*n == 0) break;
    got += static_cast<std::int64_t>(*n);
  }
  f.read_s = Seconds(start);
  if (got != blob.size()) return Failed("read " + std::to_string(got) + " bytes");
  f.ok = true;
  return f;
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("containerd-namespace", kNamespace);
  return ctx;
}

// Ingest then read through a daemon's Content service; deletes the blob at
// the end so a later ingest of other bytes starts from an empty store.
Figures ThroughGrpc(const std::string& socket, const Blob& blob, const std::string& expected) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  args.SetMaxSendMessageSize(16 << 20);
  auto channel = grpc::CreateCustomChannel("unix://" + socket,
                                           grpc::InsecureChannelCredentials(), args);
  auto stub = pb::Content::NewStub(channel);
  Figures f;
  auto start = Clock::now();
  {
    grpc_util::ContentWriteStream stream(*stub, Context());
    Status s = stream.Open("bench-grpc", blob.size(), expected);
    if (!s.ok()) return Failed("open: " + s.ToString());
    for (std::size_t i = 0; i < blob.chunks() && stream.Write(blob.Chunk(i)).ok(); ++i) {
    }
    auto digest = stream.Commit(blob.size(), expected, {});
    if (!digest.ok()) return Failed("commit: " + digest.status().ToString());
    f.digest = *digest;
  }
  f.ingest_s = Seconds(start);
  if (f.digest != expected) return Failed("committed " + f.digest + ", expected " + expected);

  start = Clock::now();
  std::int64_t got = 0;
  Status s = grpc_util::ReadContent(*stub, Context(), expected, 0, 0, [&](std::string_view data) {
    got += static_cast<std::int64_t>(data.size());
    return true;
  });
  f.read_s = Seconds(start);
  if (!s.ok()) return Failed("read: " + s.ToString());
  if (got != blob.size()) return Failed("read " + std::to_string(got) + " bytes");

  pb::DeleteContentRequest del;
  del.set_digest(expected);
  google::protobuf::Empty empty;
  (void)stub->Delete(Context().get(), del, &empty);
  f.ok = true;
  return f;
}

void PrintFigures(const char* label, const Figures& f, std::int64_t size, double ceiling) {
  std::printf("%s\n", label);
  if (!f.ok) {
    std::printf("      failed: %s\n", f.error.c_str());
    return;
  }
  const double ingest = MBps(size, f.ingest_s);
  std::printf("      ingest: %9.1f MB/s  (%.2f s", ingest, f.ingest_s);
  if (f.commit_s > 0) std::printf(", of which commit with fsync %.2f s", f.commit_s);
  std::printf("; %.1f%% of the SHA-256 ceiling)\n", 100.0 * ingest / ceiling);
  std::printf("      read:   %9.1f MB/s  (%.2f s)\n", MBps(size, f.read_s), f.read_s);
}

// `ctr content ingest` of `file` into the daemon at `socket`; seconds, or <0.
double CtrIngest(const std::string& ctr, const std::string& socket, const std::string& file,
                 const std::string& log) {
  const auto start = Clock::now();
  const int rc = RunToCompletion(
      {ctr, "--address", socket, "--namespace", kNamespace, "content", "ingest", "bench-ctr"},
      file, log);
  return rc == 0 ? Seconds(start) : -1.0;
}

bool WriteBlobFile(const std::string& path, const Blob& blob) {
  std::ofstream out(path, std::ios::binary);
  out << "ctr";  // other bytes than the gRPC runs' blob
  for (std::size_t i = 0; out && i < blob.chunks(); ++i) {
    std::string_view c = blob.Chunk(i);
    if (i + 1 == blob.chunks()) c.remove_suffix(std::min<std::size_t>(3, c.size()));
    out.write(c.data(), static_cast<std::streamsize>(c.size()));
  }
  return static_cast<bool>(out);
}

struct Options {
  std::int64_t size = std::int64_t{1} << 30;
  std::string base = "/var/tmp";
  std::string mem_base = "/dev/shm";  // "" = no tmpfs run
  std::string berthd = std::string(BERTH_BIN_DIR) + "/berthd";
  std::string containerd = "/usr/bin/containerd";
  std::string ctr = "/usr/bin/ctr";
  std::string plugin = std::string(BERTH_PLUGIN_DIR) + "/content-local.so";
};

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--size") o.size = std::max<std::int64_t>(1, std::atoll(argv[i + 1]));
    else if (a == "--dir") o.base = argv[i + 1];
    else if (a == "--mem-dir") o.mem_base = argv[i + 1];
    else if (a == "--berthd") o.berthd = argv[i + 1];
    else if (a == "--containerd") o.containerd = argv[i + 1];
    else if (a == "--ctr") o.ctr = argv[i + 1];
    else if (a == "--plugin") o.plugin = argv[i + 1];
  }
  return o;
}

struct DaemonRun {
  Figures grpc;
  double ctr_s = 0;  // 0 = not run, <0 = failed
};

DaemonRun RunDaemon(const char* name, const Options& o, const std::string& binary,
                    const std::string& dir, const std::string& extra_toml, const Blob& blob,
                    const std::string& expected, const std::string& ctr_file) {
  DaemonRun run;
  Daemon d(binary, dir, extra_toml);
  if (!d.WaitServing()) {
    run.grpc.error = std::string(name) + " did not come up; see " + d.log();
    return run;
  }
  run.grpc = ThroughGrpc(d.socket(), blob, expected);
  if (!ctr_file.empty()) run.ctr_s = CtrIngest(o.ctr, d.socket(), ctr_file, dir + "/ctr.log");
  d.Stop();
  std::error_code ec;
  fs::remove_all(dir, ec);
  return run;
}

void PrintRatios(const Figures& b, const Figures& c) {
  if (!b.ok || !c.ok) return;
  std::printf("    berthd / containerd: ingest %.2fx, read %.2fx  (>1: berthd faster)\n",
              c.ingest_s / b.ingest_s, c.read_s / b.read_s);
}

void PrintCtr(const char* name, double s, std::int64_t size) {
  if (s > 0) std::printf("      ctr content ingest into %-10s %9.1f MB/s  (%.2f s)\n", name,
                         MBps(size, s), s);
  else if (s < 0) std::printf("      ctr content ingest into %s failed\n", name);
}

// (c) and (d) with the daemons' roots under `dir`; `tag` marks the variant.
struct Pair {
  DaemonRun b;
  DaemonRun c;
  bool have_containerd = false;
};

Pair RunPair(const Options& o, const std::string& dir, const std::string& tag,
             const Blob& blob, const std::string& expected, const std::string& ctr_file,
             double ceiling) {
  Pair p;
  p.b = RunDaemon("berthd", o, o.berthd, dir + "/berthd", "", blob, expected, ctr_file);
  PrintFigures(("(c" + tag + ") berthd gRPC, one Write stream / one Read, root " + dir +
                " (" + o.berthd + ")")
                   .c_str(),
               p.b.grpc, o.size, ceiling);
  std::fflush(stdout);
  p.have_containerd = access(o.containerd.c_str(), X_OK) == 0;
  if (!p.have_containerd) {
    std::printf("(d%s) containerd not installed at %s: no comparison\n", tag.c_str(),
                o.containerd.c_str());
    return p;
  }
  p.c = RunDaemon("containerd", o, o.containerd, dir + "/containerd",
                  "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]", blob, expected,
                  ctr_file);
  PrintFigures(("(d" + tag + ") containerd gRPC, same client, root " + dir + " (" +
                o.containerd + ")")
                   .c_str(),
               p.c.grpc, o.size, ceiling);
  PrintRatios(p.b.grpc, p.c.grpc);
  std::fflush(stdout);
  return p;
}

void PrintCtrRuns(const Options& o, const Pair& p) {
  std::printf("(e) stock ctr (%s), the same amount from a file\n", o.ctr.c_str());
  PrintCtr("berthd", p.b.ctr_s, o.size);
  PrintCtr("containerd", p.c.ctr_s, o.size);
  if (p.b.ctr_s > 0 && p.c.ctr_s > 0) {
    std::printf("    berthd / containerd: ingest %.2fx  (>1: berthd faster)\n",
                p.c.ctr_s / p.b.ctr_s);
  }
}

void PrintTargets(std::int64_t size, double ceiling, const Figures& in_process,
                  const Figures& in_process_mem, const Pair& disk, const Pair& mem) {
  std::printf("targets (printed, not asserted):\n");
  auto pct = [&](const Figures& f) { return 100.0 * MBps(size, f.ingest_s) / ceiling; };
  if (in_process.ok) {
    std::printf("    in-process ingest within 15%% of the ceiling: %s on disk (%.1f%%)",
                pct(in_process) >= 85.0 ? "met" : "not met", pct(in_process));
    if (in_process_mem.ok) {
      std::printf(", %s on tmpfs (%.1f%%)", pct(in_process_mem) >= 85.0 ? "met" : "not met",
                  pct(in_process_mem));
    }
    std::printf("\n");
  }
  auto faster = [](const Pair& p) {
    return p.b.grpc.ok && p.c.grpc.ok && p.c.grpc.ingest_s > p.b.grpc.ingest_s;
  };
  if (disk.b.grpc.ok && disk.c.grpc.ok) {
    std::printf("    gRPC ingest faster than containerd: %s on disk (%.2fx)",
                faster(disk) ? "met" : "not met", disk.c.grpc.ingest_s / disk.b.grpc.ingest_s);
    if (mem.b.grpc.ok && mem.c.grpc.ok) {
      std::printf(", %s on tmpfs (%.2fx)", faster(mem) ? "met" : "not met",
                  mem.c.grpc.ingest_s / mem.b.grpc.ingest_s);
    }
    std::printf("\n");
  }
}

// A fresh folder under `base`, removed at exit; "" when it cannot be made.
std::string MakeWorkDir(const std::string& base) {
  std::error_code ec;
  if (base.empty() || !fs::is_directory(base, ec)) return "";
  std::string tmpl = base + "/berth-content-bench-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return "";
  Cleanup::AddDir(tmpl);
  return tmpl;
}

std::string DigestOf(const Blob& blob) {
  Sha256 h;
  for (std::size_t i = 0; i < blob.chunks(); ++i) {
    h.Update(blob.Chunk(i).data(), blob.Chunk(i).size());
  }
  return h.Digest();
}

int Main(int argc, char** argv) {
  Cleanup::Install();
  CleanupScope cleanup;
  const Options o = ParseOptions(argc, argv);
  const std::string dir = MakeWorkDir(o.base);
  if (dir.empty()) {
    std::fprintf(stderr, "content_bench: cannot make a folder under %s\n", o.base.c_str());
    return 1;
  }
  const std::string mem = MakeWorkDir(o.mem_base);
  const Blob blob(o.size);
  std::printf("content_bench: %lld bytes (%.2f GiB) in 1 MiB chunks; disk folder %s, "
              "tmpfs folder %s\n",
              static_cast<long long>(o.size), static_cast<double>(o.size) / (1 << 30),
              dir.c_str(), mem.empty() ? "(none)" : mem.c_str());

  const double ceiling = ShaCeiling();
  std::printf("(a) SHA-256 ceiling, OpenSSL EVP, 16 KiB blocks over 256 MiB (best of 3): "
              "%.1f MB/s\n", ceiling);
  std::fflush(stdout);

  std::error_code ec;
  const Figures in_process = InProcess(o.plugin, dir + "/in-process", blob);
  PrintFigures(("(b) in-process content-local on disk (" + o.plugin + ")").c_str(),
               in_process, o.size, ceiling);
  fs::remove_all(dir + "/in-process", ec);
  Figures in_process_mem;
  if (!mem.empty()) {
    in_process_mem = InProcess(o.plugin, mem + "/in-process", blob);
    PrintFigures("(b') the same on tmpfs: the store's CPU path without the disk",
                 in_process_mem, o.size, ceiling);
    fs::remove_all(mem + "/in-process", ec);
  }
  std::fflush(stdout);
  const std::string expected = in_process.ok ? in_process.digest : DigestOf(blob);

  const bool have_ctr = access(o.ctr.c_str(), X_OK) == 0;
  const std::string ctr_file = have_ctr ? dir + "/ctr-input" : "";
  if (have_ctr && !WriteBlobFile(ctr_file, blob)) {
    std::fprintf(stderr, "content_bench: cannot write %s\n", ctr_file.c_str());
    return 1;
  }
  const Pair disk = RunPair(o, dir, "", blob, expected, ctr_file, ceiling);
  if (have_ctr) PrintCtrRuns(o, disk);
  fs::remove_all(ctr_file, ec);
  Pair on_mem;
  if (!mem.empty()) on_mem = RunPair(o, mem, "'", blob, expected, "", ceiling);
  PrintTargets(o.size, ceiling, in_process, in_process_mem, disk, on_mem);
  return 0;
}

}  // namespace
}  // namespace berth::bench

int main(int argc, char** argv) { return berth::bench::Main(argc, argv); }
