#include "temp_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace berth::test {
namespace {

std::string TempRoot() {
  const char* tmp = std::getenv("TMPDIR");
  return (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
}

// Removes `path` and what is under it without following symlinks and without
// descending into another device (a mount point is left in place).
void RemoveTree(const std::string& path, dev_t device) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != device) {
      std::fprintf(stderr, "TempDir: leaving mount point %s in place\n",
                   path.c_str());
      return;
    }
    std::error_code ec;
    std::vector<std::string> children;
    for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
      children.push_back(entry.path().string());
    }
    for (const auto& child : children) RemoveTree(child, device);
    rmdir(path.c_str());
    return;
  }
  unlink(path.c_str());
}

}  // namespace

TempDir::TempDir(const std::string& prefix) {
  std::string pattern = TempRoot() + "/" + prefix + "XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  struct stat st;
  if (lstat(path_.c_str(), &st) == 0) RemoveTree(path_, st.st_dev);
}

std::string TempDir::Join(const std::string& relative) const {
  return path_ + "/" + relative;
}

bool WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return static_cast<bool>(out.flush());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace berth::test
