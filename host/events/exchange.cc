#include "events/exchange.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "berth/identifiers.h"
#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "berth/runner/log.h"

namespace berth::host {

namespace pb = google::protobuf;

Status ValidateTopic(std::string_view topic) {
  auto bad = [&](std::string why) {
    return Status::InvalidArgument("envelope topic \"" + std::string(topic) + "\": " + why);
  };
  if (topic.empty()) return bad("must not be empty");
  if (topic[0] != '/') return bad("must start with '/'");
  if (topic.size() == 1) return bad("must have at least one component");
  std::string_view rest = topic.substr(1);
  while (true) {
    std::size_t slash = rest.find('/');
    std::string_view component = rest.substr(0, slash);
    Status s = ValidateIdentifier(component);
    if (!s.ok()) {
      return bad("failed validation on component \"" + std::string(component) +
                 "\": " + s.message());
    }
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return Status::Ok();
}

namespace {

// A publish's fan-out to feeds is split over more tasks only above this many
// feeds per task.
constexpr std::size_t kFeedsPerTask = 16;

// Parses an Any's payload when its type URL ("containerd.events.X" or
// ".../containerd.events.X") names a message in the generated pool.
std::unique_ptr<pb::Message> Decode(const std::string& type_url, const std::string& value) {
  std::size_t slash = type_url.rfind('/');
  std::string name = slash == std::string::npos ? type_url : type_url.substr(slash + 1);
  const pb::Descriptor* d = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(name);
  if (d == nullptr) return nullptr;
  const pb::Message* prototype = pb::MessageFactory::generated_factory()->GetPrototype(d);
  if (prototype == nullptr) return nullptr;
  std::unique_ptr<pb::Message> m(prototype->New());
  if (!m->ParseFromString(value)) return nullptr;
  return m;
}

// containerd's generated Field(): strings (present when non-empty), bools,
// map<string,string> keyed by the rest of the path joined with ".", nested
// messages and Anys recursively; anything else is unhandled.
std::optional<std::string> FieldOf(const pb::Message& m, const std::vector<std::string>& path,
                                   std::size_t at) {
  if (at >= path.size()) return std::nullopt;
  const pb::Descriptor* d = m.GetDescriptor();
  const pb::Reflection* r = m.GetReflection();
  if (d->full_name() == "google.protobuf.Any") {
    const pb::FieldDescriptor* url = d->FindFieldByName("type_url");
    const pb::FieldDescriptor* value = d->FindFieldByName("value");
    if (url == nullptr || value == nullptr) return std::nullopt;
    auto inner = Decode(r->GetString(m, url), r->GetString(m, value));
    if (inner == nullptr) return std::nullopt;
    return FieldOf(*inner, path, at);
  }
  const pb::FieldDescriptor* f = d->FindFieldByName(path[at]);
  if (f == nullptr) return std::nullopt;
  if (f->is_map()) {
    const pb::Descriptor* entry = f->message_type();
    const pb::FieldDescriptor* key = entry->map_key();
    const pb::FieldDescriptor* val = entry->map_value();
    if (key->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING ||
        val->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING || at + 1 >= path.size()) {
      return std::nullopt;
    }
    std::string want = path[at + 1];
    for (std::size_t i = at + 2; i < path.size(); ++i) want += "." + path[i];
    for (int i = 0; i < r->FieldSize(m, f); ++i) {
      const pb::Message& e = r->GetRepeatedMessage(m, f, i);
      if (e.GetReflection()->GetString(e, key) == want) {
        return e.GetReflection()->GetString(e, val);
      }
    }
    return std::nullopt;
  }
  if (f->is_repeated()) return std::nullopt;
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      if (at + 1 != path.size()) return std::nullopt;
      std::string s = r->GetString(m, f);
      if (s.empty()) return std::nullopt;
      return s;
    }
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      if (at + 1 != path.size()) return std::nullopt;
      return std::string(r->GetBool(m, f) ? "true" : "false");
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      if (!r->HasField(m, f)) return std::nullopt;
      return FieldOf(r->GetMessage(m, f), path, at + 1);
    default:
      return std::nullopt;
  }
}

}  // namespace

filters::Adaptor EnvelopeAdaptor(const Envelope& envelope) {
  // The payload is decoded at most once per adaptor, on first use.
  struct Lazy {
    bool decoded = false;
    std::unique_ptr<pb::Message> message;
  };
  auto lazy = std::make_shared<Lazy>();
  return [&envelope, lazy](const std::vector<std::string>& path) -> std::optional<std::string> {
    if (path.empty()) return std::nullopt;
    if (path[0] == "namespace") {
      if (envelope.ns.empty()) return std::nullopt;
      return envelope.ns;
    }
    if (path[0] == "topic") {
      if (envelope.topic.empty()) return std::nullopt;
      return envelope.topic;
    }
    if (path[0] == "event") {
      if (!lazy->decoded) {
        lazy->decoded = true;
        lazy->message = Decode(envelope.event.type_url, envelope.event.value);
      }
      if (lazy->message == nullptr) return std::nullopt;
      return FieldOf(*lazy->message, path, 1);
    }
    return std::nullopt;  // timestamp is unhandled, as in containerd
  };
}

// One subscription's state, shared by its handle, the exchange's list and
// the executor tasks that deliver to it.
class Exchange::Subscriber {
 public:
  // What Enqueue asks of its caller, once the locks are released.
  enum class Queued {
    kDone,    // nothing: a task already has the queue, or the feed is busy
    kDrain,   // submit a Drain task (a blocking subscriber)
    kPump,    // Pump it in the publish's fan-out task (a feed subscriber)
    kCutOff,  // the queue was full: submit CallClosed(CutOff(bound)), log
  };

  // `feed`: `deliver` is an offer that never blocks (see SubscribeFeed).
  Subscriber(filters::Filter filter, std::function<void(const Envelope&)> deliver,
             std::function<void(const Status&)> closed, bool feed)
      : filter_(std::move(filter)),
        deliver_(std::move(deliver)),
        closed_(std::move(closed)),
        feed_(feed) {}

  const filters::Filter& filter() const { return filter_; }

  bool ended() BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return ended_;
  }

  // Queues `envelope`. REQUIRES: called under the exchange's lock, so that
  // queue order is publish order.
  Queued Enqueue(std::shared_ptr<const Envelope> envelope, std::size_t bound) BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    if (ended_) return Queued::kDone;
    if (queue_.size() >= bound) {
      ended_ = true;
      queue_.clear();
      return Queued::kCutOff;
    }
    queue_.push_back(std::move(envelope));
    if (scheduled_ || busy_) return Queued::kDone;
    scheduled_ = true;
    return feed_ ? Queued::kPump : Queued::kDrain;
  }

  static Status CutOff(std::size_t bound) {
    return Status::ResourceExhausted("event subscriber fell " + std::to_string(bound) +
                                     " envelopes behind and was cut off");
  }

  // Ends delivery; true when it was not ended before (the caller then
  // submits CallClosed).
  bool End() BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    if (ended_) return false;
    ended_ = true;
    queue_.clear();
    return true;
  }

  // The handle's destructor: no callbacks after this returns.
  void Unsubscribe() BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    ended_ = true;
    unsubscribed_ = true;
    queue_.clear();
    const std::thread::id me = std::this_thread::get_id();
    idle_.Wait(&mu_, [&]() BERTH_REQUIRES(mu_) {
      return std::all_of(in_callback_.begin(), in_callback_.end(),
                         [&](std::thread::id t) { return t == me; });
    });
  }

  // A blocking subscriber's task: delivers until the queue is empty.
  void Drain() BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    while (!ended_ && !queue_.empty()) {
      std::shared_ptr<const Envelope> envelope = std::move(queue_.front());
      queue_.pop_front();
      in_callback_.push_back(std::this_thread::get_id());
      lock.Unlock();
      CallDeliver(*envelope);
      lock.Lock();
      LeaveCallbackLocked();
    }
    scheduled_ = false;
  }

  // A feed subscriber: offers the next envelope unless busy; again when
  // Ready() came while `offer` ran. REQUIRES: scheduled_ was set by the caller.
  void Pump() BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    while (!ended_ && !busy_ && !queue_.empty()) {
      std::shared_ptr<const Envelope> envelope = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      in_callback_.push_back(std::this_thread::get_id());
      lock.Unlock();
      if (!CallDeliver(*envelope)) {
        lock.Lock();
        busy_ = false;  // it threw: it took nothing and will not call Ready
      } else {
        lock.Lock();
      }
      LeaveCallbackLocked();
    }
    scheduled_ = false;
  }

  // FeedSubscription::Ready.
  void Ready() BERTH_EXCLUDES(mu_) {
    {
      MutexLock lock(&mu_);
      busy_ = false;
      // A Pump in progress (Ready from inside `offer`) sees busy_ cleared.
      if (ended_ || scheduled_ || queue_.empty()) return;
      scheduled_ = true;
    }
    Pump();
  }

  void CallClosed(const Status& status) BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    if (unsubscribed_) return;
    in_callback_.push_back(std::this_thread::get_id());
    lock.Unlock();
    try {
      closed_(status);
    } catch (...) {
      log::Warn("event subscriber's close handler threw");
    }
    lock.Lock();
    LeaveCallbackLocked();
  }

 private:
  // False when `deliver_` threw (logged).
  bool CallDeliver(const Envelope& envelope) {
    try {
      deliver_(envelope);
      return true;
    } catch (const std::exception& e) {
      log::Warn("event subscriber threw", {{"error", e.what()}});
    } catch (...) {
      log::Warn("event subscriber threw a non-standard exception");
    }
    return false;
  }

  void LeaveCallbackLocked() BERTH_REQUIRES(mu_) {
    auto it = std::find(in_callback_.begin(), in_callback_.end(), std::this_thread::get_id());
    if (it != in_callback_.end()) in_callback_.erase(it);
    idle_.SignalAll();
  }

  const filters::Filter filter_;
  const std::function<void(const Envelope&)> deliver_;  // or the feed's offer
  const std::function<void(const Status&)> closed_;
  const bool feed_;

  Mutex mu_;
  CondVar idle_;
  std::deque<std::shared_ptr<const Envelope>> queue_ BERTH_GUARDED_BY(mu_);
  // A Drain or Pump is submitted or running (it takes the queue's head).
  bool scheduled_ BERTH_GUARDED_BY(mu_) = false;
  // Feed only: offered an envelope, Ready() not yet called.
  bool busy_ BERTH_GUARDED_BY(mu_) = false;
  bool ended_ BERTH_GUARDED_BY(mu_) = false;  // nothing more is delivered
  bool unsubscribed_ BERTH_GUARDED_BY(mu_) = false;
  // Threads inside deliver_ or closed_ (a few: a blocked deliver, the
  // cut-off's closed, a feed's Ready from inside its offer).
  std::vector<std::thread::id> in_callback_ BERTH_GUARDED_BY(mu_);
};

class Exchange::Handle final : public EventSubscription {
 public:
  explicit Handle(std::shared_ptr<Subscriber> subscriber) : subscriber_(std::move(subscriber)) {}
  // The exchange drops ended subscribers from its list on its next publish.
  ~Handle() override { subscriber_->Unsubscribe(); }

 private:
  std::shared_ptr<Subscriber> subscriber_;
};

class Exchange::FeedHandle final : public FeedSubscription {
 public:
  explicit FeedHandle(std::shared_ptr<Subscriber> subscriber)
      : subscriber_(std::move(subscriber)) {}
  ~FeedHandle() override { subscriber_->Unsubscribe(); }
  void Ready() override { subscriber_->Ready(); }

 private:
  std::shared_ptr<Subscriber> subscriber_;
};

Exchange::Exchange(Executor* executor, std::size_t queue_bound)
    : executor_(executor != nullptr ? executor : &Executor::Shared()), queue_bound_(queue_bound) {}

Exchange::~Exchange() = default;

Status Exchange::Publish(std::string_view ns, std::string_view topic, const Any& event) {
  Status s = ValidateIdentifier(ns);
  if (!s.ok()) return Status::InvalidArgument("failed publishing event: " + s.message());
  BERTH_RETURN_IF_ERROR(ValidateTopic(topic));
  auto envelope = std::make_shared<Envelope>();
  envelope->timestamp = std::chrono::system_clock::now();
  envelope->ns = std::string(ns);
  envelope->topic = std::string(topic);
  envelope->event = event;
  return Dispatch(std::move(envelope));
}

Status Exchange::Forward(const Envelope& envelope) {
  Status s = ValidateIdentifier(envelope.ns);
  if (!s.ok())
    return Status::InvalidArgument("event envelope has invalid namespace: " + s.message());
  BERTH_RETURN_IF_ERROR(ValidateTopic(envelope.topic));
  if (envelope.timestamp.time_since_epoch().count() == 0) {
    return Status::InvalidArgument("timestamp must be set on forwarded event");
  }
  return Dispatch(std::make_shared<const Envelope>(envelope));
}

Status Exchange::Dispatch(std::shared_ptr<const Envelope> envelope) {
  // Queued under the lock (one global order); tasks submitted after it, so
  // that a woken executor thread never waits for this publisher's locks.
  std::vector<std::shared_ptr<Subscriber>> drain, pump, cut_off;
  {
    MutexLock lock(&mu_);
    if (closed_) return Status::Unavailable("event exchange closed");
    filters::Adaptor adaptor = EnvelopeAdaptor(*envelope);
    for (auto it = subscribers_.begin(); it != subscribers_.end();) {
      std::shared_ptr<Subscriber>& sub = *it;
      if (sub->ended()) {
        it = subscribers_.erase(it);
        continue;
      }
      if (!sub->filter().Match(adaptor)) {
        ++it;
        continue;
      }
      switch (sub->Enqueue(envelope, queue_bound_)) {
        case Subscriber::Queued::kDone:
          break;
        case Subscriber::Queued::kDrain:
          drain.push_back(sub);
          break;
        case Subscriber::Queued::kPump:
          pump.push_back(sub);
          break;
        case Subscriber::Queued::kCutOff:
          cut_off.push_back(std::move(sub));
          it = subscribers_.erase(it);
          continue;
      }
      ++it;
    }
  }
  for (auto& sub : cut_off) {
    executor_->Submit([sub = std::move(sub), status = Subscriber::CutOff(queue_bound_)] {
      sub->CallClosed(status);
    });
    log::Warn("event subscriber cut off: queue full", {{"bound", std::to_string(queue_bound_)},
                                                       {"topic", envelope->topic},
                                                       {"namespace", envelope->ns}});
  }
  for (auto& sub : drain) executor_->Submit([sub = std::move(sub)] { sub->Drain(); });
  // A few tasks, one per core, each offering to a share of the feeds: the
  // offers (a stream write each) then run in parallel, at the cost of a
  // wake-up per task.
  const std::size_t tasks = std::max<std::size_t>(
      1, std::min<std::size_t>(std::thread::hardware_concurrency(), pump.size() / kFeedsPerTask));
  for (std::size_t t = 0; t < tasks; ++t) {
    std::vector<std::shared_ptr<Subscriber>> share;
    for (std::size_t i = t; i < pump.size(); i += tasks) share.push_back(std::move(pump[i]));
    executor_->Submit([share = std::move(share)] {
      for (const auto& sub : share) sub->Pump();
    });
  }
  return Status::Ok();
}

Status Exchange::Add(const std::shared_ptr<Subscriber>& subscriber) {
  MutexLock lock(&mu_);
  if (closed_) return Status::Unavailable("event exchange closed");
  subscribers_.push_back(subscriber);
  return Status::Ok();
}

Result<std::unique_ptr<EventSubscription>> Exchange::Subscribe(
    const filters::Filter& filter, std::function<void(const Envelope&)> deliver,
    std::function<void(const Status&)> closed) {
  if (!deliver) return Status::InvalidArgument("event subscription needs a deliver function");
  if (!closed) closed = [](const Status&) {};
  auto sub = std::make_shared<Subscriber>(filter, std::move(deliver), std::move(closed),
                                          /*feed=*/false);
  BERTH_RETURN_IF_ERROR(Add(sub));
  return std::unique_ptr<EventSubscription>(std::make_unique<Handle>(std::move(sub)));
}

Result<std::unique_ptr<FeedSubscription>> Exchange::SubscribeFeed(
    const filters::Filter& filter, std::function<void(const Envelope&)> offer,
    std::function<void(const Status&)> closed) {
  if (!offer) return Status::InvalidArgument("event feed subscription needs an offer function");
  if (!closed) closed = [](const Status&) {};
  auto sub = std::make_shared<Subscriber>(filter, std::move(offer), std::move(closed),
                                          /*feed=*/true);
  BERTH_RETURN_IF_ERROR(Add(sub));
  return std::unique_ptr<FeedSubscription>(std::make_unique<FeedHandle>(std::move(sub)));
}

Status Exchange::Close() {
  std::vector<std::shared_ptr<Subscriber>> ended;
  {
    MutexLock lock(&mu_);
    closed_ = true;
    for (auto& sub : subscribers_) {
      if (sub->End()) ended.push_back(std::move(sub));
    }
    subscribers_.clear();
  }
  for (auto& sub : ended) {
    executor_->Submit(
        [sub = std::move(sub)] { sub->CallClosed(Status::Unavailable("event exchange closed")); });
  }
  return Status::Ok();
}

std::size_t Exchange::subscriber_count() const {
  MutexLock lock(&mu_);
  std::size_t n = 0;
  for (const auto& sub : subscribers_) n += sub->ended() ? 0 : 1;
  return n;
}

Registration ExchangeRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kEvent);
  r.id = "exchange";
  r.init = [](InitContext&) -> Result<std::shared_ptr<Plugin>> {
    return std::shared_ptr<Plugin>(std::make_shared<Exchange>());
  };
  return r;
}

}  // namespace berth::host
