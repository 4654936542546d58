// io.containerd.event.v1.exchange: the daemon's event exchange, as
// containerd's events/exchange. Publishers hand envelopes to every matching
// subscriber's queue and return; they never wait for a subscriber.
//
// Each subscriber has its own bounded queue (kSubscriberQueueBound
// envelopes), drained in order, one envelope at a time, on the executor. A
// publish that finds the queue full cuts the subscriber off: its queue is
// dropped, `closed` gets ResourceExhausted naming the bound (on the
// executor, possibly while a delivery is still blocked, so that the
// subscriber can give up), the cut is logged, and nothing more is delivered.
//
// Two kinds of subscriber:
//  - Subscribe (EventExchange's): `deliver` may block (wait for the
//    subscriber's reader), so each such subscriber is drained by a task of
//    its own; only its own queue fills while it blocks.
//  - SubscribeFeed (the events service's streams): `offer` never blocks; the
//    subscriber takes one envelope, is busy until it calls Ready(), and
//    meanwhile its queue fills. One executor task per publish (a few, one
//    per core, above 16 feeds each) offers the envelope to every idle feed
//    subscriber in turn, so a fan-out to many streams costs a wake-up or
//    two, not one per subscriber.
// Executor tasks are submitted after the exchange's and the subscriber's
// locks are released, never while a publisher holds them.
//
// Ordering: envelopes are queued under one lock, so every subscriber sees
// envelopes in one global order, which contains each publisher's order.
//
// Filters see the envelope's `topic` and `namespace`, and `event.<field>...`
// of the payload when its type URL names a message linked into the process
// (string and bool fields, string maps such as labels, nested messages).
//
// Thread-safe.
#ifndef BERTH_HOST_EVENTS_EXCHANGE_H_
#define BERTH_HOST_EVENTS_EXCHANGE_H_

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "berth/events.h"
#include "berth/executor.h"
#include "berth/mutex.h"
#include "berth/thread_annotations.h"
#include "builtins.h"

namespace berth::host {

// How many envelopes a subscriber may have undelivered before it is cut off.
inline constexpr std::size_t kSubscriberQueueBound = 1024;

// "/"-rooted, at least one component, each an identifier (containerd's
// validateTopic). InvalidArgument naming the topic otherwise.
Status ValidateTopic(std::string_view topic);

// The filter adaptor over an envelope (see the header comment).
filters::Adaptor EnvelopeAdaptor(const Envelope& envelope);

// A feed subscription (Exchange::SubscribeFeed); destroying it unsubscribes.
class FeedSubscription : public EventSubscription {
 public:
  // The subscriber is done with the envelope last offered: the next queued
  // one (if any) is offered now, on the caller's thread, or by the next
  // publish. Call it once per offer, without holding a lock `offer` takes;
  // any thread (a stream's write completion, even inside `offer`).
  virtual void Ready() = 0;
};

class Exchange final : public EventExchange {
 public:
  // `executor` runs deliveries (nullptr: Executor::Shared()); it must
  // outlive the exchange. `queue_bound` is kSubscriberQueueBound in berthd.
  explicit Exchange(Executor* executor = nullptr, std::size_t queue_bound = kSubscriberQueueBound);
  ~Exchange() override;

  Status Publish(std::string_view ns, std::string_view topic, const Any& event) override;
  Status Forward(const Envelope& envelope) override;
  // Filter, deliver and closed as EventExchange's. `closed` is called at
  // most once: on a cut-off or when the exchange closes, never after the
  // subscription is destroyed. Destroying the subscription waits for a
  // `deliver` or `closed` call in progress (unless it is that call's own
  // thread) and stops further ones.
  Result<std::unique_ptr<EventSubscription>> Subscribe(
      const filters::Filter& filter, std::function<void(const Envelope&)> deliver,
      std::function<void(const Status&)> closed) override;
  // As Subscribe, for a subscriber that never blocks in `offer`: `offer` is
  // called with one envelope, then not again until the subscription's
  // Ready(); envelopes published meanwhile wait in the bounded queue (and a
  // full one cuts the subscriber off as for Subscribe). `offer` runs on the
  // executor, in a task that offers the same envelope to other feed
  // subscribers after it, or on the thread that calls Ready(). `closed` and
  // destruction as Subscribe's. InvalidArgument without `offer`, Unavailable
  // after Close.
  Result<std::unique_ptr<FeedSubscription>> SubscribeFeed(
      const filters::Filter& filter, std::function<void(const Envelope&)> offer,
      std::function<void(const Status&)> closed);
  // Ends every subscription with Unavailable "event exchange closed".
  Status Close() override;

  std::size_t subscriber_count() const BERTH_EXCLUDES(mu_);

  class Subscriber;

 private:
  class Handle;
  class FeedHandle;
  Status Dispatch(std::shared_ptr<const Envelope> envelope) BERTH_EXCLUDES(mu_);
  Status Add(const std::shared_ptr<Subscriber>& subscriber) BERTH_EXCLUDES(mu_);

  Executor* const executor_;
  const std::size_t queue_bound_;
  mutable Mutex mu_;
  bool closed_ BERTH_GUARDED_BY(mu_) = false;
  std::vector<std::shared_ptr<Subscriber>> subscribers_ BERTH_GUARDED_BY(mu_);
};

Registration ExchangeRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_EVENTS_EXCHANGE_H_
