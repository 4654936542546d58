#include "events/exchange.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "berth/executor.h"
#include "berth/filters.h"
#include "berth/mutex.h"
#include "containerd/events/namespace.pb.h"
#include "containerd/events/snapshot.pb.h"
#include "events/publish.h"

namespace berth::host {
namespace {

using namespace std::chrono_literals;

// Bounded waits only: a failure shows as a timeout, never as a hang.
constexpr auto kWait = 30s;

// What one subscriber saw.
class Collector {
 public:
  void Deliver(const Envelope& e) BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    got_.push_back(e);
    cv_.SignalAll();
  }
  void Closed(const Status& s) BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    closed_.push_back(s);
    cv_.SignalAll();
  }
  bool WaitCount(std::size_t n) BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return cv_.WaitFor(&mu_, kWait, [&]() BERTH_REQUIRES(mu_) { return got_.size() >= n; });
  }
  bool WaitClosed() BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return cv_.WaitFor(&mu_, kWait, [&]() BERTH_REQUIRES(mu_) { return !closed_.empty(); });
  }
  std::vector<Envelope> got() BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return got_;
  }
  std::vector<Status> closed() BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return closed_;
  }
  std::vector<std::string> Values() {
    std::vector<std::string> out;
    for (const Envelope& e : got()) out.push_back(e.event.value);
    return out;
  }

  Result<std::unique_ptr<EventSubscription>> Subscribe(EventExchange& x,
                                                       const filters::Filter& f = {}) {
    return x.Subscribe(
        f, [this](const Envelope& e) { Deliver(e); }, [this](const Status& s) { Closed(s); });
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::vector<Envelope> got_ BERTH_GUARDED_BY(mu_);
  std::vector<Status> closed_ BERTH_GUARDED_BY(mu_);
};

// A gate a delivery can be held at until the test opens it.
class Gate {
 public:
  void Enter() BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    ++entered_;
    cv_.SignalAll();
    cv_.Wait(&mu_, [&]() BERTH_REQUIRES(mu_) { return open_; });
  }
  bool WaitEntered() BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return cv_.WaitFor(&mu_, kWait, [&]() BERTH_REQUIRES(mu_) { return entered_ > 0; });
  }
  void Open() BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    open_ = true;
    cv_.SignalAll();
  }
  int entered() BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return entered_;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool open_ BERTH_GUARDED_BY(mu_) = false;
  int entered_ BERTH_GUARDED_BY(mu_) = 0;
};

Any Payload(const std::string& value) { return Any{"test.Payload", value}; }

filters::Filter MustParse(const std::vector<std::string>& exprs) {
  auto f = filters::ParseAll(exprs);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return f.ok() ? *f : filters::Filter();
}

TEST(ExchangeTest, ValidatesTopicsAsContainerd) {
  EXPECT_TRUE(ValidateTopic("/snapshot/prepare").ok());
  EXPECT_TRUE(ValidateTopic("/tasks/exec-started").ok());
  for (const char* bad : {"", "snapshot/prepare", "/", "/a//b", "/a/b c", "/a/", "/a/-b"}) {
    Status s = ValidateTopic(bad);
    EXPECT_TRUE(s.Is(Code::kInvalidArgument)) << "'" << bad << "': " << s.ToString();
  }
}

TEST(ExchangeTest, RejectsBadNamespaceTopicAndUnstampedForward) {
  Exchange x;
  EXPECT_TRUE(x.Publish("", "/a", Payload("1")).Is(Code::kInvalidArgument));
  EXPECT_TRUE(x.Publish("bad ns", "/a", Payload("1")).Is(Code::kInvalidArgument));
  EXPECT_TRUE(x.Publish("default", "a", Payload("1")).Is(Code::kInvalidArgument));
  Envelope e{.timestamp = {}, .ns = "default", .topic = "/a", .event = Payload("1")};
  EXPECT_TRUE(x.Forward(e).Is(Code::kInvalidArgument));
  e.timestamp = std::chrono::system_clock::now();
  EXPECT_TRUE(x.Forward(e).ok());
}

TEST(ExchangeTest, StampsPublishAndKeepsForwardedEnvelope) {
  Exchange x;
  Collector c;
  auto sub = c.Subscribe(x);
  ASSERT_TRUE(sub.ok());
  auto before = std::chrono::system_clock::now();
  ASSERT_TRUE(x.Publish("ns1", "/a/b", Payload("p")).ok());
  Envelope fwd{.timestamp = std::chrono::system_clock::time_point(std::chrono::seconds(1000)),
               .ns = "ns2",
               .topic = "/tasks/exit",
               .event = Payload("f")};
  ASSERT_TRUE(x.Forward(fwd).ok());
  ASSERT_TRUE(c.WaitCount(2));
  auto got = c.got();
  EXPECT_EQ(got[0].ns, "ns1");
  EXPECT_EQ(got[0].topic, "/a/b");
  EXPECT_EQ(got[0].event, Payload("p"));
  EXPECT_GE(got[0].timestamp, before);
  EXPECT_EQ(got[1].timestamp, fwd.timestamp);
  EXPECT_EQ(got[1].ns, "ns2");
  EXPECT_EQ(got[1].topic, "/tasks/exit");
}

TEST(ExchangeTest, KeepsEachPublishersOrder) {
  Exchange x;
  Collector c;
  auto sub = c.Subscribe(x);
  ASSERT_TRUE(sub.ok());
  constexpr int kPublishers = 4;
  constexpr int kEach = 250;
  std::vector<std::thread> threads;
  for (int p = 0; p < kPublishers; ++p) {
    threads.emplace_back([&x, p] {
      for (int i = 0; i < kEach; ++i) {
        ASSERT_TRUE(x.Publish("default", "/order/test",
                              Payload(std::to_string(p) + ":" + std::to_string(i)))
                        .ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(c.WaitCount(kPublishers * kEach));
  std::map<int, int> next;
  for (const std::string& v : c.Values()) {
    int p = std::stoi(v.substr(0, v.find(':')));
    int i = std::stoi(v.substr(v.find(':') + 1));
    EXPECT_EQ(i, next[p]) << "publisher " << p << " out of order";
    next[p] = i + 1;
  }
  for (int p = 0; p < kPublishers; ++p) EXPECT_EQ(next[p], kEach);
  EXPECT_EQ(c.got().size(), static_cast<std::size_t>(kPublishers * kEach));
}

TEST(ExchangeTest, FiltersOnTopicNamespaceAndEventFields) {
  Exchange x;
  Collector by_topic, by_ns, by_key, by_label, all;
  auto s1 = by_topic.Subscribe(x, MustParse({"topic==\"/snapshot/prepare\""}));
  auto s2 = by_ns.Subscribe(x, MustParse({"namespace==ns2"}));
  auto s3 = by_key.Subscribe(x, MustParse({"event.key==k2"}));
  auto s4 = by_label.Subscribe(x, MustParse({"event.labels.team==a", "topic~=\"^/last\""}));
  auto s5 = all.Subscribe(x);
  ASSERT_TRUE(s1.ok() && s2.ok() && s3.ok() && s4.ok() && s5.ok());

  containerd::events::SnapshotPrepare k1, k2;
  k1.set_key("k1");
  k2.set_key("k2");
  containerd::events::NamespaceCreate team_a, team_b;
  team_a.set_name("x");
  (*team_a.mutable_labels())["team"] = "a";
  team_b.set_name("y");
  (*team_b.mutable_labels())["team"] = "b";

  ASSERT_TRUE(x.Publish("ns1", "/snapshot/prepare", PackEvent(k1)).ok());
  ASSERT_TRUE(x.Publish("ns2", "/snapshot/prepare", PackEvent(k2)).ok());
  ASSERT_TRUE(x.Publish("ns1", "/snapshot/remove", PackEvent(k2)).ok());
  ASSERT_TRUE(x.Publish("ns2", "/namespaces/create", PackEvent(team_a)).ok());
  ASSERT_TRUE(x.Publish("ns1", "/namespaces/create", PackEvent(team_b)).ok());
  // Matches every filter: once each subscriber has it, it has all before it.
  containerd::events::SnapshotPrepare last;
  last.set_key("k2");
  ASSERT_TRUE(x.Publish("ns2", "/snapshot/prepare", PackEvent(last)).ok());
  ASSERT_TRUE(all.WaitCount(6));
  ASSERT_TRUE(by_topic.WaitCount(3));
  ASSERT_TRUE(by_ns.WaitCount(3));
  ASSERT_TRUE(by_key.WaitCount(3));

  auto topics = [](Collector& c) {
    std::vector<std::string> out;
    for (const Envelope& e : c.got()) out.push_back(e.ns + e.topic);
    return out;
  };
  EXPECT_EQ(topics(by_topic),
            (std::vector<std::string>{"ns1/snapshot/prepare", "ns2/snapshot/prepare",
                                      "ns2/snapshot/prepare"}));
  EXPECT_EQ(topics(by_ns),
            (std::vector<std::string>{"ns2/snapshot/prepare", "ns2/namespaces/create",
                                      "ns2/snapshot/prepare"}));
  EXPECT_EQ(topics(by_key), (std::vector<std::string>{"ns2/snapshot/prepare", "ns1/snapshot/remove",
                                                      "ns2/snapshot/prepare"}));
  // The label filter matched only team a; the last publish does not match it.
  ASSERT_TRUE(x.Publish("ns1", "/last/one", Payload("z")).ok());
  ASSERT_TRUE(by_label.WaitCount(2));
  EXPECT_EQ(topics(by_label), (std::vector<std::string>{"ns2/namespaces/create", "ns1/last/one"}));
}

TEST(ExchangeTest, EnvelopeAdaptorLeavesTimestampAndUnknownPayloadsUnmatched) {
  Envelope e{.timestamp = std::chrono::system_clock::now(),
             .ns = "n",
             .topic = "/t",
             .event = Payload("not a proto")};
  auto adaptor = EnvelopeAdaptor(e);
  EXPECT_EQ(adaptor({"topic"}), std::optional<std::string>("/t"));
  EXPECT_EQ(adaptor({"namespace"}), std::optional<std::string>("n"));
  EXPECT_EQ(adaptor({"timestamp"}), std::nullopt);
  EXPECT_EQ(adaptor({"event", "key"}), std::nullopt);
}

TEST(ExchangeTest, HundredSubscribersEachGetEverythingInOrder) {
  Exchange x;
  constexpr int kSubscribers = 100;
  constexpr int kEvents = 50;
  std::vector<std::unique_ptr<Collector>> collectors;
  std::vector<std::unique_ptr<EventSubscription>> subs;
  for (int i = 0; i < kSubscribers; ++i) {
    collectors.push_back(std::make_unique<Collector>());
    auto sub = collectors.back()->Subscribe(x);
    ASSERT_TRUE(sub.ok());
    subs.push_back(std::move(*sub));
  }
  EXPECT_EQ(x.subscriber_count(), static_cast<std::size_t>(kSubscribers));
  std::vector<std::string> want;
  for (int i = 0; i < kEvents; ++i) {
    want.push_back(std::to_string(i));
    ASSERT_TRUE(x.Publish("default", "/many", Payload(want.back())).ok());
  }
  for (auto& c : collectors) {
    ASSERT_TRUE(c->WaitCount(kEvents));
    EXPECT_EQ(c->Values(), want);
  }
}

TEST(ExchangeTest, StuckSubscriberIsCutOffWithoutDelayingOthers) {
  Executor executor(8);
  constexpr std::size_t kBound = 16;
  Exchange x(&executor, kBound);
  Gate gate;
  Collector stuck, fast;
  auto stuck_sub = x.Subscribe(
      filters::Filter(),
      [&](const Envelope& e) {
        stuck.Deliver(e);
        gate.Enter();  // stops reading
      },
      [&](const Status& s) { stuck.Closed(s); });
  auto fast_sub = fast.Subscribe(x);
  ASSERT_TRUE(stuck_sub.ok() && fast_sub.ok());

  ASSERT_TRUE(x.Publish("default", "/first", Payload("0")).ok());
  ASSERT_TRUE(gate.WaitEntered());  // the stuck one holds envelope 0
  // kBound more fill its queue; the next one cuts it off. Publish never
  // waits: every call returns while the stuck delivery is still blocked, and
  // the fast subscriber gets each envelope meanwhile (it is waited for one
  // by one, so that it never lags a full queue itself).
  constexpr int kMore = 3 * static_cast<int>(kBound);
  for (int i = 1; i <= kMore; ++i) {
    ASSERT_TRUE(x.Publish("default", "/more", Payload(std::to_string(i))).ok());
    ASSERT_TRUE(fast.WaitCount(static_cast<std::size_t>(i) + 1))
        << "fast subscriber delayed at " << i;
  }
  ASSERT_TRUE(stuck.WaitClosed());
  ASSERT_TRUE(fast.WaitCount(kMore + 1));
  EXPECT_EQ(fast.got().size(), static_cast<std::size_t>(kMore + 1));
  EXPECT_EQ(gate.entered(), 1);
  auto closed = stuck.closed();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_TRUE(closed[0].Is(Code::kResourceExhausted)) << closed[0].ToString();
  EXPECT_NE(closed[0].message().find(std::to_string(kBound)), std::string::npos)
      << closed[0].message();
  EXPECT_EQ(x.subscriber_count(), 1u);

  gate.Open();
  stuck_sub->reset();  // waits for the released delivery; no more after it
  ASSERT_TRUE(x.Publish("default", "/after", Payload("after")).ok());
  ASSERT_TRUE(fast.WaitCount(kMore + 2));
  EXPECT_EQ(stuck.got().size(), 1u);
  EXPECT_EQ(stuck.closed().size(), 1u);
}

// A feed subscriber (Exchange::SubscribeFeed) that acknowledges each offer
// with Ready() at once, or only when the test says (Release).
class Feed {
 public:
  explicit Feed(bool ready_at_once = true) : ready_at_once_(ready_at_once) {}
  Status Subscribe(Exchange& x, const filters::Filter& f = {}) {
    auto sub = x.SubscribeFeed(
        f,
        [this](const Envelope& e) {
          collector.Deliver(e);
          if (ready_at_once_) sub_->Ready();  // from inside the offer
        },
        [this](const Status& s) { collector.Closed(s); });
    if (!sub.ok()) return sub.status();
    sub_ = std::move(*sub);
    return Status::Ok();
  }
  void Release() { sub_->Ready(); }
  void Unsubscribe() { sub_.reset(); }

  Collector collector;

 private:
  const bool ready_at_once_;
  std::unique_ptr<FeedSubscription> sub_;
};

TEST(ExchangeTest, HundredFeedsEachGetEverythingInOrder) {
  Exchange x;
  constexpr int kFeeds = 100;
  constexpr int kEvents = 50;
  std::vector<std::unique_ptr<Feed>> feeds;
  for (int i = 0; i < kFeeds; ++i) {
    feeds.push_back(std::make_unique<Feed>());
    ASSERT_TRUE(feeds.back()->Subscribe(x).ok());
  }
  Collector blocking;  // a Subscribe one alongside
  auto blocking_sub = blocking.Subscribe(x);
  ASSERT_TRUE(blocking_sub.ok());
  EXPECT_EQ(x.subscriber_count(), static_cast<std::size_t>(kFeeds + 1));
  std::vector<std::string> want;
  for (int i = 0; i < kEvents; ++i) {
    want.push_back(std::to_string(i));
    ASSERT_TRUE(x.Publish("default", "/many", Payload(want.back())).ok());
  }
  for (auto& f : feeds) {
    ASSERT_TRUE(f->collector.WaitCount(kEvents));
    EXPECT_EQ(f->collector.Values(), want);
  }
  ASSERT_TRUE(blocking.WaitCount(kEvents));
  EXPECT_EQ(blocking.Values(), want);
}

TEST(ExchangeTest, FeedGetsNothingMoreUntilReadyThenTheRestInOrder) {
  Exchange x;
  Feed feed(/*ready_at_once=*/false);
  ASSERT_TRUE(feed.Subscribe(x).ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(x.Publish("default", "/held", Payload(std::to_string(i))).ok());
  }
  ASSERT_TRUE(feed.collector.WaitCount(1));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(feed.collector.Values(), std::vector<std::string>{"0"});
  for (std::size_t n = 2; n <= 5; ++n) {
    feed.Release();  // offers the next on this thread
    ASSERT_TRUE(feed.collector.WaitCount(n));
  }
  EXPECT_EQ(feed.collector.Values(), (std::vector<std::string>{"0", "1", "2", "3", "4"}));
  feed.Release();  // nothing queued: the next publish offers at once
  ASSERT_TRUE(x.Publish("default", "/later", Payload("5")).ok());
  ASSERT_TRUE(feed.collector.WaitCount(6));
}

TEST(ExchangeTest, StuckFeedIsCutOffWithoutDelayingOthers) {
  Executor executor(8);
  constexpr std::size_t kBound = 16;
  Exchange x(&executor, kBound);
  Feed stuck(/*ready_at_once=*/false), fast;
  ASSERT_TRUE(stuck.Subscribe(x).ok());
  ASSERT_TRUE(fast.Subscribe(x).ok());
  ASSERT_TRUE(x.Publish("default", "/first", Payload("0")).ok());
  ASSERT_TRUE(stuck.collector.WaitCount(1));  // busy from now on
  constexpr int kMore = 3 * static_cast<int>(kBound);
  for (int i = 1; i <= kMore; ++i) {
    ASSERT_TRUE(x.Publish("default", "/more", Payload(std::to_string(i))).ok());
    ASSERT_TRUE(fast.collector.WaitCount(static_cast<std::size_t>(i) + 1))
        << "fast feed delayed at " << i;
  }
  ASSERT_TRUE(stuck.collector.WaitClosed());
  auto closed = stuck.collector.closed();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_TRUE(closed[0].Is(Code::kResourceExhausted)) << closed[0].ToString();
  EXPECT_NE(closed[0].message().find(std::to_string(kBound)), std::string::npos);
  EXPECT_EQ(x.subscriber_count(), 1u);
  stuck.Release();  // late: nothing more is offered
  stuck.Unsubscribe();
  EXPECT_EQ(stuck.collector.got().size(), 1u);
  EXPECT_EQ(fast.collector.got().size(), static_cast<std::size_t>(kMore + 1));
}

TEST(ExchangeTest, FeedNeedsAnOfferAndAnOpenExchange) {
  Exchange x;
  EXPECT_TRUE(
      x.SubscribeFeed(filters::Filter(), nullptr, nullptr).status().Is(Code::kInvalidArgument));
  ASSERT_TRUE(x.Close().ok());
  Feed feed;
  EXPECT_TRUE(feed.Subscribe(x).Is(Code::kUnavailable));
}

TEST(ExchangeTest, UnsubscribeStopsDelivery) {
  Exchange x;
  Collector gone, stays;
  auto gone_sub = gone.Subscribe(x);
  auto stays_sub = stays.Subscribe(x);
  ASSERT_TRUE(gone_sub.ok() && stays_sub.ok());
  ASSERT_TRUE(x.Publish("default", "/one", Payload("1")).ok());
  ASSERT_TRUE(gone.WaitCount(1));
  gone_sub->reset();
  ASSERT_TRUE(x.Publish("default", "/two", Payload("2")).ok());
  ASSERT_TRUE(x.Publish("default", "/three", Payload("3")).ok());
  ASSERT_TRUE(stays.WaitCount(3));
  EXPECT_EQ(gone.Values(), std::vector<std::string>{"1"});
  EXPECT_TRUE(gone.closed().empty());
  EXPECT_EQ(x.subscriber_count(), 1u);
}

TEST(ExchangeTest, UnsubscribingFromInsideDeliverDoesNotDeadlock) {
  Exchange x;
  Collector c;
  std::unique_ptr<EventSubscription> sub;
  Mutex mu;
  auto r = x.Subscribe(
      filters::Filter(),
      [&](const Envelope& e) {
        c.Deliver(e);
        MutexLock lock(&mu);
        sub.reset();
      },
      [](const Status&) {});
  ASSERT_TRUE(r.ok());
  {
    MutexLock lock(&mu);
    sub = std::move(*r);
  }
  ASSERT_TRUE(x.Publish("default", "/one", Payload("1")).ok());
  ASSERT_TRUE(c.WaitCount(1));
  Collector after;
  auto after_sub = after.Subscribe(x);
  ASSERT_TRUE(after_sub.ok());
  ASSERT_TRUE(x.Publish("default", "/two", Payload("2")).ok());
  ASSERT_TRUE(after.WaitCount(1));
  EXPECT_EQ(c.Values(), std::vector<std::string>{"1"});
}

TEST(ExchangeTest, CloseEndsSubscriptionsWithUnavailable) {
  Exchange x;
  Collector c;
  auto sub = c.Subscribe(x);
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(x.Close().ok());
  ASSERT_TRUE(c.WaitClosed());
  EXPECT_TRUE(c.closed()[0].Is(Code::kUnavailable)) << c.closed()[0].ToString();
  EXPECT_TRUE(x.Publish("default", "/late", Payload("x")).Is(Code::kUnavailable));
  EXPECT_FALSE(c.Subscribe(x).ok());
}

TEST(ExchangeTest, PackEventUsesContainerdTypeUrls) {
  containerd::events::SnapshotPrepare e;
  e.set_key("k");
  Any any = PackEvent(e);
  EXPECT_EQ(any.type_url, "containerd.events.SnapshotPrepare");
  containerd::events::SnapshotPrepare back;
  ASSERT_TRUE(back.ParseFromString(any.value));
  EXPECT_EQ(back.key(), "k");
}

}  // namespace
}  // namespace berth::host
