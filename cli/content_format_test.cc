#include "content_format.h"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(RenderTabColumnsTest, PadsColumnCellsWithTabsToTabStops) {
  // Column 0 is 71 wide (+1 padding = 72, a tab stop): "DIGEST" needs 9
  // tabs, the digest 1. Column 1 is 7 wide (+1 = 8): "SIZE" 1 tab, "1.074GB"
  // 1 tab. The last cell is printed as is.
  const std::string digest = "sha256:" + std::string(64, 'a');
  const std::string out =
      RenderTabColumns({{"DIGEST", "SIZE", "LABELS"}, {digest, "1.074GB", "-"}});
  EXPECT_EQ(out, "DIGEST" + std::string(9, '\t') + "SIZE\tLABELS\n" + digest +
                     "\t1.074GB\t-\n");
}

TEST(RenderTabColumnsTest, TrailingEmptyCellStillPadsTheLastColumn) {
  // ctr's "REF\tSIZE\tAGE\t": every named cell is a column.
  const std::string out = RenderTabColumns(
      {{"REF", "SIZE", "AGE", ""}, {"my-ref", "1.049MB", "Less than a second", ""}});
  // REF column: 6+1=7 -> 8: "REF" 1 tab, "my-ref" 1 tab. AGE column: 18+1=19
  // -> 24: "AGE" 3 tabs (21 -> ceil(21/8)), the age 1 tab.
  EXPECT_EQ(out,
            "REF\tSIZE\tAGE\t\t\t\n"
            "my-ref\t1.049MB\tLess than a second\t\n");
}

TEST(RenderTabColumnsTest, WidthCountsCodePoints) {
  const std::string out = RenderTabColumns({{"\xc3\xa9tiquette", "x"}, {"a", "y"}});
  // "étiquette" is 9 code points: 9+1=10 -> 16; it needs 1 tab, "a" 2.
  EXPECT_EQ(out, "\xc3\xa9tiquette\tx\na\t\ty\n");
}

TEST(HumanSizeTest, DecimalUnitsWithFourSignificantDigits) {
  EXPECT_EQ(HumanSize(0), "0B");
  EXPECT_EQ(HumanSize(12), "12B");
  EXPECT_EQ(HumanSize(999), "999B");
  EXPECT_EQ(HumanSize(1000), "1kB");
  EXPECT_EQ(HumanSize(4096), "4.096kB");
  EXPECT_EQ(HumanSize(1 << 20), "1.049MB");
  EXPECT_EQ(HumanSize(1 << 30), "1.074GB");
  EXPECT_EQ(HumanSize(999999), "1000kB");
}

TEST(HumanDurationTest, RoughAgesAsGoUnitsPrintsThem) {
  EXPECT_EQ(HumanDuration(milliseconds(999)), "Less than a second");
  EXPECT_EQ(HumanDuration(milliseconds(1500)), "1 second");
  EXPECT_EQ(HumanDuration(seconds(59)), "59 seconds");
  EXPECT_EQ(HumanDuration(seconds(119)), "About a minute");
  EXPECT_EQ(HumanDuration(minutes(59)), "59 minutes");
  EXPECT_EQ(HumanDuration(minutes(60)), "About an hour");
  EXPECT_EQ(HumanDuration(minutes(90)), "2 hours");
  EXPECT_EQ(HumanDuration(hours(47)), "47 hours");
  EXPECT_EQ(HumanDuration(hours(24 * 5)), "5 days");
  EXPECT_EQ(HumanDuration(hours(24 * 21)), "3 weeks");
  EXPECT_EQ(HumanDuration(hours(24 * 90)), "3 months");
  EXPECT_EQ(HumanDuration(hours(24 * 365 * 3)), "3 years");
  EXPECT_EQ(HumanDuration(seconds(-5)), "Less than a second");
}

TEST(JoinLabelsTest, SortsPairsAsStrings) {
  EXPECT_EQ(JoinLabels({}, "-"), "-");
  // "a.b=2" sorts before "a=1" ('.' < '='), as ctr's sort.Strings does.
  EXPECT_EQ(JoinLabels({{"a", "1"}, {"a.b", "2"}, {"z", ""}}, "-"), "a.b=2,a=1,z=");
}

TEST(ProgressLineTest, BarWithTotalAndRate) {
  EXPECT_EQ(ProgressLine("r", 512 << 10, 1 << 20, 2 << 20),
            "r [===============>              ] 512.0 KiB / 1.0 MiB  2.0 MiB/s");
  EXPECT_EQ(ProgressLine("r", 1 << 20, 1 << 20, 0),
            "r [==============================] 1.0 MiB / 1.0 MiB  0.0 B/s");
}

TEST(ProgressLineTest, UnknownTotalShowsBytesOnly) {
  EXPECT_EQ(ProgressLine("r", 3 << 20, 0, 1 << 20), "r 3.0 MiB  1.0 MiB/s");
}

}  // namespace
}  // namespace berth::cli
