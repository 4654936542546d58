#include "server/thread_dump.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace berth::host {
namespace {

// The first line of a /proc file, or "" when it cannot be read.
std::string FirstLine(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  return line;
}

// The value of "State:" in a status file: "S (sleeping)".
std::string StateOf(const std::filesystem::path& status) {
  std::ifstream in(status);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("State:", 0) == 0) {
      std::size_t start = line.find_first_not_of(" \t", 6);
      return start == std::string::npos ? "" : line.substr(start);
    }
  }
  return "";
}

// The syscall number (or "running"/"-1") from /proc/.../syscall.
std::string SyscallOf(const std::filesystem::path& path) {
  std::string line = FirstLine(path);
  return line.substr(0, line.find(' '));
}

}  // namespace

std::string DumpThreads() {
  std::vector<long> tids;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task", ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
          return c >= '0' && c <= '9';
        })) {
      tids.push_back(std::stol(name));
    }
  }
  std::sort(tids.begin(), tids.end());

  std::ostringstream out;
  out << "=== BEGIN thread dump ===\n";
  for (long tid : tids) {
    std::filesystem::path dir =
        std::filesystem::path("/proc/self/task") / std::to_string(tid);
    std::string state = StateOf(dir / "status");
    if (state.empty()) continue;  // the thread has gone
    std::string wchan = FirstLine(dir / "wchan");
    std::string syscall = SyscallOf(dir / "syscall");
    out << "thread " << tid << " (" << FirstLine(dir / "comm") << ") state=\""
        << state << "\" wchan=" << (wchan.empty() || wchan == "0" ? "-" : wchan)
        << " syscall=" << (syscall.empty() ? "-" : syscall) << "\n";
  }
  out << "=== END thread dump ===";
  return out.str();
}

}  // namespace berth::host
