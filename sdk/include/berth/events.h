// Events: containerd's event envelopes and the exchange that carries them
// (io.containerd.event.v1.exchange). Services and plugins publish with
// EventPublisher (topics and payloads as containerd's: "/snapshot/prepare"
// with containerd.events.SnapshotPrepare, "/tasks/exit" with TaskExit, ...);
// the events service and other subscribers use EventExchange. Thread-safe.
#ifndef BERTH_EVENTS_H_
#define BERTH_EVENTS_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "berth/any.h"
#include "berth/content.h"
#include "berth/filters.h"
#include "berth/plugin.h"
#include "berth/status.h"

namespace berth {

struct Envelope {
  Timestamp timestamp;
  std::string ns;
  std::string topic;  // "/<area>/<verb>", e.g. "/containers/create"
  Any event;          // type URL "containerd.events.<Message>"
};

class EventPublisher : public virtual Plugin {
 public:
  ~EventPublisher() override;

  // Publishes `event` on `topic` in `ns`, stamped now. InvalidArgument for a
  // topic that is not "/"-rooted or a namespace that is no identifier. Never
  // waits for subscribers.
  virtual Status Publish(std::string_view ns, std::string_view topic, const Any& event) = 0;
};

// A live subscription; destroying it unsubscribes.
class EventSubscription {
 public:
  virtual ~EventSubscription();
};

class EventExchange : public EventPublisher {
 public:
  ~EventExchange() override;

  // Publishes an envelope as it came (a shim's, forwarded with its own
  // timestamp and namespace).
  virtual Status Forward(const Envelope& envelope) = 0;
  // Calls `deliver` for each envelope matching `filter` (fields topic,
  // namespace, event.<field>) in publish order per publisher. A subscriber
  // that falls behind its bounded queue is cut off: `closed` gets
  // ResourceExhausted naming the bound, and the cut is logged.
  virtual Result<std::unique_ptr<EventSubscription>> Subscribe(
      const filters::Filter& filter, std::function<void(const Envelope&)> deliver,
      std::function<void(const Status&)> closed) = 0;
};

}  // namespace berth

#endif  // BERTH_EVENTS_H_
