// The text formats of `berthctl snapshots`, byte for byte as ctr prints them:
// tab-separated columns (Go's tabwriter with a minimum width of 1 and a
// padding of 1, every cell padded), indented JSON, human-readable sizes,
// the `tree` view and `mount` command lines. Thread-safe (pure functions).
#ifndef BERTH_CLI_SNAPSHOT_FORMAT_H_
#define BERTH_CLI_SNAPSHOT_FORMAT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace berth::cli {

// One snapshot as the formats need it (a plain copy of the wire Info).
struct SnapshotRow {
  std::string name;
  std::string parent;
  std::string kind;                           // "Active", "Committed", ...
  std::map<std::string, std::string> labels;  // printed in key order
  std::int64_t created_seconds = 0;
  std::int32_t created_nanos = 0;
  std::int64_t updated_seconds = 0;
  std::int32_t updated_nanos = 0;
};

struct MountRow {
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

// Rows whose every cell is padded to its column's widest cell plus one space
// (ctr's "KEY\tPARENT\tKIND\t" style, trailing blanks included).
std::string RenderPaddedColumns(const std::vector<std::vector<std::string>>& rows);

// `s` as a JSON string literal, escaped as Go's encoding/json escapes it.
std::string JsonQuote(const std::string& s);

// A UTC time as Go's time.Time marshals to JSON (RFC 3339 with the fraction
// trimmed of trailing zeros), quoted.
std::string JsonTime(std::int64_t seconds, std::int32_t nanos);

// `ctr snapshots info`: the Info as indented JSON, ending in a newline.
std::string RenderInfoJson(const SnapshotRow& row);

// `--mounts`: the mounts as indented JSON, ending in a newline.
std::string RenderMountsJson(const std::vector<MountRow>& mounts);

// "mount -t TYPE SOURCE TARGET -o OPT,OPT\n" per mount.
std::string RenderMountCommands(const std::string& target,
                                const std::vector<MountRow>& mounts);

// A size as "%02.1f UNIT" with 1024-based units: "0.0 B", "4.0 KiB".
std::string HumanBytes(std::int64_t size);

// `ctr snapshots tree`: parent-less snapshots at the left, each child two
// spaces further in behind "\_"; parents not listed appear as placeholders.
// Rows are taken in the order given (Walk order).
std::string RenderTree(const std::vector<SnapshotRow>& rows);

// "k=v" → {k, v}; a word without '=' → {word, "true"} (ctr's label args).
std::map<std::string, std::string> ParseLabelArgs(const std::vector<std::string>& words);

}  // namespace berth::cli

#endif  // BERTH_CLI_SNAPSHOT_FORMAT_H_
