// Server behaviour on the wire, driven by the Client and by hand-made frames.
#include "berth/ttrpc/server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>

#include "berth/ttrpc/client.h"
#include "echo_server.h"
#include "test_util.h"

namespace berth::ttrpc {
namespace {

using testing::EchoServer;
using testing::RawConn;
using testing::RequestBytes;

constexpr std::uint8_t kRequest = 1;

TEST(ServerTest, UnaryRoundTrip) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto client = Client::Connect(s.path());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Result<std::string> r = (*client)->Call("test.Echo", "Echo", "hello");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "hello");
  Result<std::string> empty = (*client)->Call("test.Echo", "Echo", "");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST(ServerTest, ErrorsCarryCodeAndContainerdMessage) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto client = Client::Connect(s.path());
  ASSERT_TRUE(client.ok());
  Result<std::string> r = (*client)->Call("test.Echo", "Fail", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), "thing x");

  // On the wire: gRPC code 5 and errdefs' "<message>: not found".
  auto raw = RawConn::Connect(s.path());
  ASSERT_TRUE(raw.ok());
  std::string body = RequestBytes("test.Echo", "Fail", "y");
  ASSERT_TRUE(raw->Send(
      {.length = static_cast<std::uint32_t>(body.size()), .stream_id = 1, .type = kRequest}, body));
  auto frame = raw->Read();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->first.type, 2);
  EXPECT_EQ(frame->first.stream_id, 1u);
  testing::Decoded d = testing::DecodeResponse(frame->second);
  EXPECT_EQ(d.code, 5);
  EXPECT_EQ(d.message, "thing y: not found");
}

TEST(ServerTest, MetadataNamespaceAndLeaseReachTheHandler) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto client = Client::Connect(s.path());
  ASSERT_TRUE(client.ok());
  CallOptions opts;
  SetCallContext({.ns = "k8s.io", .lease = "lease-1"}, &opts.metadata);
  opts.metadata.emplace("multi", "a");
  opts.metadata.emplace("multi", "b");
  Result<std::string> r = (*client)->Call("test.Echo", "Context", "", opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "ns=k8s.io;lease=lease-1;deadline=none;multi=a,b");
}

TEST(ServerTest, HandlerSeesTheDeadline) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto client = Client::Connect(s.path());
  ASSERT_TRUE(client.ok());
  Result<std::string> r =
      (*client)->Call("test.Echo", "Context", "", {.timeout = std::chrono::seconds(30)});
  ASSERT_TRUE(r.ok());
  auto pos = r->find("deadline=");
  ASSERT_NE(pos, std::string::npos);
  long ms = std::stol(r->substr(pos + 9));
  EXPECT_GT(ms, 25000);
  EXPECT_LE(ms, 30000);
}

TEST(ServerTest, UnknownServiceOrMethodIsUnimplementedNamingIt) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto client = Client::Connect(s.path());
  ASSERT_TRUE(client.ok());
  Result<std::string> r = (*client)->Call("no.Such", "Echo", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotImplemented);
  EXPECT_NE(r.status().message().find("no.Such"), std::string::npos) << r.status().message();
  r = (*client)->Call("test.Echo", "Nope", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotImplemented);
  EXPECT_NE(r.status().message().find("Nope"), std::string::npos) << r.status().message();
}

TEST(ServerTest, OversizedMessageIsResourceExhaustedAndTheConnectionGoesOn) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto raw = RawConn::Connect(s.path());
  ASSERT_TRUE(raw.ok());
  std::string big(kMaxMessageSize + 1, 'z');
  ASSERT_TRUE(raw->Send(
      {.length = static_cast<std::uint32_t>(big.size()), .stream_id = 3, .type = kRequest}, big));
  auto frame = raw->Read();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->first.stream_id, 3u);
  testing::Decoded d = testing::DecodeResponse(frame->second);
  EXPECT_EQ(d.code, 8);
  EXPECT_NE(d.message.find("exceed maximum message size"), std::string::npos) << d.message;

  std::string body = RequestBytes("test.Echo", "Echo", "after");
  ASSERT_TRUE(raw->Send(
      {.length = static_cast<std::uint32_t>(body.size()), .stream_id = 5, .type = kRequest}, body));
  frame = raw->Read();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->first.stream_id, 5u);
  d = testing::DecodeResponse(frame->second);
  EXPECT_EQ(d.code, 0);
  EXPECT_EQ(d.payload, "after");
}

TEST(ServerTest, MalformedFrameClosesOnlyThatConnection) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto good = RawConn::Connect(s.path());
  auto bad = RawConn::Connect(s.path());
  auto zero = RawConn::Connect(s.path());
  ASSERT_TRUE(good.ok() && bad.ok() && zero.ok());
  // Not a Request message: a field with wire type 7 is invalid protobuf.
  std::string garbage("\xff\xff\xff\xff", 4);
  ASSERT_TRUE(bad->Send({.length = 4, .stream_id = 1, .type = kRequest}, garbage));
  EXPECT_TRUE(bad->WaitClosed());
  // Stream id 0 is not a stream.
  std::string body = RequestBytes("test.Echo", "Echo", "x");
  ASSERT_TRUE(zero->Send(
      {.length = static_cast<std::uint32_t>(body.size()), .stream_id = 0, .type = kRequest}, body));
  EXPECT_TRUE(zero->WaitClosed());

  ASSERT_TRUE(good->Send(
      {.length = static_cast<std::uint32_t>(body.size()), .stream_id = 1, .type = kRequest}, body));
  auto frame = good->Read();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(testing::DecodeResponse(frame->second).payload, "x");
}

TEST(ServerTest, EvenStreamIdIsInvalidArgument) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto raw = RawConn::Connect(s.path());
  ASSERT_TRUE(raw.ok());
  std::string body = RequestBytes("test.Echo", "Echo", "x");
  ASSERT_TRUE(raw->Send(
      {.length = static_cast<std::uint32_t>(body.size()), .stream_id = 2, .type = kRequest}, body));
  auto frame = raw->Read();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->first.stream_id, 2u);
  EXPECT_EQ(testing::DecodeResponse(frame->second).code, 3);
}

TEST(ServerTest, StreamingFramesOfTtrpc12AreUnimplemented) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto raw = RawConn::Connect(s.path());
  ASSERT_TRUE(raw.ok());
  std::string body = RequestBytes("test.Echo", "Echo", "x");
  ASSERT_TRUE(raw->Send({.length = static_cast<std::uint32_t>(body.size()),
                         .stream_id = 1,
                         .type = kRequest,
                         .flags = kFlagRemoteOpen},
                        body));
  auto frame = raw->Read();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->first.stream_id, 1u);
  EXPECT_EQ(testing::DecodeResponse(frame->second).code, 12);
  // Data on the refused stream is skipped silently; data on an unknown stream
  // is refused once.
  ASSERT_TRUE(raw->Send({.length = 1, .stream_id = 1, .type = 3, .flags = kFlagRemoteClosed}, "d"));
  ASSERT_TRUE(raw->Send({.length = 1, .stream_id = 7, .type = 3}, "d"));
  frame = raw->Read();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->first.stream_id, 7u);
  EXPECT_EQ(testing::DecodeResponse(frame->second).code, 12);
  // The connection still serves unary calls.
  ASSERT_TRUE(raw->Send(
      {.length = static_cast<std::uint32_t>(body.size()), .stream_id = 9, .type = kRequest}, body));
  frame = raw->Read();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->first.stream_id, 9u);
  EXPECT_EQ(testing::DecodeResponse(frame->second).payload, "x");
}

TEST(ServerTest, HundredConcurrentCallsAnsweredOutOfOrder) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto client = Client::Connect(s.path());
  ASSERT_TRUE(client.ok());
  constexpr int kCalls = 100;
  testing::Notifier done;
  std::vector<std::string> completions;
  int ok = 0;
  for (int i = 0; i < kCalls; ++i) {
    std::string want = "call-" + std::to_string(i);
    (*client)->CallAsync("test.Echo", "Hold", want, {}, [&, want](Result<std::string> r) {
      done.Run([&] {
        if (r.ok() && *r == "answer-" + want) ++ok;
        completions.push_back(want);
      });
    });
  }
  ASSERT_TRUE(s.WaitHeld(kCalls));
  auto held = s.TakeHeld();
  ASSERT_EQ(held.size(), static_cast<std::size_t>(kCalls));
  // Answer in reverse order of arrival, from this thread.
  for (auto it = held.rbegin(); it != held.rend(); ++it) {
    it->second(Result<std::string>("answer-" + it->first));
    it->second(Result<std::string>(std::string("ignored second answer")));
  }
  ASSERT_TRUE(done.WaitFor([&] { return completions.size() == kCalls; }));
  EXPECT_EQ(ok, kCalls);
  EXPECT_EQ(completions.front(), held.back().first);
  EXPECT_EQ(completions.back(), held.front().first);
}

TEST(ServerTest, DroppedResponderAnswersUnknown) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto client = Client::Connect(s.path());
  ASSERT_TRUE(client.ok());
  testing::Notifier n;
  std::optional<Status> got;
  (*client)->CallAsync("test.Echo", "Hold", "x", {},
                       [&](Result<std::string> r) { n.Run([&] { got = r.status(); }); });
  ASSERT_TRUE(s.WaitHeld(1));
  s.TakeHeld().clear();  // the last Responder dies unanswered
  ASSERT_TRUE(n.WaitFor([&] { return got.has_value(); }));
  EXPECT_EQ(got->code(), Code::kUnknown);
  EXPECT_NE(got->message().find("dropped"), std::string::npos);
}

TEST(ServerTest, StopDrainsCallsInFlight) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto client = Client::Connect(s.path());
  ASSERT_TRUE(client.ok());
  testing::Notifier n;
  std::optional<Result<std::string>> answer;
  bool stopped = false;
  (*client)->CallAsync("test.Echo", "Hold", "x", {},
                       [&](Result<std::string> r) { n.Run([&] { answer = std::move(r); }); });
  ASSERT_TRUE(s.WaitHeld(1));
  s.server().Stop(std::chrono::seconds(30), [&] { n.Run([&] { stopped = true; }); });
  // Calls arriving meanwhile on the old connection answer Unavailable.
  Result<std::string> late = (*client)->Call("test.Echo", "Echo", "late");
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), Code::kUnavailable);
  // Stop ran before that answer (the strand is ordered): the socket is gone,
  // no new connections.
  EXPECT_FALSE(Client::Connect(s.path()).ok());
  EXPECT_FALSE(answer.has_value());
  auto held = s.TakeHeld();
  ASSERT_EQ(held.size(), 1u);
  held[0].second(Result<std::string>(std::string("drained")));
  ASSERT_TRUE(n.WaitFor([&] { return stopped && answer.has_value(); }));
  ASSERT_TRUE(answer->ok()) << answer->status().ToString();
  EXPECT_EQ(**answer, "drained");
}

TEST(ServerTest, StopIsBoundedByTheDrainLimit) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto client = Client::Connect(s.path());
  ASSERT_TRUE(client.ok());
  testing::Notifier n;
  std::optional<Status> got;
  (*client)->CallAsync("test.Echo", "Hold", "x", {},
                       [&](Result<std::string> r) { n.Run([&] { got = r.status(); }); });
  ASSERT_TRUE(s.WaitHeld(1));
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.server().StopAndWait(std::chrono::milliseconds(100)).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_TRUE(n.WaitFor([&] { return got.has_value(); }));
  EXPECT_EQ(got->code(), Code::kUnavailable);
}

TEST(ServerTest, SocketPathTooLongIsRefusedNotTruncated) {
  EchoServer s;
  std::string path = s.dir().path() + "/" + std::string(120, 'a') + ".sock";
  Status st = s.server().Listen(path);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("too long"), std::string::npos);
  struct stat sb {};
  EXPECT_NE(::lstat(path.substr(0, 107).c_str(), &sb), 0);  // nothing truncated was bound
  auto client = Client::Connect(path);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), Code::kInvalidArgument);
}

TEST(ServerTest, SocketInUseIsRefusedAndStaleOneReplaced) {
  EchoServer a;
  ASSERT_TRUE(a.Listen().ok());
  boost::asio::io_context io;
  Server b(io);
  EXPECT_EQ(b.Listen(a.path()).code(), Code::kFailedPrecondition);

  // A stale socket file nobody answers on is replaced.
  testing::TempDir dir;
  std::string stale = dir.Sub("stale.sock");
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, stale.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
  EchoServer c;
  EXPECT_TRUE(c.server().Listen(stale).ok());
  auto client = Client::Connect(stale);
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE((*client)->Call("test.Echo", "Echo", "x").ok());
}

TEST(ServerTest, ServesAnInheritedListeningFd) {
  EchoServer s;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, s.path().c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  ASSERT_TRUE(s.server().ServeFd(fd).ok());
  auto client = Client::Connect(s.path());
  ASSERT_TRUE(client.ok());
  Result<std::string> r = (*client)->Call("test.Echo", "Echo", "fd");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "fd");
  int not_listening = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(s.server().ServeFd(not_listening).code(), Code::kInvalidArgument);
}

TEST(ServerTest, PeerWithAnotherUidIsRefusedAndLogged) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another uid";
  testing::CapturingLogger log;
  EchoServer s({.logger = &log});
  ASSERT_TRUE(s.Listen().ok());
  ASSERT_EQ(::chmod(s.dir().path().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(s.path().c_str(), 0777), 0);
  // Built before fork: the child of a threaded process should not allocate.
  std::string body = RequestBytes("test.Echo", "Echo", "x");
  FrameHeader header{
      .length = static_cast<std::uint32_t>(body.size()), .stream_id = 1, .type = kRequest};
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    auto raw = RawConn::Connect(s.path());
    if (!raw.ok()) ::_exit(11);
    (void)raw->Send(header, body);
    ::_exit(raw->WaitClosed() ? 0 : 12);  // closed without an answer
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFEXITED(wstatus));
  EXPECT_EQ(WEXITSTATUS(wstatus), 0);
  EXPECT_TRUE(log.WaitForLine("refusing connection"));
  // The same uid is still served.
  auto client = Client::Connect(s.path());
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE((*client)->Call("test.Echo", "Echo", "x").ok());
}

TEST(ServerTest, RegisterRefusesDuplicatesAndEmptyNames) {
  boost::asio::io_context io;
  Server s(io);
  auto h = [](const Context&, std::string_view) -> Result<std::string> { return std::string(); };
  EXPECT_TRUE(s.Register("a", "b", h).ok());
  EXPECT_EQ(s.Register("a", "b", h).code(), Code::kAlreadyExists);
  EXPECT_EQ(s.Register("", "b", h).code(), Code::kInvalidArgument);
  EXPECT_EQ(s.Register("a", "c", Handler()).code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace berth::ttrpc
