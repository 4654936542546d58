// io.containerd.grpc.v1.events: containerd.services.events.v1.Events over the
// event exchange (io.containerd.event.v1.exchange). Publish stamps an event
// in the call's namespace; Forward passes an envelope on as it came;
// Subscribe streams matching envelopes from every namespace, one write in
// flight at a time, fed by the subscriber's bounded queue in the exchange
// (a feed subscription: nothing waits for a write, and one task fans a
// publish out to every idle stream).
// A client that falls a full queue behind gets the stream ended with
// ResourceExhausted (after the write in flight, when it reads again); a
// client that goes away unsubscribes. Forward is also served on the
// daemon's ttrpc socket (containerd.services.events.ttrpc.v1.Events), where
// shims publish their task events.
//
// Thread-safe (the exchange serialises; each stream guards its own state).
#ifndef BERTH_HOST_SERVICES_EVENTS_SERVICE_H_
#define BERTH_HOST_SERVICES_EVENTS_SERVICE_H_

#include "berth/plugin.h"
#include "builtins.h"

namespace berth::host {

Registration EventsServiceRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_EVENTS_SERVICE_H_
