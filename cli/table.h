// Table: left-aligned columns as ctr prints them (Go's tabwriter with a
// minimum cell width of 4 and a padding of 4). Not thread-safe.
#ifndef BERTH_CLI_TABLE_H_
#define BERTH_CLI_TABLE_H_

#include <string>
#include <vector>

namespace berth::cli {

class Table {
 public:
  void AddRow(std::vector<std::string> cells);
  // Every cell but a row's last is padded to its column's widest cell plus
  // the padding; lines carry no trailing blanks.
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace berth::cli

#endif  // BERTH_CLI_TABLE_H_
