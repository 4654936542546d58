// The plugin's init: it needs the metadata plugin to be a GarbageCollector,
// and publishes containerd's exports with the values in effect.
#include "plugin_init.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "berth/gc.h"
#include "berth/plugin_types.h"
#include "fake_collector.h"

namespace berth::gc_scheduler {
namespace {

class QuietLogger final : public Logger {
 public:
  void Log(LogLevel, std::string_view) override {}
  bool Enabled(LogLevel) const override { return false; }
};

// An InitContext whose lookups answer from a map of type → instance.
class FakeInitContext final : public InitContext {
 public:
  explicit FakeInitContext(std::map<std::string, std::shared_ptr<Plugin>> plugins)
      : plugins_(std::move(plugins)) {}

  const std::string& root() const override { return empty_; }
  const std::string& state() const override { return empty_; }
  const std::string& grpc_address() const override { return empty_; }
  const std::string& ttrpc_address() const override { return empty_; }
  const PluginConfig* config() const override { return &config_; }
  PluginMeta& meta() override { return meta_; }
  Logger& log() override { return log_; }
  Result<std::shared_ptr<Plugin>> Get(std::string_view type) const override {
    auto it = plugins_.find(std::string(type));
    if (it == plugins_.end()) {
      return Status::NotFound("no plugins registered for " + std::string(type));
    }
    return it->second;
  }
  Result<std::shared_ptr<Plugin>> GetByID(std::string_view type, std::string_view) const override {
    return Get(type);
  }
  std::map<std::string, std::shared_ptr<Plugin>> GetAll(std::string_view) const override {
    return plugins_;
  }

  SchedulerConfig& scheduler_config() { return config_; }

 private:
  std::map<std::string, std::shared_ptr<Plugin>> plugins_;
  std::string empty_;
  SchedulerConfig config_;
  PluginMeta meta_;
  QuietLogger log_;
};

class PlainMetadata final : public Plugin {};

TEST(PluginInitTest, ConfigDefaultsAreContainerds) {
  SchedulerConfig config;
  EXPECT_EQ(config.pause_threshold, 0.02);
  EXPECT_EQ(config.deletion_threshold, 0);
  EXPECT_EQ(config.mutation_threshold, 100);
  EXPECT_EQ(FormatDuration(config.schedule_delay), "0s");
  EXPECT_EQ(FormatDuration(config.startup_delay), "100ms");
}

TEST(PluginInitTest, FailsWhenMetadataIsNotAGarbageCollector) {
  FakeInitContext ic({{std::string(types::kMetadata), std::make_shared<PlainMetadata>()}});
  Result<std::shared_ptr<Plugin>> made = Init(ic);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(made.status().message().find("does not implement berth::GarbageCollector"),
            std::string::npos)
      << made.status().message();
}

TEST(PluginInitTest, FailsWithoutAMetadataPlugin) {
  FakeInitContext ic({});
  Result<std::shared_ptr<Plugin>> made = Init(ic);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), Code::kNotFound);
}

TEST(PluginInitTest, StartsASchedulerAndExportsThePolicyInEffect) {
  auto collector = std::make_shared<FakeCollector>();
  FakeInitContext ic({{std::string(types::kMetadata), collector}});
  ic.scheduler_config().pause_threshold = 0.9;
  ic.scheduler_config().deletion_threshold = 4;
  ic.scheduler_config().schedule_delay = Duration{std::chrono::milliseconds(1500)};
  ic.scheduler_config().startup_delay = Duration{std::chrono::hours(1)};
  Result<std::shared_ptr<Plugin>> made = Init(ic);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto scheduler = std::dynamic_pointer_cast<GcScheduler>(*made);
  ASSERT_NE(scheduler, nullptr);
  EXPECT_EQ(collector->callbacks(), 1u);
  const std::map<std::string, std::string> want = {{"PauseThreshold", "0.5"},
                                                   {"DeletionThreshold", "4"},
                                                   {"MutationThreshold", "100"},
                                                   {"ScheduleDelay", "1.5s"}};
  EXPECT_EQ(ic.meta().exports, want);
  EXPECT_TRUE((*made)->Close().ok());
  EXPECT_EQ(collector->started(), 0);
}

}  // namespace
}  // namespace berth::gc_scheduler
