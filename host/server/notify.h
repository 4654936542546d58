// systemd's readiness protocol (sd_notify) without libsystemd: one datagram
// such as "READY=1" or "STOPPING=1" sent to the socket named by
// $NOTIFY_SOCKET. A name starting with '@' is an abstract socket.
//
// Thread-safe (no shared state).
#ifndef BERTH_HOST_SERVER_NOTIFY_H_
#define BERTH_HOST_SERVER_NOTIFY_H_

#include <string>
#include <string_view>

#include "berth/status.h"

namespace berth::host {

// Sends `state` to the datagram socket `socket_path` ("/run/x.sock" or
// "@abstract"). InvalidArgument for an empty or over-long name; Unavailable
// when the socket cannot be reached.
Status SendNotify(const std::string& socket_path, std::string_view state);

// Sends `state` to $NOTIFY_SOCKET. OK without doing anything when the
// variable is unset or empty (not started by systemd).
Status NotifySystemd(std::string_view state);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVER_NOTIFY_H_
