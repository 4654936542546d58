// Failed system calls as Status, and the directory sync that makes a new or
// renamed entry durable: the POSIX details snapshotters and content stores
// share.
//
// Thread-safe (no state).
#ifndef BERTH_FS_H_
#define BERTH_FS_H_

#include <string>
#include <string_view>

#include "berth/status.h"

namespace berth {

// "<what> <path>: <strerror(err)>", or "<what>: <strerror(err)>" when `path`
// is empty: "open /var/lib/x: No such file or directory".
std::string ErrnoMessage(std::string_view what, std::string_view path, int err);

// ErrnoMessage as a Status: NotFound for ENOENT, Unknown for any other errno.
// Callers that must answer Unknown whatever the errno (a missing mount
// target is not a missing object) use Status::Unknown(ErrnoMessage(...)).
Status ErrnoStatus(std::string_view what, std::string_view path, int err);

// fsync()s the directory `dir`, making entries created or renamed in it
// durable. ErrnoStatus of the failed open or fsync.
Status SyncDir(const std::string& dir);

}  // namespace berth

#endif  // BERTH_FS_H_
