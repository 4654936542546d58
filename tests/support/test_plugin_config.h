// TestPluginConfig: a typed plugin config with one field of every kind the
// decoder knows (bool, integer, float, string, duration, list, map), for the
// tests of plugin config decoding and rendering.
#ifndef BERTH_TESTS_SUPPORT_TEST_PLUGIN_CONFIG_H_
#define BERTH_TESTS_SUPPORT_TEST_PLUGIN_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "berth/config.h"

namespace berth::test_support {

using namespace std::chrono_literals;

struct TestPluginConfig : PluginConfig {
  bool sync = false;
  std::int64_t count = 3;
  double ratio = 0.5;
  std::string path = "/default";
  Duration delay{100ms};
  std::vector<std::string> names = {"x"};
  std::map<std::string, std::string> labels = {{"k", "v"}};

  void Describe(ConfigFields& f) override {
    f.Field("sync", sync);
    f.Field("count", count);
    f.Field("ratio", ratio);
    f.Field("path", path);
    f.Field("delay", delay);
    f.Field("names", names);
    f.Field("labels", labels);
  }
};

}  // namespace berth::test_support

#endif  // BERTH_TESTS_SUPPORT_TEST_PLUGIN_CONFIG_H_
