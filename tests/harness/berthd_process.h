// BerthdProcess: one berthd under test, on its own temporary root, state and
// socket, configured by a config.toml the harness writes.
//
// The config sets only top-level keys (root, state, plugin_dir, and grpc and
// debug as inline tables), so a test's extra TOML (top-level keys first, then
// [tables]) can simply be appended. berthd's stdout and stderr go to a log
// file in the temporary folder; failures of WaitServing carry its content.
// The destructor always kills and reaps the process, then removes the folder.
//
// Not thread-safe; owned by one test.
#ifndef BERTH_TESTS_HARNESS_BERTHD_PROCESS_H_
#define BERTH_TESTS_HARNESS_BERTHD_PROCESS_H_

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "run_command.h"
#include "temp_dir.h"

namespace berth::test {

using std::chrono_literals::operator""s;
using std::chrono_literals::operator""ms;

// The built binaries, and the stock client from PATH.
std::string BerthdPath();
std::string BerthctlPath();
inline constexpr char kCtr[] = "ctr";

struct BerthdOptions {
  std::string plugin_dir;               // "" = berthd's default
  std::string extra_toml;               // appended to config.toml
  std::vector<std::string> extra_args;  // after `--config FILE`
  std::vector<std::string> env;         // "NAME=value"
};

class BerthdProcess {
 public:
  explicit BerthdProcess(BerthdOptions options = {});
  // A second daemon on `first`'s config (same root, state and socket), with
  // its own log.
  static BerthdProcess SharingConfigOf(const BerthdProcess& first);
  ~BerthdProcess();
  BerthdProcess(const BerthdProcess&) = delete;
  BerthdProcess& operator=(const BerthdProcess&) = delete;

  // Starts `berthd --config FILE ...`; may be called again after it exited.
  ::testing::AssertionResult Start();
  // Polls (bounded) until berthd answers a gRPC call on its socket. Fails
  // with the log when berthd exits first or the bound passes.
  ::testing::AssertionResult WaitServing(std::chrono::milliseconds bound = 30s);
  // Waits for berthd to exit by itself; its exit code, or nullopt.
  std::optional<int> WaitExit(std::chrono::milliseconds bound = 30s);
  // SIGTERM, then waits up to `bound`; SIGKILL if it is still running.
  // Returns the exit code (128 + signal when signalled, -1 if not running).
  int Stop(std::chrono::milliseconds bound = 30s);
  // SIGKILL and reap.
  void Kill();
  // Sends `signal` without waiting.
  void Signal(int signal);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // `ctr --address SOCK args...` and `berthctl --address SOCK args...`, fed
  // `stdin_data`.
  CommandResult Ctr(const std::vector<std::string>& args,
                    const std::string& stdin_data = "") const;
  CommandResult Berthctl(const std::vector<std::string>& args,
                         const std::string& stdin_data = "") const;

  std::string Log() const { return ReadFile(log_path_); }
  const std::string& config_path() const { return config_path_; }
  const std::string& socket() const { return socket_; }
  const std::string& root() const { return root_; }
  const std::string& state() const { return state_; }
  const TempDir& dir() const { return *dir_; }

 private:
  BerthdProcess(BerthdOptions options, const BerthdProcess* config_owner);
  void WriteConfig();

  BerthdOptions options_;
  std::unique_ptr<TempDir> dir_;
  std::string config_path_;
  std::string log_path_;
  std::string root_;
  std::string state_;
  std::string socket_;
  pid_t pid_ = -1;
};

// `ctr plugins ls` / `berthctl plugins ls` output as "<type>.<id>" → status.
std::map<std::string, std::string> ParsePluginTable(const std::string& out);

// Whether `text` contains `needle`, with both in the failure message.
::testing::AssertionResult Contains(const std::string& text,
                                    const std::string& needle);

}  // namespace berth::test

#endif  // BERTH_TESTS_HARNESS_BERTHD_PROCESS_H_
