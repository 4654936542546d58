// What the tests against one real berthd share: a fixture that starts it and
// checks the commands run against it, gRPC clients of its socket, and
// `ctr events` (or `berthctl events`) watching it.
//
// Not thread-safe; each object is owned by one test.
#ifndef BERTH_TESTS_HARNESS_DAEMON_TEST_H_
#define BERTH_TESTS_HARNESS_DAEMON_TEST_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "berthd_process.h"
#include "run_command.h"

namespace berth::test {

// Config TOML that disables the gc scheduler: collections run only when a
// test asks, so that what they free is exact.
inline constexpr char kNoCollectionToml[] =
    "disabled_plugins = [\"io.containerd.gc.v1.scheduler\"]\n";

// The non-empty lines of `text`.
std::vector<std::string> OutputLines(const std::string& text);

// A channel to `berthd`'s gRPC socket.
std::shared_ptr<grpc::Channel> ChannelTo(const BerthdProcess& berthd);
// A client context for namespace `ns` ("" = none), with a 60 s deadline.
std::unique_ptr<grpc::ClientContext> NamespaceContext(const std::string& ns = "default");

// A berthd started and serving before each test (SetUp), and checks on the
// commands run against it.
class DaemonTest : public ::testing::Test {
 protected:
  explicit DaemonTest(BerthdOptions options = {}) : berthd_(std::move(options)) {}
  void SetUp() override {
    ASSERT_TRUE(berthd_.Start());
    ASSERT_TRUE(berthd_.WaitServing());
  }

  // A command that must succeed (else the test fails with berthd's log);
  // returns its stdout.
  std::string Ok(const CommandResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.Describe() << "\n" << berthd_.Log();
    return r.out;
  }
  // `ctr args...` (fed `stdin_data`), which must succeed; its stdout.
  std::string Ctr(const std::vector<std::string>& args, const std::string& stdin_data = "") {
    return Ok(berthd_.Ctr(args, stdin_data));
  }
  // A command that must fail; returns its stderr.
  std::string Fails(const CommandResult& r) {
    EXPECT_NE(r.exit_code, 0) << r.Describe();
    return r.err;
  }

  BerthdProcess berthd_;
};

// `ctr events [filters]` (or `berthctl events`, `client` = BerthctlPath())
// running against a berthd, its output in a file of the berthd's folder.
// The destructor kills and reaps it. `berthd` must outlive it.
class CtrEvents {
 public:
  CtrEvents(const BerthdProcess& berthd, const std::vector<std::string>& filters = {},
            const std::string& client = kCtr);
  ~CtrEvents();
  CtrEvents(const CtrEvents&) = delete;
  CtrEvents& operator=(const CtrEvents&) = delete;

  bool started() const { return pid_ > 0; }
  std::string Output() const { return ReadFile(out_path_); }
  // Polls (bounded) until the output holds `needle`.
  bool WaitFor(const std::string& needle, std::chrono::milliseconds bound = 30s) const;
  // WaitFor as an assertion: on failure, says what was awaited and the output.
  ::testing::AssertionResult Shows(const std::string& needle,
                                   std::chrono::milliseconds bound = 30s) const;
  // Creates throw-away namespaces ("probe-<n>") until the output shows one:
  // from then on the subscription is in place and nothing later is missed.
  // Fails when a create fails or nothing shows, with the output and berthd's
  // log.
  ::testing::AssertionResult WaitSubscribed() const;

 private:
  const BerthdProcess& berthd_;
  std::string out_path_;
  pid_t pid_ = -1;
};

}  // namespace berth::test

#endif  // BERTH_TESTS_HARNESS_DAEMON_TEST_H_
