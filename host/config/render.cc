// RenderConfig: a Config as config.toml text, in the order and shape
// containerd's `config default` prints.
#include <algorithm>
#include <cstddef>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "berth/runner/toml_util.h"

namespace berth::host {
namespace {

using toml_util::Quote;

std::string List(const std::vector<std::string>& items) {
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    s += (i ? ", " : "") + Quote(items[i]);
  }
  return s + "]";
}

std::string InlineTable(const std::map<std::string, std::string>& items) {
  if (items.empty()) return "{}";
  std::string s = "{ ";
  bool first = true;
  for (const auto& [k, v] : items) {
    s += (first ? "" : ", ") + toml::format_key(k) + " = " + Quote(v);
    first = false;
  }
  return s + " }";
}

std::vector<std::string> SortedKeys(const toml::value& table) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : table.as_table()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

void Line(std::ostringstream& out, int indent, std::string_view key,
          const std::string& value) {
  out << std::string(indent, ' ') << key << " = " << value << "\n";
}

void TopLevel(std::ostringstream& out, const Config& c) {
  Line(out, 0, "version", std::to_string(c.version));
  Line(out, 0, "root", Quote(c.root));
  Line(out, 0, "state", Quote(c.state));
  Line(out, 0, "temp", Quote(c.temp));
  Line(out, 0, "plugin_dir", Quote(c.plugin_dir));
  Line(out, 0, "disabled_plugins", List(c.disabled_plugins));
  Line(out, 0, "required_plugins", List(c.required_plugins));
  Line(out, 0, "oom_score", std::to_string(c.oom_score));
  Line(out, 0, "imports", List(c.imports));
}

void Sections(std::ostringstream& out, const Config& c) {
  out << "\n[grpc]\n";
  Line(out, 2, "address", Quote(c.grpc.address));
  Line(out, 2, "tcp_address", Quote(c.grpc.tcp_address));
  Line(out, 2, "uid", std::to_string(c.grpc.uid));
  Line(out, 2, "gid", std::to_string(c.grpc.gid));
  Line(out, 2, "max_recv_message_size",
       std::to_string(c.grpc.max_recv_message_size));
  Line(out, 2, "max_send_message_size",
       std::to_string(c.grpc.max_send_message_size));
  out << "\n[ttrpc]\n";
  Line(out, 2, "address", Quote(c.ttrpc.address));
  Line(out, 2, "uid", std::to_string(c.ttrpc.uid));
  Line(out, 2, "gid", std::to_string(c.ttrpc.gid));
  out << "\n[debug]\n";
  Line(out, 2, "address", Quote(c.debug.address));
  Line(out, 2, "uid", std::to_string(c.debug.uid));
  Line(out, 2, "gid", std::to_string(c.debug.gid));
  Line(out, 2, "level", Quote(c.debug.level));
  Line(out, 2, "format", Quote(c.debug.format));
  out << "\n[metrics]\n";
  Line(out, 2, "address", Quote(c.metrics.address));
  Line(out, 2, "grpc_histogram", c.metrics.grpc_histogram ? "true" : "false");
}

// A value on one line; tables inside arrays become inline tables.
std::string Value(const toml::value& v) {
  if (v.is_array()) {
    std::string s = "[";
    for (const toml::value& item : v.as_array()) {
      s += (s.size() > 1 ? ", " : "") + Value(item);
    }
    return s + "]";
  }
  if (v.is_table()) {
    std::vector<std::string> keys = SortedKeys(v);
    std::string s = "{";
    for (const std::string& key : keys) {
      s += (s.size() > 1 ? ", " : " ") + toml::format_key(key) + " = " +
           Value(v.at(key));
    }
    return s + (keys.empty() ? "}" : " }");
  }
  std::string s = toml::format(v, std::numeric_limits<std::size_t>::max(),
                               std::numeric_limits<toml::floating>::max_digits10,
                               /*no_comment=*/true, /*force_inline=*/true);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// One table under a `[a."b".c]` header: its plain values first, then its
// sub-tables, each in key order so the output does not depend on hashing.
void Table(std::ostringstream& out, const std::vector<std::string>& path,
           const toml::value& table) {
  std::string indent(2 * (path.size() - 1), ' ');
  out << "\n" << indent << "[" << toml::format_keys(path) << "]\n";
  std::vector<std::string> keys = SortedKeys(table);
  for (const std::string& key : keys) {
    const toml::value& value = table.at(key);
    if (value.is_table()) continue;
    out << indent << "  " << toml::format_key(key) << " = " << Value(value)
        << "\n";
  }
  for (const std::string& key : keys) {
    const toml::value& value = table.at(key);
    if (!value.is_table()) continue;
    std::vector<std::string> sub = path;
    sub.push_back(key);
    Table(out, sub, value);
  }
}

void Plugins(std::ostringstream& out,
             const std::map<std::string, toml::value>& tables) {
  out << "\n[plugins]\n";
  for (const auto& [uri, table] : tables) {
    Table(out, {"plugins", uri},
          table.is_table() ? table : toml::value(toml::table{}));
  }
}

void ProxyPlugins(std::ostringstream& out,
                  const std::map<std::string, ProxyPluginConfig>& proxies) {
  if (proxies.empty()) return;
  out << "\n[proxy_plugins]\n";
  for (const auto& [name, p] : proxies) {
    out << "\n  [proxy_plugins." << toml::format_key(name) << "]\n";
    Line(out, 4, "type", Quote(p.type));
    Line(out, 4, "address", Quote(p.address));
    if (!p.platform.empty()) Line(out, 4, "platform", Quote(p.platform));
    if (!p.exports.empty()) Line(out, 4, "exports", InlineTable(p.exports));
    if (!p.capabilities.empty()) {
      Line(out, 4, "capabilities", List(p.capabilities));
    }
    if (p.timeout.value.count() > 0) {
      Line(out, 4, "timeout", Quote(FormatDuration(p.timeout)));
    }
  }
}

}  // namespace

std::string RenderConfig(const Config& config,
                         const std::map<std::string, toml::value>& plugin_tables) {
  std::map<std::string, toml::value> tables = config.plugins;
  for (const auto& [uri, table] : plugin_tables) tables[uri] = table;
  std::ostringstream out;
  TopLevel(out, config);
  Sections(out, config);
  Plugins(out, tables);
  ProxyPlugins(out, config.proxy_plugins);
  return out.str();
}

}  // namespace berth::host
