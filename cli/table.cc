#include "table.h"

#include <algorithm>

namespace berth::cli {
namespace {

constexpr std::size_t kMinCellWidth = 4;
constexpr std::size_t kPadding = 4;

std::vector<std::size_t> ColumnWidths(
    const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  for (auto& width : widths) width = std::max(width + kPadding, kMinCellWidth);
  return widths;
}

void TrimTrailingBlanks(std::string& line) {
  while (!line.empty() && line.back() == ' ') line.pop_back();
}

}  // namespace

void Table::AddRow(std::vector<std::string> cells) {
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  const std::vector<std::size_t> widths = ColumnWidths(rows_);
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size(), ' ');
    }
    TrimTrailingBlanks(line);
    out += line + "\n";
  }
  return out;
}

}  // namespace berth::cli
