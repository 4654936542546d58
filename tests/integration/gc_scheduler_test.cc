// io.containerd.gc.v1.scheduler in a real berthd: its config is decoded and
// printed as containerd's, the stock ctr lists it, and a blob whose record
// `ctr content rm` deletes leaves the disk once the scheduled collection runs.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <toml.hpp>

#include "berth/digest.h"
#include "berthd_process.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

constexpr char kUri[] = "io.containerd.gc.v1.scheduler";
constexpr char kTable[] = "[plugins.\"io.containerd.gc.v1.scheduler\"]\n";

toml::value ParseToml(const std::string& text) {
  std::istringstream in(text);
  return toml::parse(in, "berthd-output");
}

std::string BlobPath(const BerthdProcess& d, const std::string& digest) {
  return d.root() + "/io.containerd.content.v1.content/blobs/sha256/" +
         std::string(DigestHex(digest));
}

// `ctr plugins ls --detailed id==scheduler`.
std::string Detailed(const BerthdProcess& berthd) {
  CommandResult ls = berthd.Ctr({"plugins", "ls", "--detailed", "id==scheduler"});
  EXPECT_EQ(ls.exit_code, 0) << ls.Describe();
  return ls.out;
}

// Polls `done` every 20ms for at most 30s; its last answer.
template <typename Fn>
bool PollUntil(Fn done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

bool LogsARun(const BerthdProcess& berthd) {
  return berthd.Log().find("garbage collected d=") != std::string::npos;
}

// The metadata plugin gains GarbageCollector separately; until it has, the
// scheduler reports exactly this and the tests that need it cannot run.
bool CollectorMissing(const std::string& detailed) {
  return detailed.find("does not implement berth::GarbageCollector") != std::string::npos;
}

TEST(GcSchedulerTest, ConfigDefaultPrintsContainerdsDefaults) {
  CommandResult run = RunCommand({BerthdPath(), "config", "default"});
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  toml::value config;
  ASSERT_NO_THROW(config = ParseToml(run.out)) << run.out;
  const toml::value& table = toml::find(config, "plugins", kUri);
  EXPECT_EQ(toml::find<double>(table, "pause_threshold"), 0.02);
  EXPECT_EQ(toml::find<std::int64_t>(table, "deletion_threshold"), 0);
  EXPECT_EQ(toml::find<std::int64_t>(table, "mutation_threshold"), 100);
  EXPECT_EQ(toml::find<std::string>(table, "schedule_delay"), "0s");
  EXPECT_EQ(toml::find<std::string>(table, "startup_delay"), "100ms");
}

TEST(GcSchedulerTest, ConfigDumpShowsDecodedValues) {
  BerthdOptions options;
  // Durations as text and as integer nanoseconds, as Go's decoder takes them.
  options.extra_toml = std::string(kTable) +
                       "pause_threshold = 0.25\n"
                       "deletion_threshold = 7\n"
                       "schedule_delay = 250000000\n"
                       "startup_delay = \"90s\"\n";
  BerthdProcess berthd(options);
  CommandResult run =
      RunCommand({BerthdPath(), "--config", berthd.config_path(), "config", "dump"});
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  toml::value config;
  ASSERT_NO_THROW(config = ParseToml(run.out)) << run.out;
  const toml::value& table = toml::find(config, "plugins", kUri);
  EXPECT_EQ(toml::find<double>(table, "pause_threshold"), 0.25);
  EXPECT_EQ(toml::find<std::int64_t>(table, "deletion_threshold"), 7);
  EXPECT_EQ(toml::find<std::int64_t>(table, "mutation_threshold"), 100);
  EXPECT_EQ(toml::find<std::string>(table, "schedule_delay"), "250ms");
  EXPECT_EQ(toml::find<std::string>(table, "startup_delay"), "1m30s");
}

TEST(GcSchedulerTest, BadDurationFailsThePluginNamingTheKey) {
  BerthdOptions options;
  options.extra_toml = std::string(kTable) + "startup_delay = \"soon\"\n";
  BerthdProcess berthd(options);
  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  CommandResult ls = berthd.Ctr({"plugins", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  EXPECT_EQ(ParsePluginTable(ls.out)[kUri], "error") << ls.out;
  EXPECT_TRUE(Contains(Detailed(berthd), "startup_delay"));
}

TEST(GcSchedulerTest, ListedOkByCtrWithTheThresholdsInEffect) {
  BerthdOptions options;
  options.extra_toml = std::string(kTable) + "pause_threshold = 0.9\n";  // clamped
  BerthdProcess berthd(options);
  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  const std::string detailed = Detailed(berthd);
  if (CollectorMissing(detailed)) GTEST_SKIP() << detailed;

  CommandResult ls = berthd.Ctr({"plugins", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  EXPECT_TRUE(
      std::regex_search(ls.out, std::regex(R"(io\.containerd\.gc\.v1\s+scheduler\s+-\s+ok)")))
      << ls.out;
  EXPECT_TRUE(std::regex_search(detailed, std::regex(R"(PauseThreshold\s+0\.5\b)"))) << detailed;
  EXPECT_TRUE(std::regex_search(detailed, std::regex(R"(MutationThreshold\s+100\b)"))) << detailed;
  EXPECT_TRUE(Contains(detailed, "io.containerd.metadata.v1"));  // Requires

  // The startup run (100ms after init) is logged at debug with its figures.
  EXPECT_TRUE(PollUntil([&] { return LogsARun(berthd); })) << berthd.Log();
}

TEST(GcSchedulerTest, RemovedBlobLeavesTheDisk) {
  BerthdOptions options;
  // No startup run: only the deletion below schedules one.
  options.extra_toml = std::string(kTable) + "startup_delay = \"0s\"\n";
  BerthdProcess berthd(options);
  ASSERT_TRUE(berthd.Start());
  ASSERT_TRUE(berthd.WaitServing());
  const std::string detailed = Detailed(berthd);
  if (CollectorMissing(detailed)) GTEST_SKIP() << detailed;

  auto ingest = [&](const std::string& ref, const std::string& data) {
    CommandResult run =
        RunCommand({kCtr, "--address", berthd.socket(), "content", "ingest", ref}, data);
    EXPECT_EQ(run.exit_code, 0) << run.Describe();
    const std::string digest = Sha256Of(data);
    // A root, so that only its removal makes it garbage.
    CommandResult label = berthd.Ctr({"content", "label", digest, "containerd.io/gc.root=1"});
    EXPECT_EQ(label.exit_code, 0) << label.Describe();
    return digest;
  };
  const std::string removed = ingest("gc-removed", "a blob the collector removes\n");
  const std::string kept = ingest("gc-kept", "a blob the collector keeps\n");
  ASSERT_TRUE(std::filesystem::exists(BlobPath(berthd, removed)));
  ASSERT_TRUE(std::filesystem::exists(BlobPath(berthd, kept)));

  CommandResult rm = berthd.Ctr({"content", "rm", removed});
  ASSERT_EQ(rm.exit_code, 0) << rm.Describe();
  EXPECT_TRUE(PollUntil([&] { return !std::filesystem::exists(BlobPath(berthd, removed)); }))
      << berthd.Log();
  EXPECT_TRUE(std::filesystem::exists(BlobPath(berthd, kept)));
  // The run that removed it is logged once it returns.
  EXPECT_TRUE(PollUntil([&] { return LogsARun(berthd); })) << berthd.Log();
}

}  // namespace
}  // namespace berth::test
