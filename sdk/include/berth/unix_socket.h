// Unix-domain socket helpers shared by the servers that bind one (berthd's
// gRPC and ttrpc servers, berth/grpc's UnixServer, berth-snapshotter).
//
// Thread-safe (no state).
#ifndef BERTH_UNIX_SOCKET_H_
#define BERTH_UNIX_SOCKET_H_

#include <sys/types.h>

#include <functional>
#include <string>

#include "berth/status.h"

namespace berth {

// Whether a server accepts connections on the stream socket at `path` now:
// one connect(2), closed at once. False when nothing listens there, the path
// is no socket or is too long for sockaddr_un.
bool SocketAnswers(const std::string& path);

// Puts a listening socket at `path` that nobody can reach before it has
// `mode` and owner `uid`:`gid`. `listen_at` must bind and listen on the path
// it is given: a socket inside a fresh folder next to `path` that only this
// process's user may enter (mkdtemp, 0700), so no other user can connect to
// it whatever the umask. The socket is then chmod'ed and chown'ed there and
// renamed onto `path` (rename(2) is atomic and keeps the listener), and the
// folder removed. The process umask is never touched: it is process-wide.
//
// InvalidArgument when the private path would not fit in sockaddr_un (it is
// at most 9 bytes longer than `path`'s folder plus "/"); Unknown for a
// failing mkdtemp/chmod/chown/rename; else what `listen_at` returns. After a
// failure nothing is left at `path` or in the private folder, but a listener
// `listen_at` started is the caller's to stop.
// REQUIRES: `path` is absolute and its folder exists.
using ListenAt = std::function<Status(const std::string& private_path)>;
Status PublishSocket(const std::string& path, mode_t mode, uid_t uid, gid_t gid,
                     const ListenAt& listen_at);

}  // namespace berth

#endif  // BERTH_UNIX_SOCKET_H_
