// containerd's ttrpc Events API (containerd.services.events.ttrpc.v1.Events),
// the daemon's endpoint where shims publish their task events: one unary
// method, Forward(ForwardRequest{Envelope}) → google.protobuf.Empty. Both
// sides are here, on berth::Envelope, so that neither the daemon nor a shim
// sees the wire messages (protobuf-lite, private to libberth-ttrpc).
//
//   // daemon
//   (void)RegisterEventsForward(server, [&](const Envelope& e) { return exchange.Forward(e); });
//   // shim
//   Status s = ForwardEvent(*client, envelope, {.timeout = std::chrono::seconds(5)});
//
// Thread-safe: pure functions, plus the thread-safety of Server and Client.
#ifndef BERTH_TTRPC_EVENTS_H_
#define BERTH_TTRPC_EVENTS_H_

#include <functional>
#include <string>
#include <string_view>

#include "berth/events.h"
#include "berth/status.h"
#include "berth/ttrpc/client.h"
#include "berth/ttrpc/server.h"

namespace berth::ttrpc {

// Frozen: the names on the wire.
inline constexpr char kEventsService[] = "containerd.services.events.ttrpc.v1.Events";
inline constexpr char kForwardMethod[] = "Forward";

// A ForwardRequest's wire bytes. A zero timestamp is sent unset; an empty
// event Any is sent unset.
std::string EncodeForwardRequest(const Envelope& envelope);
// The envelope of a ForwardRequest; an unset timestamp reads as the epoch
// (zero). InvalidArgument when the bytes are no ForwardRequest or the
// timestamp is out of range (nanos outside [0, 1e9)).
Result<Envelope> DecodeForwardRequest(std::string_view payload);

// What the daemon does with a forwarded envelope; its Status is the answer.
// It runs on the server's strand and must not block.
using ForwardFunction = std::function<Status(const Envelope&)>;

// Registers Events/Forward on `server`: decodes the request (InvalidArgument
// when it does not parse), calls `forward`, answers Empty. Errors as
// Server::Register. REQUIRES: before Listen/ServeFd.
[[nodiscard]] Status RegisterEventsForward(Server& server, ForwardFunction forward);

// Calls Events/Forward with `envelope`. The daemon's Status (InvalidArgument
// for a bad topic, namespace or timestamp), or the client's errors.
[[nodiscard]] Status ForwardEvent(Client& client, const Envelope& envelope,
                                  CallOptions options = {});

}  // namespace berth::ttrpc

#endif  // BERTH_TTRPC_EVENTS_H_
