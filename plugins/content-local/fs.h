// Small POSIX file helpers for the local content store: whole-file reads and
// writes of the ingest's small metadata files, timestamps in the format those
// files hold (RFC 3339 with nanoseconds, UTC), full pread/pwrite loops and
// recursive removal. Errors come back as Status with the path and errno text.
// Thread-safe (no shared state).
#ifndef BERTH_PLUGINS_CONTENT_LOCAL_FS_H_
#define BERTH_PLUGINS_CONTENT_LOCAL_FS_H_

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "berth/content.h"
#include "berth/status.h"

namespace berth::content_local {

// Status for a failed system call on `path`: NotFound for ENOENT, Unknown
// otherwise; the message reads "<what> <path>: <strerror>".
Status ErrnoStatus(std::string_view what, const std::string& path, int err);

Result<std::string> ReadSmallFile(const std::string& path);
// Writes via a temporary file and rename, so a reader never sees half a file.
Status WriteSmallFile(const std::string& path, std::string_view data);

std::string FormatTimestamp(Timestamp t);
// Falls back to `fallback` for text that does not parse.
Timestamp ParseTimestamp(std::string_view text, Timestamp fallback);
Timestamp FromTimespec(const struct timespec& ts);

// Writes all of [data, data+size) at `offset`, retrying short writes and EINTR.
Status FullPwrite(int fd, const void* data, std::size_t size, off_t offset,
                  const std::string& path);
// Reads up to `size` bytes at `offset`, retrying short reads and EINTR.
// Returns fewer only at end of file.
Result<std::size_t> FullPread(int fd, void* buf, std::size_t size, off_t offset,
                              const std::string& path);

// Removes a folder and its (flat) contents. NotFound if it is absent.
Status RemoveDir(const std::string& path);
Status MakeDirs(const std::string& path);
Status SyncDir(const std::string& path);

}  // namespace berth::content_local

#endif  // BERTH_PLUGINS_CONTENT_LOCAL_FS_H_
