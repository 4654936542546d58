// Times as RFC 3339 text in UTC, in the layouts containerd writes: Go's
// time.RFC3339 (whole seconds; labels such as containerd.io/gc.expire) and
// the fixed nine-digit fraction of its logs and ingest files.
//
// Thread-safe (no state).
#ifndef BERTH_TIME_H_
#define BERTH_TIME_H_

#include <chrono>
#include <string>

namespace berth {

// "2006-01-02T15:04:05Z": the second `t` falls in (a fraction is dropped,
// rounding toward the past).
std::string FormatRfc3339(std::chrono::system_clock::time_point t);

// "2006-01-02T15:04:05.000000000Z": always nine fraction digits.
std::string FormatRfc3339NanoFixed(std::chrono::system_clock::time_point t);

}  // namespace berth

#endif  // BERTH_TIME_H_
