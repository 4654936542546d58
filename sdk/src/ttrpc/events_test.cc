// Events/Forward on both sides: the wire bytes of a ForwardRequest, and a
// call from the Client to a Server that registered RegisterEventsForward.
#include "berth/ttrpc/events.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <vector>

#include "test_util.h"
#include "ttrpc_events.pb.h"

namespace berth::ttrpc {
namespace {

using namespace std::chrono_literals;

Envelope Sample() {
  Envelope e;
  e.timestamp = Timestamp(std::chrono::seconds(1700000000) + std::chrono::nanoseconds(123456789));
  e.ns = "default";
  e.topic = "/tasks/exit";
  e.event = Any{"containerd.events.TaskExit", std::string("\x0a\x02id", 4)};
  return e;
}

TEST(EventsTest, ForwardRequestRoundTrips) {
  Envelope in = Sample();
  Result<Envelope> out = DecodeForwardRequest(EncodeForwardRequest(in));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->timestamp, in.timestamp);
  EXPECT_EQ(out->ns, in.ns);
  EXPECT_EQ(out->topic, in.topic);
  EXPECT_EQ(out->event, in.event);
}

TEST(EventsTest, WireFieldsAreContainerds) {
  // Envelope{timestamp=1, namespace=2, topic=3, event=4}, in ForwardRequest
  // field 1; Timestamp{seconds=1, nanos=2}; Any{type_url=1, value=2}.
  wire::events::ForwardRequest req;
  ASSERT_TRUE(req.ParseFromString(EncodeForwardRequest(Sample())));
  EXPECT_EQ(req.envelope().timestamp().seconds(), 1700000000);
  EXPECT_EQ(req.envelope().timestamp().nanos(), 123456789);
  EXPECT_EQ(req.envelope().namespace_(), "default");
  EXPECT_EQ(req.envelope().topic(), "/tasks/exit");
  EXPECT_EQ(req.envelope().event().type_url(), "containerd.events.TaskExit");
  const std::string bytes = EncodeForwardRequest(Sample());
  EXPECT_EQ(bytes[0], '\x0a');  // field 1, length-delimited
  // An envelope without timestamp or event leaves them unset.
  Envelope bare;
  bare.ns = "n";
  bare.topic = "/t";
  ASSERT_TRUE(req.ParseFromString(EncodeForwardRequest(bare)));
  EXPECT_FALSE(req.envelope().has_timestamp());
  EXPECT_FALSE(req.envelope().has_event());
  Result<Envelope> back = DecodeForwardRequest(EncodeForwardRequest(bare));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->timestamp.time_since_epoch().count(), 0);
}

TEST(EventsTest, BadRequestsAreInvalidArgument) {
  Result<Envelope> garbage = DecodeForwardRequest("\xff\xff\xff");
  EXPECT_EQ(garbage.status().code(), Code::kInvalidArgument);
  wire::events::ForwardRequest req;
  req.mutable_envelope()->mutable_timestamp()->set_nanos(-1);
  EXPECT_EQ(DecodeForwardRequest(req.SerializeAsString()).status().code(), Code::kInvalidArgument);
  req.mutable_envelope()->mutable_timestamp()->set_nanos(0);
  req.mutable_envelope()->mutable_timestamp()->set_seconds(INT64_MAX);
  EXPECT_EQ(DecodeForwardRequest(req.SerializeAsString()).status().code(), Code::kInvalidArgument);
}

TEST(EventsTest, ClientForwardsToServer) {
  testing::TempDir dir;
  testing::IoThread io;
  Server server(io.io());
  std::mutex mu;
  std::vector<Envelope> got;
  ASSERT_TRUE(RegisterEventsForward(server, [&](const Envelope& e) -> Status {
                if (e.topic == "/refused") return Status::InvalidArgument("no");
                std::lock_guard<std::mutex> lock(mu);
                got.push_back(e);
                return Status::Ok();
              }).ok());
  EXPECT_EQ(RegisterEventsForward(server, nullptr).code(), Code::kInvalidArgument);
  ASSERT_TRUE(server.Listen(dir.Sub("events.sock")).ok());

  auto client = Client::Connect(dir.Sub("events.sock"));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Status s = ForwardEvent(**client, Sample(), {.timeout = 5s});
  ASSERT_TRUE(s.ok()) << s.ToString();
  Envelope refused = Sample();
  refused.topic = "/refused";
  EXPECT_EQ(ForwardEvent(**client, refused).code(), Code::kInvalidArgument);
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].timestamp, Sample().timestamp);
    EXPECT_EQ(got[0].topic, "/tasks/exit");
  }
  // A payload that is no ForwardRequest is answered, not fatal.
  Result<std::string> raw = (*client)->Call(kEventsService, kForwardMethod, "\xff\xff");
  EXPECT_EQ(raw.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(server.StopAndWait(1s).ok());
}

}  // namespace
}  // namespace berth::ttrpc
