#include "channel.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "berth/grpc/status.h"

namespace berth::proxy {
namespace {

constexpr std::string_view kUnixScheme = "unix://";
constexpr int kMessageLimit = 16 << 20;  // containerd's default both ways
constexpr int kInitialBackoffMs = 100;
constexpr int kMaxBackoffMs = 1000;
constexpr std::chrono::milliseconds kReconnectWait{1000};

std::string SocketPath(const std::string& address) {
  if (address.compare(0, kUnixScheme.size(), kUnixScheme) == 0) {
    return address.substr(kUnixScheme.size());
  }
  return address;
}

std::shared_ptr<grpc::Channel> Dial(const std::string& socket_path) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kInitialBackoffMs);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kInitialBackoffMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxBackoffMs);
  args.SetMaxReceiveMessageSize(kMessageLimit);
  args.SetMaxSendMessageSize(kMessageLimit);
  // A connection of its own: a proxy's failures and backoff never spill over
  // to another channel that happens to dial the same socket.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("unix:" + socket_path, grpc::InsecureChannelCredentials(), args);
}

void AddHeaders(grpc::ClientContext& ctx, const CallContext& call) {
  ctx.set_wait_for_ready(false);
  if (!call.ns.empty()) ctx.AddMetadata(grpc_util::kNamespaceHeader, call.ns);
  if (!call.lease.empty()) ctx.AddMetadata(grpc_util::kLeaseHeader, call.lease);
}

std::string Seconds(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

}  // namespace

ProxyChannel::ProxyChannel(ChannelOptions options)
    : options_(std::move(options)),
      socket_path_(SocketPath(options_.address)),
      channel_(Dial(socket_path_)) {}

void ProxyChannel::RecoverEarly() const {
  if (channel_->GetState(/*try_to_connect=*/false) != GRPC_CHANNEL_TRANSIENT_FAILURE) return;
  if (!Probe().empty()) return;
  grpc::experimental::ChannelResetConnectionBackoff(channel_.get());
  // The channel reports the failure until the new connection is ready (a
  // fail-fast call would still be refused), so wait for that, briefly: the
  // socket answers, so only the handshake is left.
  (void)channel_->WaitForConnected(std::chrono::system_clock::now() +
                                   std::min(options_.timeout, kReconnectWait));
}

std::unique_ptr<grpc::ClientContext> ProxyChannel::UnaryContext(const CallContext& call) const {
  RecoverEarly();
  auto ctx = std::make_unique<grpc::ClientContext>();
  AddHeaders(*ctx, call);
  ctx->set_deadline(std::chrono::system_clock::now() + options_.timeout);
  return ctx;
}

std::unique_ptr<grpc::ClientContext> ProxyChannel::StreamContext(const CallContext& call) const {
  RecoverEarly();
  auto ctx = std::make_unique<grpc::ClientContext>();
  AddHeaders(*ctx, call);
  return ctx;
}

Status ProxyChannel::Error(const grpc::Status& status, bool overran) const {
  const std::string where = "proxy " + options_.name + " (" + socket_path_ + ")";
  if (overran) {
    return Status::DeadlineExceeded(where + ": no answer within " + Seconds(options_.timeout));
  }
  Status s = grpc_util::FromGrpc(status);
  switch (s.code()) {
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
    case Code::kCanceled:
      return s.Annotate(where);
    default:
      return s;
  }
}

void ProxyChannel::Connect() const { (void)channel_->GetState(/*try_to_connect=*/true); }

std::string ProxyChannel::Probe() const {
  struct stat st {};
  if (::stat(socket_path_.c_str(), &st) != 0) {
    return "socket " + socket_path_ + ": " + std::strerror(errno);
  }
  if (!S_ISSOCK(st.st_mode)) return socket_path_ + " is not a socket";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof(addr.sun_path)) return "socket path too long";
  std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  std::string why;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    why = "connect " + socket_path_ + ": " + std::strerror(errno);
  }
  ::close(fd);
  return why;
}

StepQueue::~StepQueue() {
  cq_.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) {
  }
}

bool StepQueue::Await(grpc::ClientContext& ctx) {
  void* tag = nullptr;
  bool ok = false;
  auto deadline = std::chrono::system_clock::now() + timeout_;
  switch (cq_.AsyncNext(&tag, &ok, deadline)) {
    case grpc::CompletionQueue::GOT_EVENT:
      return ok;
    case grpc::CompletionQueue::TIMEOUT:
      overran_ = true;
      ctx.TryCancel();
      // A cancelled operation completes promptly; gRPC guarantees the tag.
      (void)cq_.Next(&tag, &ok);
      return false;
    case grpc::CompletionQueue::SHUTDOWN:
      break;
  }
  return false;
}

}  // namespace berth::proxy
