// berthd's ttrpc endpoint, where shims publish their task events: the socket
// beside the gRPC one ("<address>.ttrpc", mode 0660) or at `[ttrpc]
// address`, logged as containerd logs it; Events/Forward from our ttrpc
// client reaching a gRPC subscriber and `ctr events` with the envelope's own
// timestamp, namespace and topic; bad envelopes answered InvalidArgument; an
// address too long for a unix socket refused at startup; the socket removed
// on stop.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "berth/ttrpc/client.h"
#include "berth/ttrpc/events.h"
#include "berthd_process.h"
#include "containerd/events/task.pb.h"
#include "containerd/services/events/v1/events.grpc.pb.h"
#include "run_command.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

namespace events_pb = containerd::services::events::v1;
using namespace std::chrono_literals;

constexpr char kNoCollection[] = "disabled_plugins = [\"io.containerd.gc.v1.scheduler\"]\n";
// 2023-11-14 22:13:20.5 UTC.
const Timestamp kWhen = Timestamp(1700000000s + 500ms);

// The socket's permission bits, or -1 when it is no socket.
int SocketMode(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

// Whether the log has containerd's `msg="serving..." address=<path>` line.
::testing::AssertionResult LogsServing(const std::string& log, const std::string& path) {
  std::size_t start = 0;
  while (start < log.size()) {
    std::size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    std::string_view line(log.data() + start, end - start);
    if (line.find("serving...") != std::string_view::npos &&
        line.find(" address=" + path) != std::string_view::npos) {
      return ::testing::AssertionSuccess();
    }
    start = end + 1;
  }
  return ::testing::AssertionFailure() << "no serving... line for " << path << " in:\n" << log;
}

Envelope TaskExitEnvelope(const std::string& ns, const std::string& topic) {
  containerd::events::TaskExit exit;
  exit.set_container_id("c1");
  exit.set_id("c1");
  exit.set_pid(42);
  exit.set_exit_status(3);
  Envelope e;
  e.timestamp = kWhen;
  e.ns = ns;
  e.topic = topic;
  e.event = Any{"containerd.events.TaskExit", exit.SerializeAsString()};
  return e;
}

class TtrpcTest : public ::testing::Test {
 protected:
  void StartBerthd(const std::string& extra_toml = "") {
    BerthdOptions options;
    options.extra_toml = kNoCollection + extra_toml;
    berthd_ = std::make_unique<BerthdProcess>(options);
    ASSERT_TRUE(berthd_->Start());
    ASSERT_TRUE(berthd_->WaitServing());
  }
  std::string DefaultTtrpcSocket() const { return berthd_->socket() + ".ttrpc"; }

  std::unique_ptr<BerthdProcess> berthd_;
};

TEST_F(TtrpcTest, ServesBesideTheGrpcSocketWithModeAndLogLine) {
  StartBerthd();
  EXPECT_EQ(SocketMode(DefaultTtrpcSocket()), 0660);
  EXPECT_EQ(SocketMode(berthd_->socket()), 0660);
  EXPECT_TRUE(LogsServing(berthd_->Log(), DefaultTtrpcSocket()));
  EXPECT_TRUE(LogsServing(berthd_->Log(), berthd_->socket()));
  // Stop drains and removes the socket.
  EXPECT_EQ(berthd_->Stop(), 0) << berthd_->Log();
  EXPECT_EQ(SocketMode(DefaultTtrpcSocket()), -1);
}

TEST_F(TtrpcTest, ForwardReachesSubscribersWithItsOwnEnvelope) {
  StartBerthd();
  auto channel =
      grpc::CreateChannel("unix://" + berthd_->socket(), grpc::InsecureChannelCredentials());
  auto stub = events_pb::Events::NewStub(channel);
  grpc::ClientContext sub_ctx;
  sub_ctx.set_deadline(std::chrono::system_clock::now() + 30s);
  events_pb::SubscribeRequest sreq;
  sreq.add_filters("topic==\"/tasks/exit\"");
  auto reader = stub->Subscribe(&sub_ctx, sreq);

  auto client = ttrpc::Client::Connect(DefaultTtrpcSocket());
  ASSERT_TRUE(client.ok()) << client.status().ToString() << "\n" << berthd_->Log();
  // Forward until the subscriber has read one: only then is it certainly
  // subscribed.
  std::atomic<bool> seen{false};
  std::atomic<int> failures{0};
  std::thread forwarder([&] {
    while (!seen) {
      Status s =
          ttrpc::ForwardEvent(**client, TaskExitEnvelope("tenant", "/tasks/exit"), {.timeout = 5s});
      if (!s.ok()) ++failures;
      std::this_thread::sleep_for(50ms);
    }
  });
  events_pb::Envelope got;
  bool read = reader->Read(&got);
  seen = true;
  forwarder.join();
  ASSERT_TRUE(read) << reader->Finish().error_message() << "\n" << berthd_->Log();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(got.timestamp().seconds(), 1700000000);
  EXPECT_EQ(got.timestamp().nanos(), 500000000);
  EXPECT_EQ(got.namespace_(), "tenant");
  EXPECT_EQ(got.topic(), "/tasks/exit");
  EXPECT_EQ(got.event().type_url(), "containerd.events.TaskExit");
  containerd::events::TaskExit exit;
  ASSERT_TRUE(exit.ParseFromString(got.event().value()));
  EXPECT_EQ(exit.container_id(), "c1");
  EXPECT_EQ(exit.exit_status(), 3u);
  sub_ctx.TryCancel();
}

TEST_F(TtrpcTest, CtrEventsSeesAForwardedEnvelope) {
  StartBerthd();
  const std::string out_path = berthd_->dir().Join("ctr-events.out");
  int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t ctr = SpawnProcess({kCtr, "--address", berthd_->socket(), "events"}, null_fd, fd, fd);
  ::close(fd);
  ::close(null_fd);
  ASSERT_GT(ctr, 0);
  struct Reap {
    pid_t pid;
    ~Reap() {
      ::kill(pid, SIGKILL);
      WaitForExit(pid, 10s);
    }
  } reap{ctr};

  auto client = ttrpc::Client::Connect(DefaultTtrpcSocket());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  // ctr prints "<timestamp> <namespace> <topic> <payload as JSON>".
  const std::string want = "2023-11-14 22:13:20.5 +0000 UTC shim-ns /tasks/exit {";
  bool found = false;
  for (int i = 0; i < 200 && !found; ++i) {
    Status s = ttrpc::ForwardEvent(**client, TaskExitEnvelope("shim-ns", "/tasks/exit"));
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::this_thread::sleep_for(100ms);
    found = ReadFile(out_path).find(want) != std::string::npos;
  }
  EXPECT_TRUE(found) << ReadFile(out_path);
  EXPECT_TRUE(Contains(ReadFile(out_path), "\"container_id\":\"c1\""));
}

TEST_F(TtrpcTest, InvalidEnvelopesAreInvalidArgument) {
  StartBerthd();
  auto client = ttrpc::Client::Connect(DefaultTtrpcSocket());
  ASSERT_TRUE(client.ok()) << client.status().ToString();

  Status no_slash = ttrpc::ForwardEvent(**client, TaskExitEnvelope("tenant", "tasks/exit"));
  EXPECT_EQ(no_slash.code(), Code::kInvalidArgument) << no_slash.ToString();
  EXPECT_TRUE(Contains(no_slash.message(), "envelope topic \"tasks/exit\""));
  Status empty_topic = ttrpc::ForwardEvent(**client, TaskExitEnvelope("tenant", ""));
  EXPECT_EQ(empty_topic.code(), Code::kInvalidArgument) << empty_topic.ToString();
  Status bad_ns = ttrpc::ForwardEvent(**client, TaskExitEnvelope("no such ns!", "/tasks/exit"));
  EXPECT_EQ(bad_ns.code(), Code::kInvalidArgument) << bad_ns.ToString();
  EXPECT_TRUE(Contains(bad_ns.message(), "invalid namespace"));
  Status no_ns = ttrpc::ForwardEvent(**client, TaskExitEnvelope("", "/tasks/exit"));
  EXPECT_EQ(no_ns.code(), Code::kInvalidArgument) << no_ns.ToString();
  Envelope untimed = TaskExitEnvelope("tenant", "/tasks/exit");
  untimed.timestamp = Timestamp();
  Status no_time = ttrpc::ForwardEvent(**client, untimed);
  EXPECT_EQ(no_time.code(), Code::kInvalidArgument) << no_time.ToString();
  Result<std::string> garbage =
      (*client)->Call(ttrpc::kEventsService, ttrpc::kForwardMethod, "\xff\xff\xff");
  EXPECT_EQ(garbage.status().code(), Code::kInvalidArgument);

  // Answered, not fatal: the connection and the daemon go on.
  Status ok = ttrpc::ForwardEvent(**client, TaskExitEnvelope("tenant", "/tasks/exit"));
  EXPECT_TRUE(ok.ok()) << ok.ToString();
  EXPECT_EQ(berthd_->Ctr({"version"}).exit_code, 0);
}

TEST_F(TtrpcTest, ConfiguredAddressIsServed) {
  TempDir dir("berth-ttrpc-");
  const std::string address = dir.Join("sub/custom.ttrpc");
  StartBerthd("[ttrpc]\n  address = \"" + address + "\"\n");
  EXPECT_EQ(SocketMode(address), 0660) << berthd_->Log();
  EXPECT_EQ(SocketMode(DefaultTtrpcSocket()), -1);
  EXPECT_TRUE(LogsServing(berthd_->Log(), address));
  auto client = ttrpc::Client::Connect(address);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Status s = ttrpc::ForwardEvent(**client, TaskExitEnvelope("default", "/tasks/exit"));
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(berthd_->Stop(), 0);
  EXPECT_EQ(SocketMode(address), -1);
}

TEST_F(TtrpcTest, AddressTooLongForASocketIsAStartupError) {
  BerthdOptions options;
  options.extra_toml =
      std::string(kNoCollection) + "[ttrpc]\n  address = \"/tmp/" + std::string(120, 'x') + "\"\n";
  BerthdProcess berthd(options);
  ASSERT_TRUE(berthd.Start());
  std::optional<int> code = berthd.WaitExit();
  ASSERT_TRUE(code.has_value()) << berthd.Log();
  EXPECT_EQ(*code, 1) << berthd.Log();
  EXPECT_TRUE(Contains(berthd.Log(), "failed to get listener for main ttrpc endpoint"));
  EXPECT_TRUE(Contains(berthd.Log(), "too long for a unix socket"));
  // Nothing is left serving.
  EXPECT_EQ(SocketMode(berthd.socket()), -1);
}

}  // namespace
}  // namespace berth::test
