// Small POSIX file helpers for the local content store: whole-file reads and
// writes of the ingest's small metadata files, parsing the timestamps those
// files hold (RFC 3339 with nanoseconds, UTC), full pread/pwrite loops and
// recursive removal. Errors come back as Status with the path and errno text
// (berth/fs.h: ErrnoStatus; SyncDir for directories is there too).
// Thread-safe (no shared state).
#ifndef BERTH_PLUGINS_CONTENT_LOCAL_FS_H_
#define BERTH_PLUGINS_CONTENT_LOCAL_FS_H_

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "berth/content.h"
#include "berth/fs.h"
#include "berth/status.h"
#include "berth/time.h"

namespace berth::content_local {

Result<std::string> ReadSmallFile(const std::string& path);
// Writes via a temporary file and rename, so a reader never sees half a file.
Status WriteSmallFile(const std::string& path, std::string_view data);

// Reads a time as the files hold it (berth/time.h's FormatRfc3339NanoFixed
// writes it; shorter fractions parse too). Falls back to `fallback` for text
// that does not parse.
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

}  // namespace berth::content_local

#endif  // BERTH_PLUGINS_CONTENT_LOCAL_FS_H_
