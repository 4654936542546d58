#include "content_format.h"

#include <algorithm>
#include <cstdio>

#include "snapshot_format.h"

namespace berth::cli {
namespace {

constexpr std::size_t kTabWidth = 8;
constexpr std::size_t kCellPadding = 1;
constexpr std::size_t kBarWidth = 30;

// Width as tabwriter counts it: UTF-8 code points.
std::size_t TextWidth(const std::string& text) {
  std::size_t n = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string Plural(std::int64_t n, const char* unit) {
  return std::to_string(n) + " " + unit;
}

}  // namespace

std::string RenderTabColumns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    const std::size_t columns = row.empty() ? 0 : row.size() - 1;
    if (widths.size() < columns) widths.resize(columns, 1);
    for (std::size_t i = 0; i < columns; ++i) {
      widths[i] = std::max(widths[i], TextWidth(row[i]) + kCellPadding);
    }
  }
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 == row.size()) break;
      const std::size_t cell = (widths[i] + kTabWidth - 1) / kTabWidth * kTabWidth;
      const std::size_t pad = cell - TextWidth(row[i]);
      out.append((pad + kTabWidth - 1) / kTabWidth, '\t');
    }
    out += '\n';
  }
  return out;
}

std::string HumanSize(double size) {
  static const char* const kUnits[] = {"B",  "kB", "MB", "GB", "TB",
                                       "PB", "EB", "ZB", "YB"};
  std::size_t unit = 0;
  while (size >= 1000.0 && unit + 1 < std::size(kUnits)) {
    size /= 1000.0;
    ++unit;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g%s", size, kUnits[unit]);
  return buf;
}

std::string HumanDuration(std::chrono::nanoseconds age) {
  using std::chrono::duration;
  const double secs = duration<double>(age).count();
  const auto seconds = static_cast<std::int64_t>(secs);
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return Plural(seconds, "seconds");
  const auto minutes = static_cast<std::int64_t>(secs / 60);
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return Plural(minutes, "minutes");
  const auto hours = static_cast<std::int64_t>(secs / 3600 + 0.5);
  if (hours == 1) return "About an hour";
  if (hours < 48) return Plural(hours, "hours");
  if (hours < 24 * 7 * 2) return Plural(hours / 24, "days");
  if (hours < 24 * 30 * 2) return Plural(hours / 24 / 7, "weeks");
  if (hours < 24 * 365 * 2) return Plural(hours / 24 / 30, "months");
  return Plural(static_cast<std::int64_t>(secs / 3600) / 24 / 365, "years");
}

std::string JoinLabels(const std::map<std::string, std::string>& labels,
                       const std::string& empty) {
  std::vector<std::string> pairs;
  for (const auto& [k, v] : labels) pairs.push_back(k + "=" + v);
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& pair : pairs) out += (out.empty() ? "" : ",") + pair;
  return out.empty() ? empty : out;
}

std::string ProgressLine(const std::string& ref, std::int64_t done,
                         std::int64_t total, double bytes_per_second) {
  std::string line = ref + " ";
  if (total > 0) {
    const double fraction =
        std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0);
    const auto filled = static_cast<std::size_t>(fraction * kBarWidth);
    std::string bar(kBarWidth, ' ');
    std::fill_n(bar.begin(), filled, '=');
    if (filled < kBarWidth) bar[filled] = '>';
    line += "[" + bar + "] " + HumanBytes(done) + " / " + HumanBytes(total);
  } else {
    line += HumanBytes(done);
  }
  line += "  " + HumanBytes(static_cast<std::int64_t>(bytes_per_second)) + "/s";
  return line;
}

}  // namespace berth::cli
