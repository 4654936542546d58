#include "berth/time.h"

#include <cstdio>
#include <ctime>

namespace berth {
namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;

// "YYYY-MM-DDTHH:MM:SS" of the second `secs` since the epoch, in UTC.
std::string DateTime(seconds secs) {
  const std::time_t t = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

}  // namespace

std::string FormatRfc3339(std::chrono::system_clock::time_point t) {
  return DateTime(std::chrono::floor<seconds>(t.time_since_epoch())) + "Z";
}

std::string FormatRfc3339NanoFixed(std::chrono::system_clock::time_point t) {
  const nanoseconds since = std::chrono::duration_cast<nanoseconds>(t.time_since_epoch());
  const seconds secs = std::chrono::floor<seconds>(since);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%09lldZ", static_cast<long long>((since - secs).count()));
  return DateTime(secs) + frac;
}

}  // namespace berth
