// Client behaviour: deadlines, connection loss, single-threaded use, typed
// calls, size limits.
#include "berth/ttrpc/client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include "echo_server.h"
#include "test_util.h"
#include "ttrpc_wire.pb.h"

namespace berth::ttrpc {
namespace {

using testing::EchoServer;

TEST(ClientTest, TimesOutAndTheConnectionStaysUsable) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto client = Client::Connect(s.path());
  ASSERT_TRUE(client.ok());
  Result<std::string> r =
      (*client)->Call("test.Echo", "Hold", "slow", {.timeout = std::chrono::milliseconds(50)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded);
  // The late answer is dropped; the next call gets its own.
  ASSERT_TRUE(s.WaitHeld(1));
  s.TakeHeld()[0].second(Result<std::string>(std::string("late")));
  Result<std::string> next = (*client)->Call("test.Echo", "Echo", "next");
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(*next, "next");
}

// A server that reads one request and then vanishes.
TEST(ClientTest, PeerVanishingMidCallFailsPendingCallsWithUnavailable) {
  testing::TempDir dir;
  std::string path = dir.Sub("vanish.sock");
  int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(lfd, 4), 0);
  auto client = Client::Connect(path);
  ASSERT_TRUE(client.ok());
  int cfd = ::accept(lfd, nullptr, nullptr);
  ASSERT_GE(cfd, 0);

  testing::Notifier n;
  std::vector<Status> got;
  for (int i = 0; i < 3; ++i) {
    (*client)->CallAsync("test.Echo", "Echo", "x", {},
                         [&](Result<std::string> r) { n.Run([&] { got.push_back(r.status()); }); });
  }
  char buf[kFrameHeaderSize];
  ASSERT_EQ(::recv(cfd, buf, sizeof(buf), MSG_WAITALL), static_cast<ssize_t>(sizeof(buf)));
  ::close(cfd);
  ::close(lfd);
  ASSERT_TRUE(n.WaitFor([&] { return got.size() == 3; }));
  for (const Status& st : got) EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_FALSE((*client)->connected());
  Result<std::string> after = (*client)->Call("test.Echo", "Echo", "x");
  EXPECT_EQ(after.status().code(), Code::kUnavailable);
}

TEST(ClientTest, ConnectToNothingFails) {
  testing::TempDir dir;
  auto c = Client::Connect(dir.Sub("none.sock"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kNotFound);
}

TEST(ClientTest, CloseFailsPendingCalls) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto client = Client::Connect(s.path());
  ASSERT_TRUE(client.ok());
  testing::Notifier n;
  std::optional<Status> got;
  (*client)->CallAsync("test.Echo", "Hold", "x", {},
                       [&](Result<std::string> r) { n.Run([&] { got = r.status(); }); });
  ASSERT_TRUE(s.WaitHeld(1));
  (*client)->Close();
  ASSERT_TRUE(n.WaitFor([&] { return got.has_value(); }));
  EXPECT_EQ(got->code(), Code::kUnavailable);
}

TEST(ClientTest, ServerAndClientOnOneSingleThreadedIoContext) {
  testing::TempDir dir;
  boost::asio::io_context io(1);
  Server server(io);
  ASSERT_TRUE(server
                  .Register("t", "Echo",
                            [](const Context&, std::string_view p) -> Result<std::string> {
                              return std::string(p);
                            })
                  .ok());
  ASSERT_TRUE(server.Listen(dir.Sub("one.sock")).ok());
  auto client = Client::Connect(io, dir.Sub("one.sock"));
  ASSERT_TRUE(client.ok());
  // A blocking call on the io thread is refused instead of deadlocking.
  boost::asio::post(io, [&] {
    EXPECT_EQ((*client)->Call("t", "Echo", "x").status().code(), Code::kFailedPrecondition);
  });
  int answered = 0;
  for (int i = 0; i < 10; ++i) {
    (*client)->CallAsync("t", "Echo", std::to_string(i), {}, [&, i](Result<std::string> r) {
      EXPECT_TRUE(r.ok());
      if (r.ok() && *r == std::to_string(i)) ++answered;
      if (answered == 10) {
        (*client)->Close();
        server.Stop(std::chrono::seconds(1));
      }
    });
  }
  io.run_for(testing::kLimit);
  EXPECT_EQ(answered, 10);
}

TEST(ClientTest, TypedCallsParseMessages) {
  EchoServer s;
  // Any lite message will do: the wire KeyValue.
  ASSERT_TRUE((s.server().RegisterTyped<wire::KeyValue, wire::KeyValue>(
                   "t", "Swap",
                   [](const Context&, const wire::KeyValue& in) -> Result<wire::KeyValue> {
                     wire::KeyValue out;
                     out.set_key(in.value());
                     out.set_value(in.key());
                     return out;
                   }))
                  .ok());
  ASSERT_TRUE(s.Listen().ok());
  auto client = Client::Connect(s.path());
  ASSERT_TRUE(client.ok());
  wire::KeyValue in;
  in.set_key("k");
  in.set_value("v");
  Result<wire::KeyValue> out = (*client)->Call<wire::KeyValue>("t", "Swap", in);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->key(), "v");
  EXPECT_EQ(out->value(), "k");
  // A request that does not parse answers InvalidArgument.
  Result<std::string> bad = (*client)->Call("t", "Swap", std::string("\xff\xff", 2));
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
}

TEST(ClientTest, MessageSizeLimitsBothWays) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto client = Client::Connect(s.path());
  ASSERT_TRUE(client.ok());
  Result<std::string> big = (*client)->Call("test.Echo", "Echo", std::string(5 << 20, 'x'));
  EXPECT_EQ(big.status().code(), Code::kResourceExhausted);
  // Just under the limit once framed: the answer is as large and must fit too.
  std::string near(kMaxMessageSize - 64, 'y');
  Result<std::string> fits = (*client)->Call("test.Echo", "Echo", near);
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_EQ(fits->size(), near.size());
  // A 3 MiB message, as containerd sends large specs.
  Result<std::string> three = (*client)->Call("test.Echo", "Echo", std::string(3 << 20, 'z'));
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three->size(), 3u << 20);
}

TEST(ClientTest, ManyThreadsShareOneClient) {
  EchoServer s;
  ASSERT_TRUE(s.Listen().ok());
  auto client = Client::Connect(s.path());
  ASSERT_TRUE(client.ok());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::string want = std::to_string(t) + "/" + std::to_string(i);
        Result<std::string> r = (*client)->Call("test.Echo", "Echo", want);
        if (r.ok() && *r == want) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 400);
}

}  // namespace
}  // namespace berth::ttrpc
