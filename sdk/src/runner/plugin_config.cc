// The two ConfigFields visitors: one decodes an operator's TOML table over a
// plugin's typed defaults, the other writes the defaults out as a table; and
// the source locations their warnings carry.
#include "berth/runner/plugin_config.h"

#include <set>
#include <string_view>
#include <utility>

#include "berth/runner/toml_util.h"

namespace berth::runner {
namespace {

using toml_util::LocationOf;

class TomlDecoder final : public ConfigFields {
 public:
  explicit TomlDecoder(const toml::value& table) : table_(table) {}

  void Field(std::string_view key, bool& value) override {
    Decode(key, "boolean", [&](const toml::value& v) {
      if (!v.is_boolean()) return false;
      value = v.as_boolean();
      return true;
    });
  }
  void Field(std::string_view key, std::int64_t& value) override {
    Decode(key, "integer", [&](const toml::value& v) {
      if (!v.is_integer()) return false;
      value = v.as_integer();
      return true;
    });
  }
  void Field(std::string_view key, double& value) override {
    Decode(key, "float", [&](const toml::value& v) {
      if (v.is_floating()) {
        value = v.as_floating();
      } else if (v.is_integer()) {
        value = static_cast<double>(v.as_integer());
      } else {
        return false;
      }
      return true;
    });
  }
  void Field(std::string_view key, std::string& value) override {
    Decode(key, "string", [&](const toml::value& v) {
      if (!v.is_string()) return false;
      value = v.as_string().str;
      return true;
    });
  }
  void Field(std::string_view key, Duration& value) override {
    Decode(key, "duration (e.g. \"100ms\", \"1h30m\")",
           [&](const toml::value& v) {
             if (v.is_integer()) {
               value.value = std::chrono::nanoseconds(v.as_integer());
               return true;
             }
             return v.is_string() && ParseDuration(v.as_string().str, value);
           });
  }
  void Field(std::string_view key, std::vector<std::string>& value) override {
    Decode(key, "array of strings", [&](const toml::value& v) {
      return toml_util::Read(v, key, value).ok();
    });
  }
  void Field(std::string_view key,
             std::map<std::string, std::string>& value) override {
    Decode(key, "table of strings", [&](const toml::value& v) {
      return toml_util::Read(v, key, value).ok();
    });
  }

  const Status& status() const { return status_; }
  const std::set<std::string, std::less<>>& described() const {
    return described_;
  }

 private:
  // Looks `key` up and lets `convert` store it; a false answer is a type
  // error. Only the first error is kept.
  template <typename Convert>
  void Decode(std::string_view key, std::string_view expected,
              Convert&& convert) {
    described_.emplace(key);
    if (!status_.ok() || !table_.is_table()) return;
    const auto& entries = table_.as_table();
    auto it = entries.find(std::string(key));
    if (it == entries.end()) return;
    if (convert(it->second)) return;
    SourceLocation where = LocationOf(it->second);
    std::string prefix =
        where.file.empty() ? ""
                           : where.file + ":" + std::to_string(where.line) + ": ";
    status_ = Status::InvalidArgument(
        prefix + "plugin config key \"" + std::string(key) + "\": expected " +
        std::string(expected) + ", got " +
        std::string(toml_util::TypeName(it->second.type())) +
        (it->second.is_string() ? " \"" + it->second.as_string().str + "\""
                                : ""));
  }

  const toml::value& table_;
  std::set<std::string, std::less<>> described_;
  Status status_;
};

class TomlEncoder final : public ConfigFields {
 public:
  void Field(std::string_view key, bool& value) override { Put(key, value); }
  void Field(std::string_view key, std::int64_t& value) override {
    Put(key, toml::integer(value));
  }
  void Field(std::string_view key, double& value) override {
    Put(key, toml::floating(value));
  }
  void Field(std::string_view key, std::string& value) override {
    Put(key, value);
  }
  void Field(std::string_view key, Duration& value) override {
    Put(key, FormatDuration(value));
  }
  void Field(std::string_view key, std::vector<std::string>& value) override {
    toml::array items;
    for (const std::string& s : value) items.emplace_back(s);
    Put(key, std::move(items));
  }
  void Field(std::string_view key,
             std::map<std::string, std::string>& value) override {
    toml::table items;
    for (const auto& [k, v] : value) items.emplace(k, v);
    Put(key, std::move(items));
  }

  toml::value Take() { return std::move(table_); }

 private:
  template <typename T>
  void Put(std::string_view key, T&& value) {
    table_.as_table()[std::string(key)] = toml::value(std::forward<T>(value));
  }

  toml::value table_ = toml::table{};
};

}  // namespace

std::string SourceLocation::ToString() const {
  if (file.empty()) return "";
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line);
  if (line > 0 && column > 0) s += ":" + std::to_string(column);
  return s;
}

std::string ConfigWarning::ToString() const {
  if (where.file.empty()) return message;
  std::string s = where.file;
  if (where.line > 0) s += ":" + std::to_string(where.line);
  return s + ": " + message;
}

Status DecodePluginConfig(const toml::value& table, PluginConfig& cfg,
                          std::vector<ConfigWarning>* warnings) {
  if (!table.is_table() && !table.is_uninitialized()) {
    return toml_util::TypeError(table, "plugins", "table");
  }
  TomlDecoder decoder(table);
  cfg.Describe(decoder);
  BERTH_RETURN_IF_ERROR(decoder.status());
  if (warnings == nullptr || !table.is_table()) return Status::Ok();
  for (const auto& [key, value] : toml_util::SortedEntries(table)) {
    if (decoder.described().count(key)) continue;
    warnings->push_back(
        {LocationOf(*value), "unknown plugin config key \"" + key + "\""});
  }
  return Status::Ok();
}

toml::value EncodePluginConfig(PluginConfig& cfg) {
  TomlEncoder encoder;
  cfg.Describe(encoder);
  return encoder.Take();
}

}  // namespace berth::runner
