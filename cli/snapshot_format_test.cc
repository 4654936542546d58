// The `berthctl snapshots` formats, against the bytes ctr prints.
#include "snapshot_format.h"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

TEST(SnapshotFormatTest, ColumnsArePaddedLikeCtr) {
  EXPECT_EQ(RenderPaddedColumns({{"KEY", "PARENT", "KIND"}}), "KEY PARENT KIND \n");
  EXPECT_EQ(RenderPaddedColumns({{"KEY", "PARENT", "KIND"},
                                 {"base", "", "Committed"},
                                 {"upper", "base", "Active"}}),
            "KEY   PARENT KIND      \n"
            "base         Committed \n"
            "upper base   Active    \n");
}

TEST(SnapshotFormatTest, JsonEscapesAsGoDoes) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c\n\t"), "\"a\\\"b\\\\c\\n\\t\"");
  EXPECT_EQ(JsonQuote("<&>"), "\"\\u003c\\u0026\\u003e\"");
  EXPECT_EQ(JsonQuote(std::string("\x01", 1)), "\"\\u0001\"");
  EXPECT_EQ(JsonQuote("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
  EXPECT_EQ(JsonQuote("bad\xFF"), "\"bad\\ufffd\"");
  EXPECT_EQ(JsonQuote("\xE2\x80\xA8"), "\"\\u2028\"");
}

TEST(SnapshotFormatTest, TimesTrimTheirFraction) {
  EXPECT_EQ(JsonTime(0, 0), "\"1970-01-01T00:00:00Z\"");
  EXPECT_EQ(JsonTime(1700000000, 120000000), "\"2023-11-14T22:13:20.12Z\"");
  EXPECT_EQ(JsonTime(1700000000, 1), "\"2023-11-14T22:13:20.000000001Z\"");
}

TEST(SnapshotFormatTest, InfoJson) {
  SnapshotRow row;
  row.name = "upper";
  row.parent = "base";
  row.kind = "Active";
  row.labels = {{"b", "2"}, {"a", "1"}};
  row.created_seconds = 1700000000;
  row.updated_seconds = 1700000001;
  EXPECT_EQ(RenderInfoJson(row),
            "{\n"
            "    \"Kind\": \"Active\",\n"
            "    \"Name\": \"upper\",\n"
            "    \"Parent\": \"base\",\n"
            "    \"Labels\": {\n"
            "        \"a\": \"1\",\n"
            "        \"b\": \"2\"\n"
            "    },\n"
            "    \"Created\": \"2023-11-14T22:13:20Z\",\n"
            "    \"Updated\": \"2023-11-14T22:13:21Z\"\n"
            "}\n");
  SnapshotRow bare;
  bare.name = "k";
  bare.kind = "Committed";
  EXPECT_EQ(RenderInfoJson(bare),
            "{\n    \"Kind\": \"Committed\",\n    \"Name\": \"k\",\n"
            "    \"Created\": \"1970-01-01T00:00:00Z\",\n"
            "    \"Updated\": \"1970-01-01T00:00:00Z\"\n}\n");
}

TEST(SnapshotFormatTest, MountsJsonAndCommands) {
  const std::vector<MountRow> mounts = {{"bind", "/s/1/fs", {"rbind", "rw"}}};
  EXPECT_EQ(RenderMountsJson(mounts),
            "[\n"
            "    {\n"
            "        \"Type\": \"bind\",\n"
            "        \"Source\": \"/s/1/fs\",\n"
            "        \"Options\": [\n"
            "            \"rbind\",\n"
            "            \"rw\"\n"
            "        ]\n"
            "    }\n"
            "]\n");
  EXPECT_EQ(RenderMountCommands("/mnt", mounts), "mount -t bind /s/1/fs /mnt -o rbind,rw\n");
  EXPECT_EQ(RenderMountsJson({}), "null\n");
}

TEST(SnapshotFormatTest, HumanBytes) {
  EXPECT_EQ(HumanBytes(0), "0.0 B");
  EXPECT_EQ(HumanBytes(1023), "1023.0 B");
  EXPECT_EQ(HumanBytes(4096), "4.0 KiB");
  EXPECT_EQ(HumanBytes(1536 * 1024), "1.5 MiB");
}

TEST(SnapshotFormatTest, TreeNestsChildrenAndPlaceholders) {
  std::vector<SnapshotRow> rows(4);
  rows[0].name = "a";
  rows[1].name = "b";
  rows[1].parent = "a";
  rows[2].name = "c";
  rows[2].parent = "b";
  rows[3].name = "orphan";
  rows[3].parent = "gone";
  EXPECT_EQ(RenderTree(rows), " a\n  \\_ b\n    \\_ c\n gone\n  \\_ orphan\n");
}

TEST(SnapshotFormatTest, LabelArgs) {
  EXPECT_EQ(ParseLabelArgs({"a=1", "flag", "empty=", "x=y=z"}),
            (std::map<std::string, std::string>{
                {"a", "1"}, {"flag", "true"}, {"empty", ""}, {"x", "y=z"}}));
}

}  // namespace
}  // namespace berth::cli
