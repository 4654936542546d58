#include "fixtures.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace berth::test {

namespace fs = std::filesystem;

std::string FixtureDir(const std::string& set) {
  return std::string(BERTH_BUILD_DIR) + "/tests/fixtures/" + set;
}

::testing::AssertionResult CopyLibraries(const std::string& from,
                                         const std::string& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return ::testing::AssertionFailure() << to << ": " << ec.message();
  fs::permissions(to, fs::perms(0755), ec);
  int copied = 0;
  for (const auto& entry : fs::directory_iterator(from, ec)) {
    if (entry.path().extension() != ".so") continue;
    fs::path target = fs::path(to) / entry.path().filename();
    fs::copy_file(entry.path(), target, fs::copy_options::overwrite_existing,
                  ec);
    if (ec)
      return ::testing::AssertionFailure() << target << ": " << ec.message();
    fs::permissions(target, fs::perms(0644), ec);
    ++copied;
  }
  if (ec) return ::testing::AssertionFailure() << from << ": " << ec.message();
  if (copied == 0) {
    return ::testing::AssertionFailure()
           << "no *.so in " << from << " (build berth-test-fixtures)";
  }
  return ::testing::AssertionSuccess();
}

std::string DeterministicBytes(std::size_t size, std::uint64_t seed) {
  std::string out(size, '\0');
  std::uint64_t x = 0x9E3779B97F4A7C15ULL * (seed + 1);
  for (std::size_t i = 0; i < size; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(out.data() + i, &x, std::min<std::size_t>(8, size - i));
  }
  return out;
}

}  // namespace berth::test
