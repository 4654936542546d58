#include <gtest/gtest.h>

#include "berth/config.h"

namespace berth {
namespace {

using std::chrono::nanoseconds;

Duration D(std::int64_t ns) { return Duration{nanoseconds(ns)}; }

TEST(DurationTest, FormatsAsGo) {
  EXPECT_EQ(FormatDuration(D(0)), "0s");
  EXPECT_EQ(FormatDuration(D(100'000'000)), "100ms");
  EXPECT_EQ(FormatDuration(D(1'500'000)), "1.5ms");
  EXPECT_EQ(FormatDuration(D(90'000'000'000)), "1m30s");
  EXPECT_EQ(FormatDuration(D(3'600'000'000'000)), "1h0m0s");
  EXPECT_EQ(FormatDuration(D(42)), "42ns");
}

TEST(DurationTest, ParsesGoSyntax) {
  Duration d;
  ASSERT_TRUE(ParseDuration("100ms", d));
  EXPECT_EQ(d.value, nanoseconds(100'000'000));
  ASSERT_TRUE(ParseDuration("1h30m", d));
  EXPECT_EQ(d.value, nanoseconds(5'400'000'000'000));
  ASSERT_TRUE(ParseDuration("1.5s", d));
  EXPECT_EQ(d.value, nanoseconds(1'500'000'000));
  ASSERT_TRUE(ParseDuration("0", d));
  EXPECT_EQ(d.value, nanoseconds(0));
}

TEST(DurationTest, RejectsGarbage) {
  Duration d = D(5);
  EXPECT_FALSE(ParseDuration("", d));
  EXPECT_FALSE(ParseDuration("10", d));
  EXPECT_FALSE(ParseDuration("ms", d));
  EXPECT_FALSE(ParseDuration("1x", d));
  EXPECT_FALSE(ParseDuration("1..2s", d));
  EXPECT_EQ(d.value, nanoseconds(5));
}

}  // namespace
}  // namespace berth
