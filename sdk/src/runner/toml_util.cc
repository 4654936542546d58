#include "berth/runner/toml_util.h"

#include <algorithm>
#include <regex>
#include <sstream>
#include <tuple>

namespace berth::runner::toml_util {
namespace {

// toml11 names values it did not read from a file "unknown file".
constexpr std::string_view kNoFile = "unknown file";

std::string Prefix(const SourceLocation& where) {
  std::string s = where.ToString();
  return s.empty() ? s : s + ": ";
}

// What toml11's report points at: the last marked line and column, and the
// marker's note ("value defined twice").
struct Marker {
  int line = 0;
  int column = 0;
  std::string note;
};

Marker LastMarker(const std::string& report) {
  static const std::regex kCodeLine(R"(^\s*(\d+) \| )");
  static const std::regex kMarkLine(R"(^(\s*\| )( *)[\^~]+-*\s*(.*)$)");
  Marker marker;
  int current_line = 0;
  std::istringstream in(report);
  std::string text;
  std::smatch m;
  while (std::getline(in, text)) {
    if (std::regex_search(text, m, kCodeLine)) {
      current_line = std::stoi(m[1].str());
    } else if (current_line > 0 && std::regex_match(text, m, kMarkLine)) {
      marker.line = current_line;
      marker.column = static_cast<int>(m[2].length()) + 1;
      marker.note = m[3].str();
    }
  }
  return marker;
}

// The first line of toml11's report without its "[error] toml::fn: " lead.
std::string Headline(const std::string& report) {
  std::string first = report.substr(0, report.find('\n'));
  static const std::regex kLead(R"(^\[error\]\s*(toml::[A-Za-z_]+:\s*)?)");
  first = std::regex_replace(first, kLead, "");
  while (!first.empty() && (first.back() == '.' || first.back() == ' ')) {
    first.pop_back();
  }
  return first;
}

}  // namespace

SourceLocation LocationOf(const toml::value& v) {
  toml::source_location loc = v.location();
  if (loc.file_name() == kNoFile) return {};
  return {loc.file_name(), static_cast<int>(loc.line()),
          static_cast<int>(loc.column())};
}

std::string_view TypeName(toml::value_t type) {
  switch (type) {
    case toml::value_t::boolean: return "boolean";
    case toml::value_t::integer: return "integer";
    case toml::value_t::floating: return "float";
    case toml::value_t::string: return "string";
    case toml::value_t::offset_datetime:
    case toml::value_t::local_datetime: return "datetime";
    case toml::value_t::local_date: return "date";
    case toml::value_t::local_time: return "time";
    case toml::value_t::array: return "array";
    case toml::value_t::table: return "table";
    case toml::value_t::empty: return "nothing";
  }
  return "unknown";
}

Status TypeError(const toml::value& v, std::string_view key,
                 std::string_view expected) {
  return Status::InvalidArgument(Prefix(LocationOf(v)) + "key \"" +
                                 std::string(key) + "\": expected " +
                                 std::string(expected) + ", got " +
                                 std::string(TypeName(v.type())));
}

Status SyntaxError(const toml::exception& e, const std::string& display) {
  std::string report = e.what();
  Marker marker = LastMarker(report);
  if (marker.line == 0) {
    marker.line = static_cast<int>(e.location().line());
    marker.column = static_cast<int>(e.location().column());
  }
  std::string message = display + ":" + std::to_string(marker.line) + ":" +
                        std::to_string(marker.column) +
                        ": invalid TOML: " + Headline(report);
  while (!marker.note.empty() &&
         (marker.note.back() == '.' || marker.note.back() == ' ')) {
    marker.note.pop_back();
  }
  if (!marker.note.empty() && marker.note != "here") {
    message += " (" + marker.note + ")";
  }
  return Status::InvalidArgument(std::move(message));
}

std::vector<std::pair<std::string, const toml::value*>> SortedEntries(
    const toml::value& table) {
  std::vector<std::pair<std::string, const toml::value*>> entries;
  for (const auto& [key, value] : table.as_table()) {
    entries.emplace_back(key, &value);
  }
  auto order = [](const auto& e) {
    toml::source_location loc = e.second->location();
    return std::make_tuple(loc.line(), loc.column(), e.first);
  };
  std::sort(entries.begin(), entries.end(),
            [&](const auto& a, const auto& b) { return order(a) < order(b); });
  return entries;
}

Status Read(const toml::value& v, std::string_view key, std::string& out) {
  if (!v.is_string()) return TypeError(v, key, "string");
  out = v.as_string().str;
  return Status::Ok();
}

Status Read(const toml::value& v, std::string_view key, std::int64_t& out) {
  if (!v.is_integer()) return TypeError(v, key, "integer");
  out = v.as_integer();
  return Status::Ok();
}

Status Read(const toml::value& v, std::string_view key, bool& out) {
  if (!v.is_boolean()) return TypeError(v, key, "boolean");
  out = v.as_boolean();
  return Status::Ok();
}

Status Read(const toml::value& v, std::string_view key,
            std::vector<std::string>& out) {
  if (!v.is_array()) return TypeError(v, key, "array of strings");
  std::vector<std::string> items;
  for (const toml::value& item : v.as_array()) {
    if (!item.is_string()) return TypeError(item, key, "array of strings");
    items.push_back(item.as_string().str);
  }
  out = std::move(items);
  return Status::Ok();
}

Status Read(const toml::value& v, std::string_view key,
            std::map<std::string, std::string>& out) {
  if (!v.is_table()) return TypeError(v, key, "table of strings");
  std::map<std::string, std::string> items;
  for (const auto& [k, item] : SortedEntries(v)) {
    if (!item->is_string()) return TypeError(*item, key, "table of strings");
    items[k] = item->as_string().str;
  }
  out = std::move(items);
  return Status::Ok();
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          static const char kHex[] = "0123456789ABCDEF";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace berth::runner::toml_util
