// `berthctl version`: this client's version and berthd's, as ctr prints them.
#include <google/protobuf/empty.pb.h>

#include <iostream>

#include "command.h"
#include "containerd/services/introspection/v1/introspection.grpc.pb.h"
#include "containerd/services/version/v1/version.grpc.pb.h"

namespace berth::cli {
namespace {

namespace introspection = containerd::services::introspection::v1;
namespace version = containerd::services::version::v1;

void PrintClient() {
  std::cout << "Client:\n"
            << "  Version:  " << BERTH_VERSION << "\n"
            << "  Revision: " << BERTH_REVISION << "\n\n";
}

grpc::Status PrintServer(Client& client) {
  version::VersionResponse reply;
  auto context = client.NewCallContext();
  grpc::Status status = version::Version::NewStub(client.channel())
                            ->Version(context.get(), {}, &reply);
  if (!status.ok()) return status;
  std::cout << "Server:\n"
            << "  Version:  " << reply.version() << "\n"
            << "  Revision: " << reply.revision() << "\n";

  introspection::ServerResponse server;
  context = client.NewCallContext();
  status = introspection::Introspection::NewStub(client.channel())
               ->Server(context.get(), {}, &server);
  if (!status.ok()) return status;
  std::cout << "  UUID: " << server.uuid() << "\n";
  if (reply.version() != BERTH_VERSION) {
    std::cerr << "WARNING: version mismatch\n";
  }
  return grpc::Status::OK;
}

int RunVersion(Client& client, const std::vector<std::string>& args) {
  if (!args.empty()) return ReportError("version takes no arguments");
  PrintClient();
  grpc::Status status = PrintServer(client);
  if (!status.ok()) return ReportCallError(client, status);
  return 0;
}

}  // namespace

CommandGroup VersionGroup() {
  return {"version", "print the client and server versions", RunVersion};
}

}  // namespace berth::cli
