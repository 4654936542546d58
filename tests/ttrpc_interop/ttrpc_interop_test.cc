// berth's ttrpc against containerd's (Go, ttrpc 1.1.1) in both directions:
// Go client → C++ server, C++ client → Go server. The Go peer is
// interop.go, built here offline in GOPATH mode from Debian's packages.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "berth/ttrpc/client.h"
#include "berth/ttrpc/server.h"
#include "berth/ttrpc/status.h"

namespace berth::ttrpc {
namespace {

constexpr auto kLimit = std::chrono::seconds(120);  // go build on a busy machine
constexpr char kService[] = "berth.interop.v1.Interop";

// ---- the wrapper messages (google.protobuf.{Bytes,String,Int64}Value) ------

void PutVarint(std::uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view* in, std::uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    auto b = static_cast<std::uint8_t>(in->front());
    in->remove_prefix(1);
    *v |= std::uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

std::string BytesValue(std::string_view value) {
  std::string out;
  if (value.empty()) return out;
  out.push_back('\x0a');
  PutVarint(value.size(), &out);
  out.append(value);
  return out;
}

std::optional<std::string> ParseBytesValue(std::string_view in) {
  if (in.empty()) return std::string();
  std::uint64_t len = 0;
  if (in.front() != '\x0a') return std::nullopt;
  in.remove_prefix(1);
  if (!GetVarint(&in, &len) || len != in.size()) return std::nullopt;
  return std::string(in);
}

std::string Int64Value(std::int64_t v) {
  std::string out;
  if (v == 0) return out;
  out.push_back('\x08');
  PutVarint(static_cast<std::uint64_t>(v), &out);
  return out;
}

std::optional<std::int64_t> ParseInt64Value(std::string_view in) {
  if (in.empty()) return 0;
  std::uint64_t v = 0;
  if (in.front() != '\x08') return std::nullopt;
  in.remove_prefix(1);
  if (!GetVarint(&in, &v)) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

// ---- processes ---------------------------------------------------------------

std::optional<std::string> FindGo() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  dirs += ":/usr/lib/go/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/go";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

struct Child {
  pid_t pid = -1;
  int out = -1;  // stdout+stderr
};

Child Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return {};
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  return {pid, pipefd[0]};
}

// Reads the child's output until it closes it, or `needle` appears (when
// given), or `limit` passes. Returns what was read.
std::string ReadOutput(int fd, std::chrono::steady_clock::duration limit,
                       const std::string& needle = "", bool* eof = nullptr) {
  if (eof != nullptr) *eof = false;
  std::string out;
  auto until = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  for (;;) {
    if (!needle.empty() && out.find(needle) != std::string::npos) return out;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return out;
    pollfd pfd{.fd = fd, .events = POLLIN, .revents = 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return out;
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (eof != nullptr) *eof = true;
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// Exit status, or -1 when killed because it outlived `limit` (or died of a
// signal).
int Wait(Child& c, std::chrono::steady_clock::duration limit, std::string* output) {
  bool eof = false;
  *output += ReadOutput(c.out, limit, "", &eof);
  ::close(c.out);
  c.out = -1;
  // Output closed: the child is exiting (a child that closed its output
  // early and lingers is not one of ours). Otherwise it outlived the limit.
  if (!eof) ::kill(c.pid, SIGKILL);
  int status = 0;
  ::waitpid(c.pid, &status, 0);
  if (!eof) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<std::string> BaseEnv() {
  const char* path = std::getenv("PATH");
  return {std::string("PATH=") + (path != nullptr ? path : "/usr/bin:/bin")};
}

// ---- fixture -------------------------------------------------------------------

class TtrpcInteropTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::optional<std::string> go = FindGo();
    if (!go) {
      skip_reason_ = new std::string(
          "`go` not found: install golang-go and golang-github-containerd-ttrpc-dev");
      return;
    }
    char tmpl[] = "/tmp/ttrpc-interop-XXXXXX";
    dir_ = new std::string(::mkdtemp(tmpl));
    binary_ = new std::string(*dir_ + "/interop");
    std::vector<std::string> env = BaseEnv();
    env.push_back("GO111MODULE=off");
    env.push_back("GOPATH=" + *dir_ + "/gopath:/usr/share/gocode");
    env.push_back(std::string("GOCACHE=") + BERTH_INTEROP_GOCACHE);
    env.push_back("GOPROXY=off");
    env.push_back("GOFLAGS=");
    env.push_back("HOME=" + *dir_);
    Child c = Spawn({*go, "build", "-o", *binary_, BERTH_INTEROP_GO_SOURCE}, env);
    build_output_ = new std::string();
    build_status_ = Wait(c, std::chrono::minutes(8), build_output_);
  }
  static void TearDownTestSuite() {
    if (dir_ != nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(*dir_, ec);
    }
  }
  void SetUp() override {
    if (skip_reason_ != nullptr) GTEST_SKIP() << *skip_reason_;
    ASSERT_EQ(build_status_, 0) << "go build of the interop peer failed:\n" << *build_output_;
  }

  static inline std::string* skip_reason_ = nullptr;
  static inline std::string* dir_ = nullptr;
  static inline std::string* binary_ = nullptr;
  static inline std::string* build_output_ = nullptr;
  static inline int build_status_ = -1;
};

// The C++ side of the interop service, on an io thread.
class CppPeer {
 public:
  CppPeer() : guard_(io_.get_executor()), server_(io_, {.logger = nullptr}) {
    auto reg = [this](const char* method, Handler h) {
      EXPECT_TRUE(server_.Register(kService, method, std::move(h)).ok());
    };
    reg("Echo", [](const Context&, std::string_view p) -> Result<std::string> {
      auto v = ParseBytesValue(p);
      if (!v) return Status::InvalidArgument("bad BytesValue");
      return BytesValue(*v);
    });
    reg("Fail", [](const Context&, std::string_view p) -> Result<std::string> {
      auto v = ParseBytesValue(p);
      if (!v) return Status::InvalidArgument("bad StringValue");
      std::size_t colon = v->find(':');
      return Status(FromGrpcCode(std::stoi(v->substr(0, colon))), v->substr(colon + 1));
    });
    reg("Meta", [](const Context& c, std::string_view) -> Result<std::string> {
      std::string multi;
      auto [b, e] = c.metadata.equal_range("multi");
      for (auto it = b; it != e; ++it) multi += (multi.empty() ? "" : ",") + it->second;
      return BytesValue("ns=" + c.ns + ";multi=" + multi);
    });
    reg("Deadline", [](const Context& c, std::string_view) -> Result<std::string> {
      if (!c.deadline) return Int64Value(-1);
      return Int64Value(std::chrono::duration_cast<std::chrono::milliseconds>(
                            *c.deadline - std::chrono::steady_clock::now())
                            .count());
    });
    EXPECT_TRUE(server_
                    .RegisterAsync(kService, "Sleep",
                                   [this](const Context& c, std::string p, Responder r) {
                                     auto ms = ParseInt64Value(p);
                                     if (!ms) return r(Status::InvalidArgument("bad Int64Value"));
                                     auto at = std::chrono::steady_clock::now() +
                                               std::chrono::milliseconds(*ms);
                                     bool by_deadline = c.deadline && *c.deadline < at;
                                     // As the Go peer: well past the deadline, so the client's own
                                     // timeout
                                     // is what it sees.
                                     if (by_deadline)
                                       at = *c.deadline + std::chrono::milliseconds(500);
                                     auto timer =
                                         std::make_shared<boost::asio::steady_timer>(io_, at);
                                     timer->async_wait([timer, r, by_deadline](auto) {
                                       r(Result<std::string>(Int64Value(by_deadline ? 1 : 0)));
                                     });
                                   })
                    .ok());
    thread_ = std::thread([this] { io_.run(); });
  }
  ~CppPeer() {
    (void)server_.StopAndWait(std::chrono::seconds(2));
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  Server& server() { return server_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  Server server_;
  std::thread thread_;
};

TEST_F(TtrpcInteropTest, GoClientCallsCppServer) {
  std::string sock = *dir_ + "/cpp.sock";
  CppPeer peer;
  ASSERT_TRUE(peer.server().Listen(sock).ok());
  Child c = Spawn({*binary_, "client", sock}, BaseEnv());
  std::string output;
  int status = Wait(c, kLimit, &output);
  EXPECT_EQ(status, 0) << output;
  for (const char* check :
       {"echo", "echo_3mib", "oversized", "error_not_found", "error_already_exists",
        "unknown_method", "metadata", "deadline_seen", "deadline_exceeded", "concurrent_50"}) {
    EXPECT_NE(output.find(std::string("ok ") + check + "\n"), std::string::npos)
        << check << " did not pass:\n"
        << output;
  }
}

TEST_F(TtrpcInteropTest, CppClientCallsGoServer) {
  std::string sock = *dir_ + "/go.sock";
  Child go = Spawn({*binary_, "server", sock}, BaseEnv());
  std::string ready = ReadOutput(go.out, kLimit, "READY\n");
  ASSERT_NE(ready.find("READY"), std::string::npos) << ready;
  auto client_or = Client::Connect(sock);
  ASSERT_TRUE(client_or.ok()) << client_or.status().ToString();
  Client& client = **client_or;

  Result<std::string> r = client.Call(kService, "Echo", BytesValue("hello"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ParseBytesValue(*r).value_or(""), "hello");

  std::string big(3 << 20, 'q');
  for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + i % 26);
  r = client.Call(kService, "Echo", BytesValue(big));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(ParseBytesValue(*r) == big);

  r = client.Call(kService, "Fail", BytesValue("5:thing x"));
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), "thing x");
  r = client.Call(kService, "Fail", BytesValue("6:dup"));
  EXPECT_EQ(r.status().code(), Code::kAlreadyExists);
  r = client.Call(kService, "Fail", BytesValue("13:internal"));
  EXPECT_EQ(r.status().code(), Code::kUnknown);

  r = client.Call(kService, "Nope", "");
  EXPECT_EQ(r.status().code(), Code::kNotImplemented);
  EXPECT_NE(r.status().message().find("Nope"), std::string::npos) << r.status().message();
  r = client.Call("no.Such", "Echo", "");
  EXPECT_EQ(r.status().code(), Code::kNotImplemented);

  CallOptions md;
  SetCallContext({.ns = "ns1", .lease = ""}, &md.metadata);
  md.metadata.emplace("multi", "a");
  md.metadata.emplace("multi", "b");
  r = client.Call(kService, "Meta", "", md);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ParseBytesValue(*r).value_or(""), "ns=ns1;multi=a,b");

  r = client.Call(kService, "Deadline", "", {.timeout = std::chrono::seconds(10)});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::int64_t left = ParseInt64Value(*r).value_or(0);
  EXPECT_GT(left, 5000);
  EXPECT_LE(left, 10000);
  r = client.Call(kService, "Deadline", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ParseInt64Value(*r).value_or(0), -1);

  r = client.Call(kService, "Sleep", Int64Value(20000),
                  {.timeout = std::chrono::milliseconds(200)});
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded);

  // 50 concurrent calls on the one connection.
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, ok = 0;
  for (int i = 0; i < 50; ++i) {
    std::string want = "call-" + std::to_string(i);
    client.CallAsync(kService, "Echo", BytesValue(want), {}, [&, want](Result<std::string> r) {
      std::lock_guard<std::mutex> lock(mu);
      if (r.ok() && ParseBytesValue(*r) == want) ++ok;
      ++done;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kLimit, [&] { return done == 50; }));
  }
  EXPECT_EQ(ok, 50);

  // The Go server going away fails the pending call with Unavailable.
  std::optional<Status> lost;
  client.CallAsync(kService, "Sleep", Int64Value(60000), {}, [&](Result<std::string> r) {
    std::lock_guard<std::mutex> lock(mu);
    lost = r.status();
    cv.notify_all();
  });
  // Make sure the Sleep is on the wire before killing the server.
  r = client.Call(kService, "Echo", BytesValue("sync"));
  ASSERT_TRUE(r.ok());
  ::kill(go.pid, SIGKILL);
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kLimit, [&] { return lost.has_value(); }));
  }
  EXPECT_EQ(lost->code(), Code::kUnavailable);
  std::string rest;
  Wait(go, std::chrono::seconds(10), &rest);
}

}  // namespace
}  // namespace berth::ttrpc
