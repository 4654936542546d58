// The README's first-container lines, run as a newcomer runs them: in a folder
// that has the repository's scripts/ and build/ (symlinked), with berthd
// started as the README's first command starts it (no --config: the
// embedded default, state in ./.berth/), then the block under the README's
// "<!-- first container -->" marker run by sh -e as it stands.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "run_command.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

using namespace std::chrono_literals;

constexpr char kMarker[] = "<!-- first container -->";

// The lines of the first ```sh block after `marker`, or "" when absent.
std::string BlockAfter(const std::string& text, const std::string& marker) {
  std::istringstream in(text.substr(std::min(text.find(marker), text.size())));
  std::string line;
  std::string block;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside) {
      inside = line == "```sh";
      continue;
    }
    if (line == "```") return block;
    block += line + "\n";
  }
  return "";
}

// A berthd started with no flags in `cwd`; killed and reaped on scope exit.
class DefaultBerthd {
 public:
  explicit DefaultBerthd(const std::string& cwd) : log_(cwd + "/berthd.log") {
    const int out = open(log_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_ = SpawnProcess({"./build/bin/berthd"}, in, out, out, {.env = {}, .cwd = cwd});
    close(out);
    close(in);
  }
  ~DefaultBerthd() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    WaitForExit(pid_, 30s);
  }
  DefaultBerthd(const DefaultBerthd&) = delete;
  DefaultBerthd& operator=(const DefaultBerthd&) = delete;

  // Polls `ctr version` on the default socket until it answers (bounded).
  ::testing::AssertionResult WaitServing(const std::string& cwd) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pid_ <= 0) break;
      if (WaitForExit(pid_, 0ms).has_value()) {
        pid_ = -1;
        break;
      }
      CommandResult r = RunCommand({"ctr", "--address", ".berth/berthd.sock", "version"}, "", 10s,
                                   {.env = {}, .cwd = cwd});
      if (r.exit_code == 0) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(50ms);
    }
    return ::testing::AssertionFailure() << "berthd did not serve; log:\n" << ReadFile(log_);
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
};

TEST(Readme, FirstContainerLinesRunAsWritten) {
  if (access("/etc/berth/config.toml", F_OK) == 0) {
    GTEST_SKIP() << "/etc/berth/config.toml exists: berthd would not use its embedded default";
  }
  const std::string block =
      BlockAfter(ReadFile(std::string(BERTH_SOURCE_DIR) + "/README.md"), kMarker);
  ASSERT_FALSE(block.empty()) << "no ```sh block after " << kMarker << " in README.md";

  TempDir work("berth-readme-");
  ASSERT_EQ(
      symlink((std::string(BERTH_SOURCE_DIR) + "/scripts").c_str(), work.Join("scripts").c_str()),
      0);
  ASSERT_EQ(symlink(BERTH_BUILD_DIR, work.Join("build").c_str()), 0);

  DefaultBerthd berthd(work.path());
  ASSERT_TRUE(berthd.WaitServing(work.path()));
  CommandResult r =
      RunCommand({"sh", "-ex", "-c", block}, "", 120s, {.env = {}, .cwd = work.path()});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("hello from busybox"), std::string::npos) << r.Describe();
}

}  // namespace
}  // namespace berth::test
