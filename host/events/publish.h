// Publishing containerd's typed events from the host's services: the payload
// is packed as containerd's typeurl packs it (type URL = the message's full
// proto name, e.g. "containerd.events.SnapshotPrepare", no prefix).
// Thread-safe (as the publisher).
#ifndef BERTH_HOST_EVENTS_PUBLISH_H_
#define BERTH_HOST_EVENTS_PUBLISH_H_

#include <google/protobuf/message.h>

#include <string_view>

#include "berth/any.h"
#include "berth/events.h"

namespace berth::host {

// `message` as an Any with containerd's type URL.
Any PackEvent(const google::protobuf::Message& message);

// Publishes `message` on `topic` in `ns` after a change has been stored, as
// containerd's services do. Nothing happens without a publisher (no exchange
// loaded) or a namespace; a failed publish is logged and the change stands.
void PublishEvent(EventPublisher* events, std::string_view ns, std::string_view topic,
                  const google::protobuf::Message& message);

}  // namespace berth::host

#endif  // BERTH_HOST_EVENTS_PUBLISH_H_
