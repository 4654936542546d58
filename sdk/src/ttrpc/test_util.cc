#include "test_util.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "ttrpc_wire.pb.h"

namespace berth::ttrpc::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/ttrpc-test-XXXXXX";
  char* made = ::mkdtemp(tmpl.data());
  if (made == nullptr) std::abort();
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

IoThread::IoThread() : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}

IoThread::~IoThread() {
  guard_.reset();
  io_.stop();
  thread_.join();
}

void CapturingLogger::Log(LogLevel, std::string_view message) {
  notifier_.Run([&] { lines_.emplace_back(message); });
}

bool CapturingLogger::WaitForLine(const std::string& needle) {
  return notifier_.WaitFor([&] {
    for (const auto& l : lines_) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  });
}

std::vector<std::string> CapturingLogger::Lines() {
  std::vector<std::string> copy;
  notifier_.Run([&] { copy = lines_; });
  return copy;
}

Result<RawConn> RawConn::Connect(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return Status::InvalidArgument("path too long");
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unknown("socket");
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::string err = std::strerror(errno);
    ::close(fd);
    return Status::Unavailable("connect: " + err);
  }
  return RawConn(fd);
}

RawConn::~RawConn() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConn::SendBytes(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

bool RawConn::Send(const FrameHeader& header, const std::string& body) {
  std::string bytes(kFrameHeaderSize, '\0');
  EncodeFrameHeader(header, reinterpret_cast<std::uint8_t*>(bytes.data()));
  return SendBytes(bytes + body);
}

bool RawConn::ReadFull(char* p, std::size_t n, std::chrono::steady_clock::time_point until) {
  std::size_t got = 0;
  while (got < n) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{.fd = fd_, .events = POLLIN, .revents = 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    ssize_t m = ::recv(fd_, p + got, n - got, 0);
    if (m < 0 && errno == EINTR) continue;
    if (m <= 0) return false;
    got += static_cast<std::size_t>(m);
  }
  return true;
}

std::optional<std::pair<FrameHeader, std::string>> RawConn::Read(std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  char head[kFrameHeaderSize];
  if (!ReadFull(head, sizeof(head), until)) return std::nullopt;
  FrameHeader h = DecodeFrameHeader(reinterpret_cast<std::uint8_t*>(head));
  std::string body(h.length, '\0');
  if (!ReadFull(body.data(), body.size(), until)) return std::nullopt;
  return std::make_pair(h, std::move(body));
}

bool RawConn::WaitClosed(std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{.fd = fd_, .events = POLLIN, .revents = 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    ssize_t m = ::recv(fd_, buf, sizeof(buf), 0);
    if (m == 0 || (m < 0 && errno == ECONNRESET)) return true;
    if (m < 0 && errno != EINTR) return true;
  }
}

std::string RequestBytes(const std::string& service, const std::string& method,
                         const std::string& payload, std::int64_t timeout_nano) {
  wire::Request req;
  req.set_service(service);
  req.set_method(method);
  req.set_payload(payload);
  req.set_timeout_nano(timeout_nano);
  return req.SerializeAsString();
}

Decoded DecodeResponse(const std::string& body) {
  wire::Response resp;
  Decoded d;
  if (!resp.ParseFromString(body)) return d;
  d.code = resp.status().code();
  d.message = resp.status().message();
  d.payload = resp.payload();
  return d;
}

}  // namespace berth::ttrpc::testing
