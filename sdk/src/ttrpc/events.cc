#include "berth/ttrpc/events.h"

#include <chrono>
#include <cstdint>
#include <utility>

#include "ttrpc_events.pb.h"

namespace berth::ttrpc {
namespace {

namespace pb = berth::ttrpc::wire::events;
using std::chrono::nanoseconds;

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

void ToWire(Timestamp t, pb::Timestamp* out) {
  std::int64_t ns = std::chrono::duration_cast<nanoseconds>(t.time_since_epoch()).count();
  std::int64_t seconds = ns / kNanosPerSecond;
  std::int64_t nanos = ns % kNanosPerSecond;
  if (nanos < 0) {  // before the epoch: nanos count forward from the second below
    nanos += kNanosPerSecond;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<std::int32_t>(nanos));
}

Result<Timestamp> FromWire(const pb::Timestamp& t) {
  if (t.nanos() < 0 || t.nanos() >= kNanosPerSecond) {
    return Status::InvalidArgument("envelope timestamp has nanos out of range");
  }
  // system_clock counts nanoseconds in 64 bits: about ±292 years.
  constexpr std::int64_t kMaxSeconds = INT64_MAX / kNanosPerSecond - 1;
  if (t.seconds() > kMaxSeconds || t.seconds() < -kMaxSeconds) {
    return Status::InvalidArgument("envelope timestamp out of range");
  }
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(
      nanoseconds(t.seconds() * kNanosPerSecond + t.nanos())));
}

}  // namespace

std::string EncodeForwardRequest(const Envelope& envelope) {
  pb::ForwardRequest req;
  pb::Envelope* e = req.mutable_envelope();
  if (envelope.timestamp.time_since_epoch().count() != 0) {
    ToWire(envelope.timestamp, e->mutable_timestamp());
  }
  e->set_namespace_(envelope.ns);
  e->set_topic(envelope.topic);
  if (!envelope.event.empty()) {
    e->mutable_event()->set_type_url(envelope.event.type_url);
    e->mutable_event()->set_value(envelope.event.value);
  }
  return req.SerializeAsString();
}

Result<Envelope> DecodeForwardRequest(std::string_view payload) {
  pb::ForwardRequest req;
  if (!req.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Status::InvalidArgument("ttrpc: cannot parse request of " + std::string(kEventsService) +
                                   "/" + kForwardMethod);
  }
  const pb::Envelope& e = req.envelope();
  Envelope out;
  if (e.has_timestamp()) {
    Result<Timestamp> t = FromWire(e.timestamp());
    if (!t.ok()) return t.status();
    out.timestamp = *t;
  }
  out.ns = e.namespace_();
  out.topic = e.topic();
  out.event = Any{e.event().type_url(), e.event().value()};
  return out;
}

Status RegisterEventsForward(Server& server, ForwardFunction forward) {
  if (!forward) return Status::InvalidArgument("ttrpc: empty handler");
  return server.Register(kEventsService, kForwardMethod,
                         [forward = std::move(forward)](
                             const Context&, std::string_view payload) -> Result<std::string> {
                           Result<Envelope> envelope = DecodeForwardRequest(payload);
                           if (!envelope.ok()) return envelope.status();
                           BERTH_RETURN_IF_ERROR(forward(*envelope));
                           return std::string();  // google.protobuf.Empty
                         });
}

Status ForwardEvent(Client& client, const Envelope& envelope, CallOptions options) {
  Result<std::string> r = client.Call(kEventsService, kForwardMethod,
                                      EncodeForwardRequest(envelope), std::move(options));
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace berth::ttrpc
