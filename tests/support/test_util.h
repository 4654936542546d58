// Helpers every unit test of berth's plugin machinery shares (the runner's
// and the host's): a temporary folder removed on scope exit, fixture paths
// (tests/fixtures' plugins, through BERTH_TEST_FIXTURE_DIR), and capture of
// the process log into a file.
// Not thread-safe; tests only.
#ifndef BERTH_TESTS_SUPPORT_TEST_UTIL_H_
#define BERTH_TESTS_SUPPORT_TEST_UTIL_H_

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "berth/runner/log.h"

namespace berth::test_support {

inline std::string FixturePath(const std::string& rel) {
  return std::string(BERTH_TEST_FIXTURE_DIR) + "/" + rel;
}

// A fresh 0700 folder under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/berth-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  bool ok() const { return !path_.empty(); }

 private:
  std::string path_;
};

// Sends the process log to a file for the scope; back to stderr afterwards.
class LogCapture {
 public:
  explicit LogCapture(const TempDir& dir) : path_(dir.path() + "/log.txt") {
    ok_ = log::SetOutputFile(path_).ok();
  }
  ~LogCapture() { (void)log::SetOutputFile(""); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  bool ok() const { return ok_; }
  std::string Text() const {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string path_;
  bool ok_ = false;
};

}  // namespace berth::test_support

namespace berth::runner::testing {
using test_support::FixturePath;
using test_support::LogCapture;
using test_support::TempDir;
}  // namespace berth::runner::testing

namespace berth::host::testing {
using test_support::FixturePath;
using test_support::LogCapture;
using test_support::TempDir;
}  // namespace berth::host::testing

#endif  // BERTH_TESTS_SUPPORT_TEST_UTIL_H_
