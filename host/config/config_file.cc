#include "config/config_file.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <string_view>
#include <utility>

#include "berth/runner/toml_util.h"

namespace berth::host::config_file {
namespace {

using toml_util::LocationOf;
using toml_util::Read;
using toml_util::SortedEntries;
using toml_util::TypeError;

// Reads one key's value; `key` is its dotted name for messages.
using Reader = std::function<Status(const toml::value& v, const std::string& key)>;

struct Key {
  std::string_view name;
  Reader read;
};

template <typename T>
Reader Into(T& out) {
  return [&out](const toml::value& v, const std::string& key) {
    return Read(v, key, out);
  };
}

Reader AppendTo(std::vector<std::string>& out) {
  return [&out](const toml::value& v, const std::string& key) {
    std::vector<std::string> items;
    BERTH_RETURN_IF_ERROR(Read(v, key, items));
    out.insert(out.end(), items.begin(), items.end());
    return Status::Ok();
  };
}

// A key berth knows but has no use for: its type is checked, its value dropped.
template <typename T>
Reader Ignored() {
  return [](const toml::value& v, const std::string& key) {
    T unused{};
    return Read(v, key, unused);
  };
}

// A key berth reads but does not act on: its type is checked and, when it
// is set to anything but its zero value, a warning located at it says so
// (`what` tells what happens instead). `out`, when given, keeps the value.
template <typename T>
Reader Unsupported(std::vector<ConfigWarning>& warnings, std::string what, T* out = nullptr) {
  return [&warnings, what = std::move(what), out](const toml::value& v, const std::string& key) {
    T value{};
    BERTH_RETURN_IF_ERROR(Read(v, key, value));
    if (value != T{}) {
      warnings.push_back({LocationOf(v), "key \"" + key + "\" is not supported: " + what});
    }
    if (out != nullptr) *out = std::move(value);
    return Status::Ok();
  };
}

// A table berth does not act on: a warning when it is not empty.
Reader UnsupportedTable(std::vector<ConfigWarning>& warnings, std::string what) {
  return [&warnings, what = std::move(what)](const toml::value& v, const std::string& key) {
    if (!v.is_table()) return TypeError(v, key, "table");
    if (!v.as_table().empty()) {
      warnings.push_back({LocationOf(v), "table \"" + key + "\" is not supported: " + what});
    }
    return Status::Ok();
  };
}

// A string limited to `allowed`.
Reader OneOf(std::string& out, std::vector<std::string_view> allowed) {
  return [&out, allowed](const toml::value& v, const std::string& key) {
    std::string text;
    BERTH_RETURN_IF_ERROR(Read(v, key, text));
    if (std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
      std::string list;
      for (std::string_view a : allowed) {
        list += (list.empty() ? "" : ", ") + std::string(a);
      }
      return Status::InvalidArgument(LocationOf(v).ToString() + ": key \"" +
                                     key + "\": \"" + text +
                                     "\" is not one of " + list);
    }
    out = std::move(text);
    return Status::Ok();
  };
}

Status ReadKeys(const toml::value& table, const std::string& prefix,
                const std::vector<Key>& keys,
                std::vector<ConfigWarning>& warnings) {
  for (const auto& [name, value] : SortedEntries(table)) {
    auto known = std::find_if(keys.begin(), keys.end(),
                              [&name = name](const Key& k) { return k.name == name; });
    std::string full = prefix + name;
    if (known == keys.end()) {
      warnings.push_back({LocationOf(*value), "unknown key \"" + full + "\""});
      continue;
    }
    BERTH_RETURN_IF_ERROR(known->read(*value, full));
  }
  return Status::Ok();
}

Reader Section(std::vector<Key> keys, std::vector<ConfigWarning>& warnings) {
  return [keys = std::move(keys), &warnings](const toml::value& v,
                                             const std::string& key) {
    if (!v.is_table()) return TypeError(v, key, "table");
    return ReadKeys(v, key + ".", keys, warnings);
  };
}

Reader PluginTables(std::map<std::string, toml::value>& out) {
  return [&out](const toml::value& v, const std::string& key) {
    if (!v.is_table()) return TypeError(v, key, "table");
    for (const auto& [uri, table] : SortedEntries(v)) {
      if (!table->is_table()) {
        return TypeError(*table, key + ".\"" + uri + "\"", "table");
      }
      out[uri] = *table;  // whole-table replace, as containerd merges
    }
    return Status::Ok();
  };
}

// A Go duration string ("30s", "1m30s") or an integer of nanoseconds, as
// Go's TOML decoder reads a time.Duration; must be positive.
Reader PositiveDuration(Duration& out) {
  return [&out](const toml::value& v, const std::string& key) {
    Duration d;
    if (v.is_integer()) {
      d.value = std::chrono::nanoseconds(v.as_integer());
    } else if (!v.is_string()) {
      return TypeError(v, key, "duration (e.g. \"30s\")");
    } else if (!ParseDuration(v.as_string().str, d)) {
      return Status::InvalidArgument(LocationOf(v).ToString() + ": key \"" + key +
                                     "\": invalid duration \"" + v.as_string().str + "\"");
    }
    if (d.value.count() <= 0) {
      return Status::InvalidArgument(LocationOf(v).ToString() + ": key \"" + key +
                                     "\": duration must be positive");
    }
    out = d;
    return Status::Ok();
  };
}

Status ReadProxyPlugin(const toml::value& v, const std::string& key,
                       ProxyPluginConfig& p,
                       std::vector<ConfigWarning>& warnings) {
  if (!v.is_table()) return TypeError(v, key, "table");
  p.where = LocationOf(v);
  BERTH_RETURN_IF_ERROR(ReadKeys(v, key + ".",
                                 {{"type", Into(p.type)},
                                  {"address", Into(p.address)},
                                  {"platform", Into(p.platform)},
                                  {"exports", Into(p.exports)},
                                  {"capabilities", Into(p.capabilities)},
                                  {"timeout", PositiveDuration(p.timeout)}},
                                 warnings));
  for (auto [field, value] : {std::pair{"type", &p.type},
                              std::pair{"address", &p.address}}) {
    if (value->empty()) {
      return Status::InvalidArgument(p.where.ToString() + ": " + key +
                                     ": \"" + field + "\" is required");
    }
  }
  return Status::Ok();
}

Reader ProxyPlugins(std::map<std::string, ProxyPluginConfig>& out,
                    std::vector<ConfigWarning>& warnings) {
  return [&out, &warnings](const toml::value& v, const std::string& key) {
    if (!v.is_table()) return TypeError(v, key, "table");
    for (const auto& [name, table] : SortedEntries(v)) {
      ProxyPluginConfig p;
      BERTH_RETURN_IF_ERROR(
          ReadProxyPlugin(*table, key + "." + name, p, warnings));
      out[name] = std::move(p);  // whole-table replace
    }
    return Status::Ok();
  };
}

Reader Imports(std::vector<Import>& out) {
  return [&out](const toml::value& v, const std::string& key) {
    if (!v.is_array()) return TypeError(v, key, "array of strings");
    for (const toml::value& item : v.as_array()) {
      if (!item.is_string()) return TypeError(item, key, "array of strings");
      out.push_back({item.as_string().str, LocationOf(item)});
    }
    return Status::Ok();
  };
}

const std::vector<std::string_view> kLevels = {
    "trace", "debug", "info", "warn", "warning", "error", "fatal", "panic"};
const std::vector<std::string_view> kFormats = {"text", "json"};

// containerd serves on TCP only the services that opt in (CRI); none of
// berthd's does, and the whole API is root-equivalent, so nothing listens.
constexpr char kNoTcpServices[] =
    "no service berthd loads is served on TCP (only opt-in services such as CRI are); "
    "nothing listens there";

}  // namespace

Status Apply(const toml::value& root, Config& c,
             std::vector<ConfigWarning>& warnings, std::vector<Import>& imports) {
  std::vector<ConfigWarning>& w = warnings;
  std::vector<Key> keys = {
      {"version", Ignored<std::int64_t>()},
      {"root", Into(c.root)},
      {"state", Into(c.state)},
      {"temp", Into(c.temp)},
      {"plugin_dir", Into(c.plugin_dir)},
      {"disabled_plugins", AppendTo(c.disabled_plugins)},
      {"required_plugins", AppendTo(c.required_plugins)},
      {"oom_score", Into(c.oom_score)},
      {"imports", Imports(imports)},
      {"grpc", Section({{"address", Into(c.grpc.address)},
                        {"tcp_address", Unsupported(w, kNoTcpServices, &c.grpc.tcp_address)},
                        {"tcp_tls_ca", Unsupported<std::string>(w, kNoTcpServices)},
                        {"tcp_tls_cert", Unsupported<std::string>(w, kNoTcpServices)},
                        {"tcp_tls_key", Unsupported<std::string>(w, kNoTcpServices)},
                        {"uid", Into(c.grpc.uid)},
                        {"gid", Into(c.grpc.gid)},
                        {"max_recv_message_size",
                         Into(c.grpc.max_recv_message_size)},
                        {"max_send_message_size",
                         Into(c.grpc.max_send_message_size)}},
                       w)},
      {"ttrpc", Section({{"address", Into(c.ttrpc.address)},
                         {"uid", Into(c.ttrpc.uid)},
                         {"gid", Into(c.ttrpc.gid)}},
                        w)},
      {"debug", Section({{"address", Into(c.debug.address)},
                         {"uid", Into(c.debug.uid)},
                         {"gid", Into(c.debug.gid)},
                         {"level", OneOf(c.debug.level, kLevels)},
                         {"format", OneOf(c.debug.format, kFormats)}},
                        w)},
      {"metrics", Section({{"address", Into(c.metrics.address)},
                           {"grpc_histogram", Into(c.metrics.grpc_histogram)}},
                          w)},
      {"cgroup", Section({{"path", Unsupported<std::string>(
                                       w, "berthd stays in the cgroup it was started in")}},
                         w)},
      {"timeouts", UnsupportedTable(w, "berthd keeps its own timeouts")},
      {"stream_processors",
       UnsupportedTable(w, "layers of other media types are refused at unpack")},
      {"plugins", PluginTables(c.plugins)},
      {"proxy_plugins", ProxyPlugins(c.proxy_plugins, w)},
  };
  return ReadKeys(root, "", keys, warnings);
}

}  // namespace berth::host::config_file
