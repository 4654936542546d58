// io.containerd.event.v1.exchange: the daemon's event exchange, as
// containerd's events/exchange. Publishers hand envelopes to every matching
// subscriber's queue and return; they never wait for a subscriber.
//
// Each subscriber has its own bounded queue (kSubscriberQueueBound
// envelopes), drained in order by one task at a time on the executor, which
// calls the subscriber's `deliver`. `deliver` may block (a gRPC stream writer
// waits for its previous write): only that subscriber's queue fills. A
// publish that finds the queue full cuts the subscriber off: its queue is
// dropped, `closed` gets ResourceExhausted naming the bound (on the
// executor, possibly while a `deliver` is still blocked, so that the
// subscriber can give up), the cut is logged, and nothing more is delivered.
//
// Ordering: publishes are fanned out under one lock, so every subscriber
// sees envelopes in one global order, which contains each publisher's order.
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
  // Ends every subscription with Unavailable "event exchange closed".
  Status Close() override;

  std::size_t subscriber_count() const BERTH_EXCLUDES(mu_);

  class Subscriber;

 private:
  class Handle;
  Status Dispatch(std::shared_ptr<const Envelope> envelope) BERTH_EXCLUDES(mu_);
  void Remove(const Subscriber* subscriber) BERTH_EXCLUDES(mu_);

  Executor* const executor_;
  const std::size_t queue_bound_;
  mutable Mutex mu_;
  bool closed_ BERTH_GUARDED_BY(mu_) = false;
  std::vector<std::shared_ptr<Subscriber>> subscribers_ BERTH_GUARDED_BY(mu_);
};

Registration ExchangeRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_EVENTS_EXCHANGE_H_
