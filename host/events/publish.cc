#include "events/publish.h"

#include <google/protobuf/descriptor.h>

#include <string>

#include "berth/runner/log.h"

namespace berth::host {

Any PackEvent(const google::protobuf::Message& message) {
  return Any{message.GetDescriptor()->full_name(), message.SerializeAsString()};
}

void PublishEvent(EventPublisher* events, std::string_view ns, std::string_view topic,
                  const google::protobuf::Message& message) {
  if (events == nullptr || ns.empty()) return;
  Status s = events->Publish(ns, topic, PackEvent(message));
  if (!s.ok()) {
    log::Warn("publishing event failed",
              {{"topic", topic}, {"namespace", ns}, {"error", s.ToString()}});
  }
}

}  // namespace berth::host
