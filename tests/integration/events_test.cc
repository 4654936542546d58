// The events service of a real berthd: the stock `ctr events` sees the
// namespaces, containers, snapshots and content events that other ctr calls
// cause, as it does against containerd; a gRPC subscriber that disconnects
// mid-stream leaves the daemon serving and other subscribers fed.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "berthd_process.h"
#include "containerd/events/namespace.pb.h"
#include "containerd/services/events/v1/events.grpc.pb.h"
#include "daemon_test.h"
#include "run_command.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

namespace events_pb = containerd::services::events::v1;
using namespace std::chrono_literals;

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BerthdOptions options;
    options.extra_toml = kNoCollectionToml;
    berthd_ = std::make_unique<BerthdProcess>(options);
    ASSERT_TRUE(berthd_->Start());
    ASSERT_TRUE(berthd_->WaitServing());
  }
  void CtrOk(const std::vector<std::string>& args) {
    CommandResult r = berthd_->Ctr(args);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
  }
  std::unique_ptr<BerthdProcess> berthd_;
};

TEST_F(EventsTest, CtrEventsShowsNamespaceAndSnapshotEvents) {
  CtrEvents events(*berthd_, {});
  ASSERT_TRUE(events.started());
  ASSERT_TRUE(events.WaitSubscribed());

  CtrOk({"namespaces", "create", "evt-ns"});
  CtrOk({"namespaces", "label", "evt-ns", "team=a"});
  CtrOk({"snapshots", "prepare", "evt-active"});
  CtrOk({"snapshots", "commit", "evt-committed", "evt-active"});
  CtrOk({"snapshots", "prepare", "evt-child", "evt-committed"});
  CtrOk({"snapshots", "rm", "evt-child"});
  CtrOk({"namespaces", "remove", "evt-ns"});

  // ctr prints "<timestamp> <namespace> <topic> <payload as JSON>".
  EXPECT_TRUE(events.Shows("default /namespaces/create {\"name\":\"evt-ns\"}"));
  EXPECT_TRUE(events.Shows(
      "default /namespaces/update {\"name\":\"evt-ns\",\"labels\":{\"team\":\"a\"}}"));
  EXPECT_TRUE(events.Shows("default /snapshot/prepare {\"key\":\"evt-active\"}"));
  EXPECT_TRUE(events.Shows(
      "default /snapshot/commit {\"key\":\"evt-active\",\"name\":\"evt-committed\"}"));
  EXPECT_TRUE(events.Shows(
      "default /snapshot/prepare {\"key\":\"evt-child\",\"parent\":\"evt-committed\"}"));
  EXPECT_TRUE(events.Shows("default /snapshot/remove {\"key\":\"evt-child\"}"));
  EXPECT_TRUE(events.Shows("default /namespaces/delete {\"name\":\"evt-ns\"}"));
  // Order is kept: the prepare of evt-active comes before its commit.
  std::string out = events.Output();
  EXPECT_LT(out.find("/snapshot/prepare {\"key\":\"evt-active\"}"), out.find("/snapshot/commit"))
      << out;
  EXPECT_EQ(out.find("cannot unmarshal"), std::string::npos) << out;
}

TEST_F(EventsTest, CtrEventsShowsContainerEvents) {
  CtrEvents events(*berthd_, {"topic~=\"^/containers/\""});
  ASSERT_TRUE(events.started());
  TempDir rootfs;
  // The first create shows the subscription is in place.
  for (int i = 0; i < 100; ++i) {
    std::string id = "evt-probe-" + std::to_string(i);
    CtrOk({"containers", "create", "--rootfs", rootfs.path(), id});
    if (events.WaitFor("/containers/create {\"id\":\"" + id + "\"", 300ms)) break;
  }
  CtrOk({"containers", "create", "--rootfs", rootfs.path(), "evt-ctr"});
  CtrOk({"containers", "label", "evt-ctr", "team=red"});
  CtrOk({"containers", "rm", "evt-ctr"});

  // ContainerCreate{id, image, runtime{name, options}}, ContainerUpdate{id,
  // image, labels, snapshot_key}, ContainerDelete{id}, as containerd's.
  EXPECT_TRUE(events.Shows("default /containers/create {\"id\":\"evt-ctr\""));
  EXPECT_TRUE(events.Shows("\"runtime\":{\"name\":\"io.containerd.runc.v2\""));
  EXPECT_TRUE(events.Shows("default /containers/update {\"id\":\"evt-ctr\""));
  EXPECT_TRUE(events.Shows("\"labels\":{\"team\":\"red\"}"));
  EXPECT_TRUE(events.Shows("default /containers/delete {\"id\":\"evt-ctr\"}"));
  std::string out = events.Output();
  EXPECT_LT(out.find("/containers/create {\"id\":\"evt-ctr\""),
            out.find("/containers/update {\"id\":\"evt-ctr\""))
      << out;
  EXPECT_EQ(out.find("cannot unmarshal"), std::string::npos) << out;

  // A failed change publishes nothing.
  CommandResult again = berthd_->Ctr({"containers", "rm", "evt-ctr"});
  EXPECT_NE(again.exit_code, 0);
  CtrOk({"containers", "create", "--rootfs", rootfs.path(), "evt-last"});
  ASSERT_TRUE(events.Shows("/containers/create {\"id\":\"evt-last\""));
  out = events.Output();
  EXPECT_EQ(out.find("/containers/delete {\"id\":\"evt-ctr\"}"),
            out.rfind("/containers/delete {\"id\":\"evt-ctr\"}"))
      << out;
}

TEST_F(EventsTest, BerthctlEventsPrintsAsCtr) {
  CtrEvents ctr(*berthd_, {});
  CtrEvents berthctl(*berthd_, {}, BerthctlPath());
  ASSERT_TRUE(ctr.started() && berthctl.started());
  ASSERT_TRUE(ctr.WaitSubscribed());
  ASSERT_TRUE(berthctl.WaitSubscribed());
  CtrOk({"namespaces", "create", "both-see-this"});
  CtrOk({"snapshots", "prepare", "both-snap"});
  const std::string want_ns = "default /namespaces/create {\"name\":\"both-see-this\"}";
  const std::string want_snap = "default /snapshot/prepare {\"key\":\"both-snap\"}";
  EXPECT_TRUE(ctr.Shows(want_ns));
  EXPECT_TRUE(berthctl.Shows(want_ns));
  EXPECT_TRUE(ctr.Shows(want_snap));
  EXPECT_TRUE(berthctl.Shows(want_snap));
}

TEST_F(EventsTest, CtrEventsFiltersByTopic) {
  CtrEvents all(*berthd_, {});
  CtrEvents snapshots_only(*berthd_, {"topic~=\"^/snapshot/\""});
  ASSERT_TRUE(all.started() && snapshots_only.started());
  ASSERT_TRUE(all.WaitSubscribed());
  // The filtered one sees no namespace events; wait until it sees a snapshot
  // one, with namespace events published before and after.
  for (int i = 0; i < 100; ++i) {
    CtrOk({"snapshots", "prepare", "filter-" + std::to_string(i)});
    if (snapshots_only.WaitFor("/snapshot/prepare", 300ms)) break;
  }
  CtrOk({"namespaces", "create", "filtered-out"});
  CtrOk({"snapshots", "rm", "filter-0"});
  ASSERT_TRUE(snapshots_only.Shows("/snapshot/remove {\"key\":\"filter-0\"}"));
  ASSERT_TRUE(all.Shows("/snapshot/remove {\"key\":\"filter-0\"}"));
  EXPECT_NE(all.Output().find("filtered-out"), std::string::npos) << all.Output();
  EXPECT_EQ(snapshots_only.Output().find("/namespaces/"), std::string::npos)
      << snapshots_only.Output();
}

TEST_F(EventsTest, PublishForwardAndDisconnectingSubscriber) {
  auto channel =
      grpc::CreateChannel("unix://" + berthd_->socket(), grpc::InsecureChannelCredentials());
  auto stub = events_pb::Events::NewStub(channel);

  CtrEvents watcher(*berthd_, {"namespace==tenant"});
  ASSERT_TRUE(watcher.started());

  // A gRPC subscriber that reads one envelope and then goes away.
  auto leaving_ctx = std::make_unique<grpc::ClientContext>();
  events_pb::SubscribeRequest sreq;
  sreq.add_filters("topic==\"/test/leaving\"");
  auto leaving = stub->Subscribe(leaving_ctx.get(), sreq);

  containerd::events::NamespaceCreate payload;
  payload.set_name("from-test");
  auto publish = [&](const std::string& ns, const std::string& topic) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("containerd-namespace", ns);
    events_pb::PublishRequest req;
    req.set_topic(topic);
    req.mutable_event()->set_type_url("containerd.events.NamespaceCreate");
    req.mutable_event()->set_value(payload.SerializeAsString());
    google::protobuf::Empty empty;
    return stub->Publish(&ctx, req, &empty);
  };

  // Publish until both subscriptions are in place.
  events_pb::Envelope got;
  bool leaving_read = false;
  for (int i = 0; i < 100 && !leaving_read; ++i) {
    ASSERT_TRUE(publish("tenant", "/test/leaving").ok());
    if (watcher.WaitFor("/test/leaving", 300ms)) {
      ASSERT_TRUE(leaving->Read(&got));
      leaving_read = true;
    }
  }
  ASSERT_TRUE(leaving_read) << watcher.Output();
  EXPECT_EQ(got.topic(), "/test/leaving");
  EXPECT_EQ(got.namespace_(), "tenant");
  EXPECT_EQ(got.event().type_url(), "containerd.events.NamespaceCreate");
  EXPECT_GT(got.timestamp().seconds(), 0);

  // Mid-stream: the client cancels and drops the stream with envelopes in
  // flight.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(publish("tenant", "/test/leaving").ok());
  leaving_ctx->TryCancel();
  leaving.reset();
  leaving_ctx.reset();
  channel.reset();

  // The daemon goes on: publishing, forwarding, and the other subscriber.
  auto stub2 = events_pb::Events::NewStub(
      grpc::CreateChannel("unix://" + berthd_->socket(), grpc::InsecureChannelCredentials()));
  stub = std::move(stub2);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(publish("tenant", "/test/after").ok());
  {
    grpc::ClientContext ctx;
    events_pb::ForwardRequest req;
    req.mutable_envelope()->mutable_timestamp()->set_seconds(1700000000);
    req.mutable_envelope()->set_namespace_("tenant");
    req.mutable_envelope()->set_topic("/test/forwarded");
    req.mutable_envelope()->mutable_event()->set_type_url("containerd.events.NamespaceCreate");
    req.mutable_envelope()->mutable_event()->set_value(payload.SerializeAsString());
    google::protobuf::Empty empty;
    grpc::Status s = stub->Forward(&ctx, req, &empty);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_TRUE(watcher.Shows("tenant /test/after {\"name\":\"from-test\"}"));
  EXPECT_TRUE(watcher.Shows("/test/forwarded"));
  EXPECT_TRUE(watcher.Shows("2023-11-14 22:13:20 +0000 UTC tenant /test/forwarded"));

  // Bad input is answered, not fatal.
  grpc::Status bad_topic = publish("tenant", "no-slash");
  EXPECT_EQ(bad_topic.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  {
    grpc::ClientContext ctx;  // no namespace header
    events_pb::PublishRequest req;
    req.set_topic("/test/x");
    google::protobuf::Empty empty;
    EXPECT_EQ(stub->Publish(&ctx, req, &empty).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    grpc::ClientContext ctx;
    events_pb::SubscribeRequest req;
    req.add_filters("topic==");
    auto reader = stub->Subscribe(&ctx, req);
    events_pb::Envelope e;
    EXPECT_FALSE(reader->Read(&e));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  CommandResult version = berthd_->Ctr({"version"});
  EXPECT_EQ(version.exit_code, 0) << version.Describe();
  EXPECT_TRUE(berthd_->running());
}

// A subscriber that stops reading is cut off once its queue in the exchange
// (1024 envelopes) is full; it sees RESOURCE_EXHAUSTED when it reads again,
// the cut is logged, and the daemon and other subscribers go on.
TEST_F(EventsTest, SubscriberThatStopsReadingIsCutOff) {
  auto channel =
      grpc::CreateChannel("unix://" + berthd_->socket(), grpc::InsecureChannelCredentials());
  auto stub = events_pb::Events::NewStub(channel);
  grpc::ClientContext stuck_ctx;
  events_pb::SubscribeRequest sreq;
  sreq.add_filters("topic==\"/test/flood\"");
  auto stuck = stub->Subscribe(&stuck_ctx, sreq);
  CtrEvents watcher(*berthd_, {"topic==\"/test/done\""});
  ASSERT_TRUE(watcher.started());

  events_pb::PublishRequest req;
  req.set_topic("/test/flood");
  req.mutable_event()->set_type_url("test.Flood");
  req.mutable_event()->set_value(std::string(16 << 10, 'x'));
  auto publish = [&](const events_pb::PublishRequest& r) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("containerd-namespace", "default");
    google::protobuf::Empty empty;
    return stub->Publish(&ctx, r, &empty);
  };
  // The first flood envelope shows the subscription is in place.
  ASSERT_TRUE(publish(req).ok());
  events_pb::Envelope e;
  ASSERT_TRUE(stuck->Read(&e));
  // Then it stops reading: transport buffers fill, then the queue, then the
  // cut. Every publish is answered meanwhile.
  bool cut = false;
  for (int i = 0; i < 20000 && !cut; ++i) {
    grpc::Status s = publish(req);
    ASSERT_TRUE(s.ok()) << s.error_message();
    if (i % 256 == 255) cut = berthd_->Log().find("event subscriber cut off") != std::string::npos;
  }
  ASSERT_TRUE(cut) << berthd_->Log();

  // Others are still fed.
  events_pb::PublishRequest done;
  done.set_topic("/test/done");
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(publish(done).ok());
    if (watcher.WaitFor("/test/done", 300ms)) break;
  }
  EXPECT_TRUE(watcher.Shows("default /test/done"));

  // Reading again drains what was in flight, then the cut-off's status.
  int drained = 0;
  while (stuck->Read(&e)) ++drained;
  grpc::Status end = stuck->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << end.error_message();
  EXPECT_NE(end.error_message().find("1024"), std::string::npos) << end.error_message();
  EXPECT_LT(drained, 20000);
  CommandResult version = berthd_->Ctr({"version"});
  EXPECT_EQ(version.exit_code, 0) << version.Describe();
}

}  // namespace
}  // namespace berth::test
