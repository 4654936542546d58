#include "berth/time.h"

#include <gtest/gtest.h>

#include <chrono>

namespace berth {
namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;
using Clock = std::chrono::system_clock;

// 2024-02-29T12:34:56Z.
constexpr seconds kLeapDay{1709210096};

Clock::time_point At(seconds s, nanoseconds ns = nanoseconds{0}) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(s + ns));
}

TEST(TimeTest, Rfc3339IsWholeSecondsInUtc) {
  EXPECT_EQ(FormatRfc3339(At(seconds{0})), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(At(kLeapDay)), "2024-02-29T12:34:56Z");
  // The fraction is dropped, not rounded up.
  EXPECT_EQ(FormatRfc3339(At(kLeapDay, nanoseconds{999999999})), "2024-02-29T12:34:56Z");
  // Before the epoch a fraction belongs to the earlier second.
  EXPECT_EQ(FormatRfc3339(At(seconds{-1}, nanoseconds{500000000})), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339(At(seconds{-1}, nanoseconds{-1})), "1969-12-31T23:59:58Z");
}

TEST(TimeTest, Rfc3339NanoFixedKeepsNineDigits) {
  EXPECT_EQ(FormatRfc3339NanoFixed(At(kLeapDay)), "2024-02-29T12:34:56.000000000Z");
  EXPECT_EQ(FormatRfc3339NanoFixed(At(kLeapDay, nanoseconds{120})),
            "2024-02-29T12:34:56.000000120Z");
  EXPECT_EQ(FormatRfc3339NanoFixed(At(kLeapDay, nanoseconds{999999999})),
            "2024-02-29T12:34:56.999999999Z");
  EXPECT_EQ(FormatRfc3339NanoFixed(At(seconds{-1}, nanoseconds{250000000})),
            "1969-12-31T23:59:59.250000000Z");
}

TEST(TimeTest, LatestTimeTheClockHolds) {
  // system_clock counts int64 nanoseconds: its last second is in 2262.
  EXPECT_EQ(FormatRfc3339NanoFixed(Clock::time_point::max()), "2262-04-11T23:47:16.854775807Z");
  EXPECT_EQ(FormatRfc3339(Clock::time_point::max()), "2262-04-11T23:47:16Z");
}

}  // namespace
}  // namespace berth
