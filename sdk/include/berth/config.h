// Typed plugin configuration.
//
// A plugin declares its configuration as a struct deriving from PluginConfig,
// with defaults in its member initialisers, and lists its fields in Describe().
// The host calls Describe() with its own ConfigFields to decode the operator's
// `[plugins."<type>.<id>"]` table over the defaults (reporting wrong types and
// unknown keys with file and line), and to print the defaults for
// `berthd config default`. The plugin never sees TOML.
//
//   struct OverlayConfig : berth::PluginConfig {
//     std::string root_path;                        // default: plugin root
//     bool sync_remove = false;
//     void Describe(berth::ConfigFields& f) override {
//       f.Field("root_path", root_path);
//       f.Field("sync_remove", sync_remove);
//     }
//   };
//
// Not thread-safe; the host decodes before init and the plugin only reads after.
#ifndef BERTH_CONFIG_H_
#define BERTH_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace berth {

// A duration written as Go writes one in containerd's config: "100ms", "1h30m",
// "0s". Plain integers are read as nanoseconds, as Go's TOML decoder does.
struct Duration {
  std::chrono::nanoseconds value{0};
};

// The visitor a PluginConfig describes its fields to. Keys are the TOML keys.
class ConfigFields {
 public:
  virtual ~ConfigFields();
  virtual void Field(std::string_view key, bool& value) = 0;
  virtual void Field(std::string_view key, std::int64_t& value) = 0;
  virtual void Field(std::string_view key, double& value) = 0;
  virtual void Field(std::string_view key, std::string& value) = 0;
  virtual void Field(std::string_view key, Duration& value) = 0;
  virtual void Field(std::string_view key, std::vector<std::string>& value) = 0;
  virtual void Field(std::string_view key,
                     std::map<std::string, std::string>& value) = 0;
};

class PluginConfig {
 public:
  virtual ~PluginConfig();
  // Lists every field once, in the order `config default` prints them.
  virtual void Describe(ConfigFields& fields) = 0;
};

// Formats a duration the way Go prints one ("1m30s", "100ms", "0s").
std::string FormatDuration(Duration d);
// Parses a Go duration string. Returns false (and leaves `out`) on bad input.
bool ParseDuration(std::string_view text, Duration& out);

}  // namespace berth

#endif  // BERTH_CONFIG_H_
