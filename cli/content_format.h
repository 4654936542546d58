// The text formats of `berthctl content` and `berthctl namespaces`, as ctr
// prints them: Go's tabwriter with tab padding (minimum width 1, tab width 8,
// padding 1), go-units' decimal sizes ("1.074GB") and rough ages ("2
// minutes"), and the one-line progress bar of `content ingest`.
// Thread-safe (pure functions).
#ifndef BERTH_CLI_CONTENT_FORMAT_H_
#define BERTH_CLI_CONTENT_FORMAT_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace berth::cli {

// Rows laid out as Go's tabwriter lays out "a\tb\tc\n" with '\t' as the pad
// character: every cell of a row but its last is a column cell, padded with
// tabs to its column's widest cell plus one, rounded up to a tab stop (8);
// the last cell is printed as it is. A row ending in "\t" is given with an
// empty last cell.
std::string RenderTabColumns(const std::vector<std::vector<std::string>>& rows);

// go-units HumanSize: a decimal size with 4 significant digits and no space,
// "0B", "512B", "4.096kB", "1.074GB".
std::string HumanSize(double size);

// go-units HumanDuration: "Less than a second", "1 second", "12 seconds",
// "About a minute", "5 minutes", "About an hour", "3 hours", "4 days", ...
std::string HumanDuration(std::chrono::nanoseconds age);

// Labels as "k=v,k=v", the "k=v" strings sorted (as ctr sorts them);
// `empty` when there are none.
std::string JoinLabels(const std::map<std::string, std::string>& labels,
                       const std::string& empty);

// One redraw of the ingest progress bar, without line control characters:
//   "REF [=========>          ] 12.0 MiB / 48.0 MiB  95.4 MiB/s"
// `total` <= 0 (unknown) leaves out the bar and the total.
std::string ProgressLine(const std::string& ref, std::int64_t done,
                         std::int64_t total, double bytes_per_second);

}  // namespace berth::cli

#endif  // BERTH_CLI_CONTENT_FORMAT_H_
