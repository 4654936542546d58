// TempDir: a fresh folder under $TMPDIR (or /tmp), removed with everything in
// it when the object dies. Removal never follows symlinks and never crosses
// into another file system (a test that mounts something must unmount it
// first; a mount left behind is reported, not deleted through).
//
// Not thread-safe; owned by one test.
#ifndef BERTH_TESTS_HARNESS_TEMP_DIR_H_
#define BERTH_TESTS_HARNESS_TEMP_DIR_H_

#include <string>

namespace berth::test {

class TempDir {
 public:
  // Creates "<tmp>/<prefix>XXXXXX" (mode 0700). Aborts the test binary if the
  // folder cannot be made: nothing else can go on without it.
  explicit TempDir(const std::string& prefix = "berth-test-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // "<path>/<relative>".
  std::string Join(const std::string& relative) const;

 private:
  std::string path_;
};

// Writes `content` to `path` (created or truncated). False on failure.
bool WriteFile(const std::string& path, const std::string& content);
// The whole file, or "" when it cannot be read.
std::string ReadFile(const std::string& path);

}  // namespace berth::test

#endif  // BERTH_TESTS_HARNESS_TEMP_DIR_H_
