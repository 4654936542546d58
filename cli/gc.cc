// `berthctl gc`: runs a garbage collection now and prints what it removed
// and how long each phase took, one "name value" pair a line:
//   content_removed 3          blobs freed in the content store
//   ingests_removed 0          interrupted uploads aborted
//   snapshots_removed 2        backend snapshots removed
//   leases_removed 1           expired leases
//   records_removed 9          metadata records swept
//   backends_pending 0         backend cleanups still running at the reply
//   backend_errors 0           removals that failed (retried next time)
//   mark 1.2ms                 finding what is referenced (changes paused)
//   sweep 310µs                removing the records (changes paused)
//   backend 4.5ms              freeing the backends' storage
#include <iostream>

#include "berth/config.h"
#include "berth/services/gc/v1/gc.grpc.pb.h"
#include "command.h"

namespace berth::cli {
namespace {

namespace pb = ::berth::services::gc::v1;

std::string FormatProtoDuration(const google::protobuf::Duration& d) {
  return FormatDuration(
      Duration{std::chrono::seconds(d.seconds()) + std::chrono::nanoseconds(d.nanos())});
}

int RunGc(Client& client, const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::cout << "usage: berthctl gc\n";
    return args[0] == "--help" || args[0] == "-h" ? 0 : 1;
  }
  auto stub = pb::GC::NewStub(client.channel());
  pb::CollectRequest req;
  pb::CollectResponse resp;
  auto ctx = client.NewCallContext();
  grpc::Status s = stub->Collect(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(client, s);
  std::cout << "content_removed " << resp.content_removed() << "\n"
            << "ingests_removed " << resp.ingests_removed() << "\n"
            << "snapshots_removed " << resp.snapshots_removed() << "\n"
            << "leases_removed " << resp.leases_removed() << "\n"
            << "records_removed " << resp.records_removed() << "\n"
            << "backends_pending " << resp.backends_pending() << "\n"
            << "backend_errors " << resp.backend_errors() << "\n"
            << "mark " << FormatProtoDuration(resp.mark()) << "\n"
            << "sweep " << FormatProtoDuration(resp.sweep()) << "\n"
            << "backend " << FormatProtoDuration(resp.backend()) << "\n";
  return 0;
}

}  // namespace

CommandGroup GcGroup() {
  return {"gc", "run a garbage collection now and print its figures", RunGc};
}

}  // namespace berth::cli
