// events_bench: publish→deliver latency of the Events service
// (containerd.services.events.v1.Events) through berthd and through
// containerd, both running at once on fresh roots in this run. For each
// count of subscribers (1 and `--subs`, default 100), every daemon gets that
// many Subscribe streams (spread over a few channels) filtered on the
// bench's topic; then events are published one at a time, and the latency
// of one is the time from the start of its Publish call until a subscriber
// has it: the last subscriber ("last", the figure with many subscribers),
// and the first. The daemons alternate in blocks of events so that the
// machine's noise falls on both alike. Prints p50 and p99 per daemon and the
// ratio berthd/containerd (< 1: berthd is faster); asserts nothing.
//
//   events_bench [--n EVENTS] [--subs N] [--berthd PATH] [--containerd PATH] [--dir DIR]
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "berth/mutex.h"
#include "cleanup.h"
#include "containerd/services/events/v1/events.grpc.pb.h"
#include "run.h"

namespace berth::bench {
namespace {

namespace ev = containerd::services::events::v1;
using Clock = std::chrono::steady_clock;

constexpr char kNamespace[] = "bench";
constexpr char kTopic[] = "/bench/events";
constexpr char kTypeUrl[] = "types.containerd.io/berth.bench.v1.Event";
constexpr int kChannels = 4;                  // subscriber streams spread over these
constexpr std::int64_t kWarmUpSeq = 1 << 30;  // warm-up events count from here
constexpr auto kDeliveryLimit = std::chrono::seconds(10);

// Arrivals of the one event in flight. Thread-safe.
class Tally {
 public:
  // Counts from now on the arrivals of `seq`, until `want` subscribers have it.
  void Expect(std::int64_t seq, int want) {
    MutexLock lock(&mu_);
    seq_ = seq;
    want_ = want;
    got_ = 0;
  }
  void Arrive(std::int64_t seq, Clock::time_point at) {
    MutexLock lock(&mu_);
    if (seq != seq_) return;  // an earlier warm-up event, late
    if (got_ == 0) first_ = at;
    last_ = at;
    if (++got_ == want_) cv_.SignalAll();
  }
  // True once every subscriber has the event, with the first and last
  // arrival; false after `limit`.
  bool Wait(Clock::duration limit, Clock::time_point* first, Clock::time_point* last) {
    MutexLock lock(&mu_);
    if (!cv_.WaitFor(&mu_, limit, [this]() BERTH_REQUIRES(mu_) { return got_ >= want_; })) {
      return false;
    }
    *first = first_;
    *last = last_;
    return true;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::int64_t seq_ BERTH_GUARDED_BY(mu_) = -1;
  int want_ BERTH_GUARDED_BY(mu_) = 0;
  int got_ BERTH_GUARDED_BY(mu_) = 0;
  Clock::time_point first_ BERTH_GUARDED_BY(mu_), last_ BERTH_GUARDED_BY(mu_);
};

// One Subscribe stream; reports each envelope's sequence number to the
// tally from gRPC's callback threads. Cancel() then WaitDone() before it dies.
class Subscriber final : public grpc::ClientReadReactor<ev::Envelope> {
 public:
  Subscriber(ev::Events::Stub& stub, Tally& tally) : tally_(tally) {
    req_.add_filters(std::string("topic==\"") + kTopic + "\"");
    stub.async()->Subscribe(&ctx_, &req_, this);
    StartRead(&envelope_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    const auto at = Clock::now();
    tally_.Arrive(std::strtoll(envelope_.event().value().c_str(), nullptr, 10), at);
    StartRead(&envelope_);
  }
  void OnDone(const grpc::Status& s) override {
    MutexLock lock(&mu_);
    if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) {
      std::fprintf(stderr, "subscribe: %s\n", s.error_message().c_str());
    }
    done_ = true;
    cv_.SignalAll();
  }
  void Cancel() { ctx_.TryCancel(); }
  void WaitDone() {
    MutexLock lock(&mu_);
    cv_.Wait(&mu_, [this]() BERTH_REQUIRES(mu_) { return done_; });
  }

 private:
  Tally& tally_;
  grpc::ClientContext ctx_;
  ev::SubscribeRequest req_;
  ev::Envelope envelope_;
  Mutex mu_;
  CondVar cv_;
  bool done_ BERTH_GUARDED_BY(mu_) = false;
};

std::shared_ptr<grpc::Channel> Channel(const std::string& socket, int index) {
  grpc::ChannelArguments args;
  args.SetInt("berth.bench.channel", index);  // a connection of its own
  return grpc::CreateCustomChannel("unix://" + socket, grpc::InsecureChannelCredentials(), args);
}

// One daemon's publisher, subscribers and tally.
class Client {
 public:
  explicit Client(const std::string& socket) {
    for (int i = 0; i < kChannels; ++i) channels_.push_back(Channel(socket, i));
    publisher_ = ev::Events::NewStub(Channel(socket, kChannels));
    for (auto& c : channels_) stubs_.push_back(ev::Events::NewStub(c));
  }
  ~Client() { Unsubscribe(); }

  // Opens `n` streams and publishes warm-up events until every stream has
  // one (so all are subscribed), then a few more. False when that fails.
  bool Subscribe(int n) {
    for (int i = 0; i < n; ++i) {
      subs_.push_back(std::make_unique<Subscriber>(
          *stubs_[static_cast<std::size_t>(i) % stubs_.size()], tally_));
    }
    std::int64_t seq = kWarmUpSeq;
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    Clock::time_point first, last;
    for (;; ++seq) {
      if (Clock::now() > deadline) {
        std::fprintf(stderr, "subscribers did not all receive an event within 30 s\n");
        return false;
      }
      tally_.Expect(seq, n);
      if (!Publish(seq)) return false;
      if (tally_.Wait(std::chrono::milliseconds(100), &first, &last)) break;
    }
    double first_us = 0, last_us = 0;
    for (int i = 0; i < 20; ++i) {
      if (Event(++seq, &first_us, &last_us) < 0) return false;
    }
    return true;
  }

  void Unsubscribe() {
    for (auto& s : subs_) s->Cancel();
    for (auto& s : subs_) s->WaitDone();
    subs_.clear();
  }

  // Publishes event `seq` and waits until every subscriber has it; the
  // latency (µs) to the first and the last. -1 on failure.
  double Event(std::int64_t seq, double* first_us, double* last_us) {
    Clock::time_point first, last;
    tally_.Expect(seq, static_cast<int>(subs_.size()));
    const auto start = Clock::now();
    if (!Publish(seq)) return -1;
    if (!tally_.Wait(kDeliveryLimit, &first, &last)) {
      std::fprintf(stderr, "event %lld not delivered to all within 10 s\n",
                   static_cast<long long>(seq));
      return -1;
    }
    *first_us = std::chrono::duration<double, std::micro>(first - start).count();
    *last_us = std::chrono::duration<double, std::micro>(last - start).count();
    return *last_us;
  }

 private:
  bool Publish(std::int64_t seq) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("containerd-namespace", kNamespace);
    ev::PublishRequest req;
    req.set_topic(kTopic);
    req.mutable_event()->set_type_url(kTypeUrl);
    req.mutable_event()->set_value(std::to_string(seq));
    google::protobuf::Empty resp;
    const grpc::Status s = publisher_->Publish(&ctx, req, &resp);
    if (!s.ok()) std::fprintf(stderr, "publish: %s\n", s.error_message().c_str());
    return s.ok();
  }

  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<ev::Events::Stub>> stubs_;
  std::unique_ptr<ev::Events::Stub> publisher_;
  Tally tally_;
  std::vector<std::unique_ptr<Subscriber>> subs_;  // before tally_ dies: see ~Client
};

struct Latencies {
  std::vector<double> first, last;
};

// `n` events on each client with `subs` subscribers each, in interleaved
// blocks. False when a client could not subscribe.
bool Measure(std::vector<Client*>& clients, int subs, int n, std::vector<Latencies>* out) {
  constexpr int kBlock = 25;
  out->assign(clients.size(), {});
  for (Client* c : clients) {
    if (!c->Subscribe(subs)) return false;
  }
  for (int done = 0; done < n; done += kBlock) {
    for (std::size_t k = 0; k < clients.size(); ++k) {
      for (int i = 0; i < kBlock && done + i < n; ++i) {
        double first = 0, last = 0;
        if (clients[k]->Event(done + i, &first, &last) < 0) continue;
        (*out)[k].first.push_back(first);
        (*out)[k].last.push_back(last);
      }
    }
  }
  for (Client* c : clients) c->Unsubscribe();
  return true;
}

void PrintRow(const std::string& subs, const char* figure, const std::vector<double>& values) {
  std::printf("%-12s %-14s", subs.c_str(), figure);
  for (double v : values) std::printf(" %12.1f", v);
  if (values.size() > 1 && values[1] > 0) std::printf("   %8.2fx", values[0] / values[1]);
  std::printf("\n");
}

}  // namespace
}  // namespace berth::bench

int main(int argc, char** argv) {
  using namespace berth::bench;
  Cleanup::Install();
  CleanupScope cleanup;
  const Flags flags(argc, argv);
  const int n = flags.Int("--n", 2000, 1);
  const int many = flags.Int("--subs", 100, 1);
  const DaemonFlags paths = ReadDaemonFlags(flags, BERTH_BIN_DIR);
  const std::string dir = MakeWorkDir(paths.base, "berth-events-bench");
  if (dir.empty()) return 1;
  std::printf(
      "events_bench: %d events per daemon and subscriber count, interleaved, work "
      "folder %s\n",
      n, dir.c_str());

  DaemonPair daemons = StartDaemons(paths.berthd, paths.containerd, dir, kNoGcToml, kNoCriToml);
  if (!daemons.WaitServing()) return 1;
  std::vector<std::unique_ptr<Client>> owned;  // dies before the daemons
  std::vector<Client*> clients;
  for (const auto& daemon : daemons.daemons) {
    owned.push_back(std::make_unique<Client>(daemon->socket()));
    clients.push_back(owned.back().get());
  }

  std::printf("\n%-12s %-14s", "subscribers", "latency (µs)");
  for (const std::string& name : daemons.names) std::printf(" %12s", name.c_str());
  if (daemons.has_containerd()) std::printf("   berthd/containerd");
  std::printf("\n");
  std::vector<int> counts = {1};
  if (many > 1) counts.push_back(many);
  for (int subs : counts) {
    std::vector<Latencies> lat;
    if (!Measure(clients, subs, n, &lat)) return 1;
    auto row = [&](const char* figure, auto pick, double p) {
      std::vector<double> v;
      for (const Latencies& l : lat) v.push_back(Percentile(pick(l), p));
      PrintRow(std::to_string(subs), figure, v);
    };
    auto last = [](const Latencies& l) { return l.last; };
    auto first = [](const Latencies& l) { return l.first; };
    if (subs == 1) {
      row("p50", last, 0.5);
      row("p99", last, 0.99);
    } else {
      row("last p50", last, 0.5);
      row("last p99", last, 0.99);
      row("first p50", first, 0.5);
    }
  }
  return 0;
}
