// The connection state shared by every berthctl command: where berthd
// listens, which namespace calls act in, how long a call may take, and how
// errors are reported.
//
// Defaults follow ctr: the address comes from --address/-a, else
// $CONTAINERD_ADDRESS, else ./.berth/berthd.sock (berthd's embedded default
// when run from the same folder), always made absolute; the namespace from
// --namespace/-n, else $CONTAINERD_NAMESPACE, else "default", sent as the
// `containerd-namespace` metadata on every call. With --lease, calls also
// carry `containerd-lease`, so that what they create is held by that lease.
//
// Not thread-safe; one Client serves one command.
#ifndef BERTH_CLI_CLIENT_H_
#define BERTH_CLI_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace berth::cli {

inline constexpr char kDefaultAddress[] = ".berth/berthd.sock";
inline constexpr char kDefaultNamespace[] = "default";
inline constexpr char kNamespaceHeader[] = "containerd-namespace";
inline constexpr char kLeaseHeader[] = "containerd-lease";

struct ClientOptions {
  std::string address;  // socket path; absolute once resolved
  std::string name_space = kDefaultNamespace;
  std::chrono::nanoseconds timeout{};  // per call; zero = no deadline
  std::string lease;                   // "" = none
};

// The defaults before flags apply: environment, then built-in values.
ClientOptions DefaultClientOptions();

// `path` made absolute against the working directory (unchanged if already).
std::string AbsolutePath(const std::string& path);

class Client {
 public:
  explicit Client(ClientOptions options);

  const ClientOptions& options() const { return options_; }
  // The channel to "unix:<address>", created on first use.
  std::shared_ptr<grpc::Channel> channel();
  // A context for one call, carrying the namespace and the deadline.
  std::unique_ptr<grpc::ClientContext> NewCallContext() const;

 private:
  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
};

// containerd's errdefs wording of a gRPC code: "not found", "unavailable", ...
std::string_view GrpcCodeText(grpc::StatusCode code);
// The code's name as Go prints a codes.Code: "NotFound", "Unavailable", ...
std::string_view GrpcCodeName(grpc::StatusCode code);

// Prints "berthctl: <message>" on stderr and returns the exit code (1).
int ReportError(std::string_view message);
// Prints a failed call as "berthctl: <message>: <code text>" (the code text is
// not repeated when berthd's message already ends with it). When berthd
// cannot be reached, says so and names the address. Returns 1.
int ReportCallError(const Client& client, const grpc::Status& status);

}  // namespace berth::cli

#endif  // BERTH_CLI_CLIENT_H_
