// berthd's plain-HTTP endpoints against a real daemon: `[metrics] address`
// (Prometheus text at /v1/metrics, scraped with curl) and `[debug] address`
// (a unix socket serving /debug/threads, /debug/plugins, /debug/config), and
// that an address berthd cannot listen on is logged while gRPC goes on.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "berthd_process.h"
#include "run_command.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

using Clock = std::chrono::steady_clock;

BerthdOptions WithToml(const std::string& toml) {
  BerthdOptions options;
  options.extra_toml = toml;
  return options;
}

struct HttpAnswer {
  int status = 0;  // 0: no answer
  std::string body;
  std::string content_type;
};

// GET `url` with curl (`unix_socket` non-empty: through that socket).
HttpAnswer Get(const std::string& url, const std::string& unix_socket = "",
               const std::string& method = "GET") {
  std::vector<std::string> argv = {"curl",       "-s", "-X", method,
                                   "--max-time", "10", "-w", "\n%{http_code} %{content_type}"};
  if (!unix_socket.empty()) {
    argv.push_back("--unix-socket");
    argv.push_back(unix_socket);
  }
  argv.push_back(url);
  CommandResult r = RunCommand(argv, "", std::chrono::seconds(20));
  HttpAnswer answer;
  std::size_t nl = r.out.rfind('\n');
  if (nl == std::string::npos) return answer;
  std::istringstream trailer(r.out.substr(nl + 1));
  trailer >> answer.status;
  std::getline(trailer >> std::ws, answer.content_type);
  answer.body = r.out.substr(0, nl);
  return answer;
}

// Polls (bounded) until `url` answers 200.
HttpAnswer WaitOk(const std::string& url, const std::string& unix_socket = "") {
  auto deadline = Clock::now() + std::chrono::seconds(15);
  HttpAnswer answer;
  while (Clock::now() < deadline) {
    answer = Get(url, unix_socket);
    if (answer.status == 200) return answer;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return answer;
}

// A TCP socket bound to 127.0.0.1 (port 0: a free one); -1 on failure.
int BindLoopback(std::uint16_t port, std::uint16_t* bound) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return -1;
  }
  *bound = ntohs(addr.sin_port);
  return fd;
}

std::uint16_t FreePort() {
  std::uint16_t port = 0;
  int fd = BindLoopback(0, &port);
  if (fd >= 0) ::close(fd);
  return port;
}

// The value of the sample line `name{labels...}` whose labels include every
// one of `labels`; -1 when there is none.
double Sample(const std::string& text, const std::string& name,
              const std::vector<std::string>& labels) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name + "{", 0) != 0) continue;
    std::size_t close = line.rfind("} ");
    if (close == std::string::npos) continue;
    std::string set = line.substr(name.size() + 1, close - name.size() - 1);
    bool all = true;
    for (const std::string& label : labels) all = all && set.find(label) != std::string::npos;
    if (all) return std::stod(line.substr(close + 2));
  }
  return -1;
}

// Polls the log (bounded) until it contains `needle`.
::testing::AssertionResult WaitLog(const BerthdProcess& berthd, const std::string& needle) {
  auto deadline = Clock::now() + std::chrono::seconds(15);
  while (Clock::now() < deadline) {
    if (berthd.Log().find(needle) != std::string::npos) return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ::testing::AssertionFailure() << "no \"" << needle << "\" in the log:\n" << berthd.Log();
}

// berthd serving [metrics] on a free loopback port.
class ServedMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(port_, 0);
    ASSERT_TRUE(berthd_.Start());
    ASSERT_TRUE(berthd_.WaitServing());
  }

  const std::uint16_t port_ = FreePort();
  const std::string address_ = "127.0.0.1:" + std::to_string(port_);
  const std::string url_ = "http://" + address_ + "/v1/metrics";
  BerthdProcess berthd_{WithToml("[metrics]\naddress = \"" + address_ + "\"\n")};
};

TEST_F(ServedMetricsTest, CountsRpcsAndPluginStatus) {
  ASSERT_EQ(WaitOk(url_).status, 200) << berthd_.Log();
  EXPECT_TRUE(Contains(berthd_.Log(), "address=" + address_)) << "serving... line";

  for (int i = 0; i < 3; ++i) {
    CommandResult r = berthd_.Ctr({"version"});
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
  }
  CommandResult missing = berthd_.Ctr({"content", "get", "sha256:" + std::string(64, '0')});
  EXPECT_NE(missing.exit_code, 0) << missing.Describe();

  HttpAnswer answer = Get(url_);
  ASSERT_EQ(answer.status, 200);
  EXPECT_EQ(answer.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = answer.body;
  EXPECT_TRUE(Contains(text, "# TYPE grpc_server_handled_total counter"));
  EXPECT_TRUE(Contains(text, "# TYPE grpc_server_handling_seconds histogram"));
  const std::vector<std::string> version = {
      "grpc_service=\"containerd.services.version.v1.Version\"", "grpc_method=\"Version\"",
      "grpc_type=\"unary\""};
  std::vector<std::string> ok = version;
  ok.push_back("grpc_code=\"OK\"");
  EXPECT_GE(Sample(text, "grpc_server_started_total", version), 3) << text;
  EXPECT_GE(Sample(text, "grpc_server_handled_total", ok), 3) << text;
  std::vector<std::string> inf = version;
  inf.push_back("le=\"+Inf\"");
  EXPECT_GE(Sample(text, "grpc_server_handling_seconds_bucket", inf), 3) << text;
  EXPECT_GE(Sample(text, "grpc_server_handling_seconds_count", version), 3) << text;
  EXPECT_GE(Sample(text, "grpc_server_handling_seconds_sum", version), 0) << text;
  // ctr content get: a ReadContent stream answered NotFound (or an Info).
  EXPECT_GE(
      Sample(text, "grpc_server_handled_total",
             {"grpc_service=\"containerd.services.content.v1.Content\"", "grpc_code=\"NotFound\""}),
      1)
      << text;

  EXPECT_TRUE(Contains(text, "# TYPE berth_plugin_status gauge"));
  EXPECT_EQ(Sample(text, "berth_plugin_status",
                   {"type=\"io.containerd.content.v1\"", "id=\"content\"", "status=\"ok\""}),
            1)
      << text;

  EXPECT_EQ(Get("http://" + address_ + "/nothing").status, 404);
  EXPECT_EQ(Get(url_, "", "POST").status, 405);
  EXPECT_EQ(berthd_.Stop(), 0);
}

// The gc scheduler (a MetricsSource plugin) adds its figures: the startup
// collection (100 ms after start) shows as a successful run.
TEST_F(ServedMetricsTest, PluginFiguresIncludeTheCollections) {
  auto deadline = Clock::now() + std::chrono::seconds(15);
  HttpAnswer answer;
  while (Clock::now() < deadline) {
    answer = Get(url_);
    if (Sample(answer.body, "berth_gc_runs_total", {"result=\"ok\""}) >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE(Sample(answer.body, "berth_gc_runs_total", {"result=\"ok\""}), 1) << answer.body;
  EXPECT_EQ(Sample(answer.body, "berth_gc_runs_total", {"result=\"error\""}), 0) << answer.body;
  EXPECT_TRUE(Contains(answer.body, "# TYPE berth_gc_pause_seconds_total counter")) << answer.body;
  EXPECT_GE(Sample(answer.body, "berth_gc_removed_total", {"kind=\"content\""}), 0) << answer.body;

  // The metadata plugin counts its records by namespace.
  CommandResult lease = berthd_.Ctr({"-n", "counted", "leases", "create", "--id", "held"});
  ASSERT_EQ(lease.exit_code, 0) << lease.Describe();
  answer = Get(url_);
  EXPECT_EQ(Sample(answer.body, "berth_metadata_leases", {"namespace=\"counted\""}), 1)
      << answer.body;
  EXPECT_TRUE(Contains(answer.body, "# TYPE berth_metadata_content_blobs gauge")) << answer.body;
  EXPECT_EQ(berthd_.Stop(), 0);
}

TEST(MetricsEndpointTest, AddressInUseIsLoggedAndGrpcServes) {
  std::uint16_t port = 0;
  int taken = BindLoopback(0, &port);
  ASSERT_GE(taken, 0);
  ASSERT_EQ(::listen(taken, 1), 0);
  BerthdProcess berthd(
      WithToml("[metrics]\naddress = \"127.0.0.1:" + std::to_string(port) + "\"\n"));
  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  EXPECT_TRUE(WaitLog(berthd, "failed to serve metrics"));
  CommandResult r = berthd.Ctr({"version"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(berthd.Stop(), 0);
  ::close(taken);
}

TEST(MetricsEndpointTest, UnusableAddressIsLoggedAndGrpcServes) {
  BerthdProcess berthd(WithToml("[metrics]\naddress = \"256.0.0.1:1\"\n"));
  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  EXPECT_TRUE(WaitLog(berthd, "failed to serve metrics"));
  EXPECT_TRUE(Contains(berthd.Log(), "256.0.0.1:1"));
  CommandResult r = berthd.Ctr({"version"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(berthd.Stop(), 0);
}

// The harness writes `debug` as an inline table, so the [debug] table comes
// from an imported file (which replaces it).
class DebugEndpointTest : public ::testing::Test {
 protected:
  DebugEndpointTest()
      : socket_(dir_.Join("debug.sock")),
        berthd_(WithToml("imports = [\"" + dir_.Join("debug.toml") + "\"]\n")) {
    EXPECT_TRUE(WriteFile(dir_.Join("debug.toml"),
                          "[debug]\naddress = \"" + socket_ + "\"\nlevel = \"debug\"\n"));
  }

  TempDir dir_{"berth-debug-"};
  const std::string socket_;
  BerthdProcess berthd_;
};

TEST_F(DebugEndpointTest, ServesThreadsPluginsAndConfig) {
  ASSERT_TRUE(berthd_.Start());
  ASSERT_TRUE(berthd_.WaitServing());
  HttpAnswer threads = WaitOk("http://localhost/debug/threads", socket_);
  ASSERT_EQ(threads.status, 200) << berthd_.Log();
  EXPECT_TRUE(Contains(threads.body, "=== BEGIN thread dump ==="));
  EXPECT_TRUE(Contains(threads.body, "=== END thread dump ==="));
  EXPECT_TRUE(Contains(berthd_.Log(), "address=" + socket_)) << "serving... line";

  struct stat st {};
  ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  HttpAnswer plugins = Get("http://localhost/debug/plugins", socket_);
  EXPECT_EQ(plugins.status, 200);
  EXPECT_TRUE(Contains(plugins.body, "io.containerd.content.v1 content ok\n"));
  EXPECT_TRUE(Contains(plugins.body, "io.containerd.grpc.v1 version ok\n"));

  HttpAnswer config = Get("http://localhost/debug/config", socket_);
  EXPECT_EQ(config.status, 200);
  EXPECT_TRUE(Contains(config.body, "[grpc]"));
  EXPECT_TRUE(Contains(config.body, berthd_.socket()));

  HttpAnswer index = Get("http://localhost/", socket_);
  EXPECT_EQ(index.status, 200);
  EXPECT_TRUE(Contains(index.body, "/debug/threads\n"));
  EXPECT_TRUE(Contains(index.body, "/debug/config\n"));

  EXPECT_EQ(Get("http://localhost/debug/nothing", socket_).status, 404);
  EXPECT_EQ(Get("http://localhost/debug/threads", socket_, "DELETE").status, 405);

  EXPECT_EQ(berthd_.Stop(), 0);
  EXPECT_NE(::access(socket_.c_str(), F_OK), 0) << "socket left at stop";
}

TEST_F(DebugEndpointTest, StaleSocketIsReplaced) {
  // A socket nobody listens on, left by a daemon that died.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(socket_.size(), sizeof(addr.sun_path));
  socket_.copy(addr.sun_path, socket_.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);

  ASSERT_TRUE(berthd_.Start());
  ASSERT_TRUE(berthd_.WaitServing());
  EXPECT_EQ(WaitOk("http://localhost/debug/plugins", socket_).status, 200) << berthd_.Log();
  EXPECT_EQ(berthd_.Stop(), 0);
}

}  // namespace
}  // namespace berth::test
