// memory_bench: resident memory (VmRSS) of berthd, and of containerd when
// found, idle, right after a burst of large requests, and after `--idle`
// seconds more: does the daemon give memory back? The burst is `--threads`
// clients at once, each creating `--n` containers with an OCI spec of
// `--spec-mib` MiB (each request near the 16 MiB message limit at the
// default), reading each back, then deleting them all. Prints the figures;
// asserts nothing.
//
//   memory_bench [--threads T] [--n N] [--spec-mib M] [--idle S] [--berthd PATH]
//                [--containerd PATH] [--dir DIR]
#include <grpcpp/grpcpp.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cleanup.h"
#include "containerd/services/containers/v1/containers.grpc.pb.h"
#include "daemon.h"

namespace berth::bench {
namespace {

namespace ctr = containerd::services::containers::v1;

constexpr char kNamespace[] = "bench";

// VmRSS of `pid` in MiB, or -1.
double RssMib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

struct Options {
  int threads = 8;
  int n = 4;
  int spec_mib = 12;
  int idle = 5;
  std::string berthd = BERTH_BIN_DIR "/berthd";
  std::string containerd = "/usr/bin/containerd";
  std::string dir;
};

void Burst(const std::string& socket, const Options& o) {
  std::vector<std::thread> clients;
  for (int t = 0; t < o.threads; ++t) {
    clients.emplace_back([&, t] {
      auto channel =
          grpc::CreateCustomChannel("unix://" + socket, grpc::InsecureChannelCredentials(), [] {
            grpc::ChannelArguments args;
            args.SetMaxReceiveMessageSize(-1);
            args.SetMaxSendMessageSize(-1);
            return args;
          }());
      auto stub = ctr::Containers::NewStub(channel);
      const std::string spec(static_cast<std::size_t>(o.spec_mib) << 20, 'x');
      for (int i = 0; i < o.n; ++i) {
        const std::string id = "c" + std::to_string(t) + "-" + std::to_string(i);
        grpc::ClientContext ctx;
        ctx.AddMetadata("containerd-namespace", kNamespace);
        ctr::CreateContainerRequest req;
        req.mutable_container()->set_id(id);
        req.mutable_container()->mutable_runtime()->set_name("io.containerd.runc.v2");
        req.mutable_container()->mutable_spec()->set_type_url(
            "types.containerd.io/opencontainers/runtime-spec/1/Spec");
        req.mutable_container()->mutable_spec()->set_value(spec);
        ctr::CreateContainerResponse resp;
        grpc::Status s = stub->Create(&ctx, req, &resp);
        if (!s.ok()) std::fprintf(stderr, "create %s: %s\n", id.c_str(), s.error_message().c_str());
        grpc::ClientContext get_ctx;
        get_ctx.AddMetadata("containerd-namespace", kNamespace);
        ctr::GetContainerRequest get;
        get.set_id(id);
        ctr::GetContainerResponse got;
        (void)stub->Get(&get_ctx, get, &got);
      }
      for (int i = 0; i < o.n; ++i) {
        grpc::ClientContext ctx;
        ctx.AddMetadata("containerd-namespace", kNamespace);
        ctr::DeleteContainerRequest del;
        del.set_id("c" + std::to_string(t) + "-" + std::to_string(i));
        google::protobuf::Empty empty;
        (void)stub->Delete(&ctx, del, &empty);
      }
    });
  }
  for (std::thread& c : clients) c.join();
}

void Measure(const char* name, const std::string& binary, const std::string& dir,
             const Options& o) {
  Daemon daemon(binary, dir, "");
  if (!daemon.WaitServing()) {
    std::printf("%-10s did not start (log: %s)\n", name, daemon.log().c_str());
    return;
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double before = RssMib(daemon.pid());
  Burst(daemon.socket(), o);
  const double after = RssMib(daemon.pid());
  std::this_thread::sleep_for(std::chrono::seconds(o.idle));
  const double idle = RssMib(daemon.pid());
  std::printf("%-10s RSS MiB: idle %7.1f  after burst %7.1f  %ds later %7.1f\n", name, before,
              after, o.idle, idle);
}

int Main(int argc, char** argv) {
  Cleanup::Install();
  CleanupScope cleanup;
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--threads")
      o.threads = std::stoi(value);
    else if (flag == "--n")
      o.n = std::stoi(value);
    else if (flag == "--spec-mib")
      o.spec_mib = std::stoi(value);
    else if (flag == "--idle")
      o.idle = std::stoi(value);
    else if (flag == "--berthd")
      o.berthd = value;
    else if (flag == "--containerd")
      o.containerd = value;
    else if (flag == "--dir")
      o.dir = value;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (o.dir.empty()) {
    char tmpl[] = "/tmp/berth-memory-bench.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return 1;
    o.dir = tmpl;
    Cleanup::AddDir(o.dir);
  }
  std::printf("burst: %d clients x %d containers, spec %d MiB each\n", o.threads, o.n, o.spec_mib);
  Measure("berthd", o.berthd, o.dir + "/berthd", o);
  if (::access(o.containerd.c_str(), X_OK) == 0) {
    Measure("containerd", o.containerd, o.dir + "/containerd", o);
  }
  return 0;
}

}  // namespace
}  // namespace berth::bench

int main(int argc, char** argv) { return berth::bench::Main(argc, argv); }
