#include "snapshot_format.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <functional>

namespace berth::cli {
namespace {

constexpr char kIndent[] = "    ";

// Length of the UTF-8 sequence starting at s[i], or 0 when it is invalid.
std::size_t Utf8Length(const std::string& s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

void AppendEscaped(unsigned char c, std::string& out) {
  switch (c) {
    case '"': out += "\\\""; return;
    case '\\': out += "\\\\"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    default: break;
  }
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\u%04x", c);
  out += buf;
}

std::string JsonStringList(const std::vector<std::string>& items,
                           const std::string& indent) {
  if (items.empty()) return "null";
  std::string out = "[\n";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += indent + kIndent + JsonQuote(items[i]);
    out += i + 1 < items.size() ? ",\n" : "\n";
  }
  return out + indent + "]";
}

}  // namespace

std::string RenderPaddedColumns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size() + 1);
    }
  }
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      out.append(widths[i] - row[i].size(), ' ');
    }
    out += '\n';
  }
  return out;
}

std::string JsonQuote(const std::string& s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == '"' || c == '\\') {
      AppendEscaped(c, out);
      ++i;
    } else if (c == '<' || c == '>' || c == '&') {
      AppendEscaped(c, out);  // Go escapes these for HTML safety
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else if (std::size_t n = Utf8Length(s, i); n == 0) {
      out += "\\ufffd";
      ++i;
    } else {
      const std::string seq = s.substr(i, n);
      if (seq == "\xE2\x80\xA8") {
        out += "\\u2028";
      } else if (seq == "\xE2\x80\xA9") {
        out += "\\u2029";
      } else {
        out += seq;
      }
      i += n;
    }
  }
  return out + "\"";
}

std::string JsonTime(std::int64_t seconds, std::int32_t nanos) {
  const time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = buf;
  if (nanos > 0) {
    std::snprintf(buf, sizeof buf, ".%09d", nanos);
    std::string fraction = buf;
    while (fraction.back() == '0') fraction.pop_back();
    out += fraction;
  }
  return "\"" + out + "Z\"";
}

std::string RenderInfoJson(const SnapshotRow& row) {
  std::string out = "{\n";
  out += std::string(kIndent) + "\"Kind\": " + JsonQuote(row.kind) + ",\n";
  out += std::string(kIndent) + "\"Name\": " + JsonQuote(row.name) + ",\n";
  if (!row.parent.empty()) {
    out += std::string(kIndent) + "\"Parent\": " + JsonQuote(row.parent) + ",\n";
  }
  if (!row.labels.empty()) {
    out += std::string(kIndent) + "\"Labels\": {\n";
    std::size_t i = 0;
    for (const auto& [k, v] : row.labels) {
      out += std::string(kIndent) + kIndent + JsonQuote(k) + ": " + JsonQuote(v);
      out += ++i < row.labels.size() ? ",\n" : "\n";
    }
    out += std::string(kIndent) + "},\n";
  }
  out += std::string(kIndent) + "\"Created\": " +
         JsonTime(row.created_seconds, row.created_nanos) + ",\n";
  out += std::string(kIndent) + "\"Updated\": " +
         JsonTime(row.updated_seconds, row.updated_nanos) + "\n";
  return out + "}\n";
}

std::string RenderMountsJson(const std::vector<MountRow>& mounts) {
  if (mounts.empty()) return "null\n";
  const std::string in1 = kIndent;
  const std::string in2 = in1 + kIndent;
  std::string out = "[\n";
  for (std::size_t i = 0; i < mounts.size(); ++i) {
    const MountRow& m = mounts[i];
    out += in1 + "{\n";
    out += in2 + "\"Type\": " + JsonQuote(m.type) + ",\n";
    out += in2 + "\"Source\": " + JsonQuote(m.source) + ",\n";
    out += in2 + "\"Options\": " + JsonStringList(m.options, in2) + "\n";
    out += in1 + (i + 1 < mounts.size() ? "},\n" : "}\n");
  }
  return out + "]\n";
}

std::string RenderMountCommands(const std::string& target,
                                const std::vector<MountRow>& mounts) {
  std::string out;
  for (const MountRow& m : mounts) {
    std::string options;
    for (const auto& o : m.options) options += (options.empty() ? "" : ",") + o;
    out += "mount -t " + m.type + " " + m.source + " " + target + " -o " + options + "\n";
  }
  return out;
}

std::string HumanBytes(std::int64_t size) {
  static const char* const kUnits[] = {"B",   "KiB", "MiB", "GiB", "TiB",
                                       "PiB", "EiB", "ZiB", "YiB"};
  double value = static_cast<double>(size);
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02.1f %s", value, kUnits[unit]);
  return buf;
}

std::string RenderTree(const std::vector<SnapshotRow>& rows) {
  struct Node {
    std::string name;
    std::string parent;
    std::vector<std::string> children;
  };
  std::vector<std::string> order;
  std::map<std::string, Node> nodes;
  std::function<void(const std::string&, const std::string&)> add =
      [&](const std::string& name, const std::string& parent) {
        auto [it, fresh] = nodes.try_emplace(name, Node{name, parent, {}});
        if (fresh) {
          order.push_back(name);
        } else {
          it->second.parent = parent;  // a placeholder gets its real parent
        }
        if (parent.empty()) return;
        if (!nodes.count(parent)) add(parent, "");
        nodes[parent].children.push_back(name);
      };
  for (const auto& row : rows) add(row.name, row.parent);

  std::string out;
  std::function<void(const std::string&, int)> print = [&](const std::string& name,
                                                           int level) {
    std::string prefix(static_cast<std::size_t>(level) * 2, ' ');
    if (level > 0) prefix += "\\_";
    out += prefix + " " + name + "\n";
    for (const auto& child : nodes[name].children) print(child, level + 1);
  };
  for (const auto& name : order) {
    if (nodes[name].parent.empty()) print(name, 0);
  }
  return out;
}

std::map<std::string, std::string> ParseLabelArgs(const std::vector<std::string>& words) {
  std::map<std::string, std::string> labels;
  for (const auto& word : words) {
    const auto eq = word.find('=');
    if (eq == std::string::npos) {
      labels[word] = "true";
    } else {
      labels[word.substr(0, eq)] = word.substr(eq + 1);
    }
  }
  return labels;
}

}  // namespace berth::cli
