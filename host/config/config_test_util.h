// Test helpers for the config tests: a temporary folder removed on
// destruction (even when a test fails), and warning lookup.
#ifndef BERTH_HOST_CONFIG_CONFIG_TEST_UTIL_H_
#define BERTH_HOST_CONFIG_CONFIG_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "config/config.h"

namespace berth::host::testing_util {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "berth-config-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `text` to <dir>/<rel>, making folders; returns the full path.
  std::string Write(const std::string& rel, const std::string& text) const {
    std::filesystem::path p = path_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

// The first warning whose message contains `text`, or nullptr.
inline const ConfigWarning* FindWarning(const std::vector<ConfigWarning>& ws,
                                        const std::string& text) {
  for (const ConfigWarning& w : ws) {
    if (w.message.find(text) != std::string::npos) return &w;
  }
  return nullptr;
}

}  // namespace berth::host::testing_util

#endif  // BERTH_HOST_CONFIG_CONFIG_TEST_UTIL_H_
