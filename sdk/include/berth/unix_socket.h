// Unix-domain socket probes shared by the servers that bind one (berthd's
// gRPC server, berth/grpc's UnixServer, berth-snapshotter).
//
// Thread-safe (no state).
#ifndef BERTH_UNIX_SOCKET_H_
#define BERTH_UNIX_SOCKET_H_

#include <string>

namespace berth {

// Whether a server accepts connections on the stream socket at `path` now:
// one connect(2), closed at once. False when nothing listens there, the path
// is no socket or is too long for sockaddr_un.
bool SocketAnswers(const std::string& path);

}  // namespace berth

#endif  // BERTH_UNIX_SOCKET_H_
