// berthctl's content and namespaces verbs against a real berthd: ingest and
// get (bytes identical), ls, label, active during a partial ingest, abort,
// rm; namespaces create, ls (checked against the stock ctr), label, rm.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "berth/digest.h"
#include "berthd_process.h"
#include "fixtures.h"
#include "run_command.h"
#include "temp_dir.h"

namespace berth::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMiB = 1 << 20;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The cells of a line as tabwriter separates them with tabs (ctr's content
// tables) or blanks (its namespaces table): split at runs of `pad`.
std::vector<std::string> Cells(const std::string& line, char pad = '\t') {
  std::vector<std::string> cells;
  std::string cell;
  for (char c : line + pad) {
    if (c != pad) {
      cell += c;
    } else if (!cell.empty()) {
      cells.push_back(cell);
      cell.clear();
    }
  }
  return cells;
}

std::vector<std::vector<std::string>> Table(const std::string& text, char pad = '\t') {
  std::vector<std::vector<std::string>> rows;
  for (const auto& line : Lines(text)) rows.push_back(Cells(line, pad));
  return rows;
}

// The same table from berthctl and ctr must be the same bytes; ages taken a
// moment apart may differ, and then only the layout of equal cells is compared.
void ExpectSameTable(const std::string& own, const std::string& ctr) {
  if (Table(own) == Table(ctr)) {
    EXPECT_EQ(own, ctr);
  } else {
    EXPECT_EQ(Lines(own).size(), Lines(ctr).size()) << own << "\n" << ctr;
  }
}

// Whether the blank-padded table `text` has the row `cells`.
bool HasRow(const std::string& text, const std::vector<std::string>& cells) {
  const auto rows = Table(text, ' ');
  return std::find(rows.begin(), rows.end(), cells) != rows.end();
}


// A child process killed (SIGKILL) and reaped when the guard dies, and the
// descriptors the test keeps to it.
struct ChildGuard {
  pid_t pid = -1;
  int stdin_fd = -1;
  ~ChildGuard() {
    if (stdin_fd >= 0) close(stdin_fd);
    if (pid > 0) {
      kill(pid, SIGKILL);
      (void)WaitForExit(pid, std::chrono::seconds(30));
    }
  }
};

// One berthd shared by the tests of this suite; each test works in its own
// namespace.
class BerthctlContentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The blobs here carry no gc.root label and no lease: a scheduled
    // collection (triggered by a label change) would take them mid-test, as
    // containerd's would.
    BerthdOptions options;
    options.extra_toml = "disabled_plugins = [\"io.containerd.gc.v1.scheduler\"]\n";
    berthd_ = std::make_unique<BerthdProcess>(options);
    ASSERT_TRUE(berthd_->Start());
    ASSERT_TRUE(berthd_->WaitServing());
  }
  static void TearDownTestSuite() { berthd_.reset(); }
  void SetUp() override {
    ASSERT_NE(berthd_, nullptr);
    ASSERT_TRUE(berthd_->running()) << berthd_->Log();
    ns_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  std::vector<std::string> Argv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {BerthctlPath(), "--address", berthd_->socket(),
                                     "--namespace", ns_};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  CommandResult Run(const std::vector<std::string>& args,
                    const std::string& stdin_data = "") const {
    return RunCommand(Argv(args), stdin_data, std::chrono::seconds(120));
  }
  CommandResult Ctr(const std::vector<std::string>& args) const {
    std::vector<std::string> all = {"--namespace", ns_};
    all.insert(all.end(), args.begin(), args.end());
    return berthd_->Ctr(all);
  }
  // Ingests `data` under `ref`; the blob's digest.
  std::string Ingest(const std::string& ref, const std::string& data) {
    CommandResult run = Run({"content", "ingest", ref}, data);
    EXPECT_EQ(run.exit_code, 0) << run.Describe();
    return Sha256Of(data);
  }

  static std::unique_ptr<BerthdProcess> berthd_;
  std::string ns_;
};

std::unique_ptr<BerthdProcess> BerthctlContentTest::berthd_;

TEST_F(BerthctlContentTest, IngestThenGetReturnsTheSameBytes) {
  const std::string data = DeterministicBytes(3 * kMiB + 123, 1);
  const std::string digest = Sha256Of(data);
  CommandResult ingest = Run({"content", "ingest", "--expected-size",
                              std::to_string(data.size()), "--expected-digest", digest,
                              "--label", "a=b", "blob-1"},
                             data);
  ASSERT_EQ(ingest.exit_code, 0) << ingest.Describe();
  EXPECT_EQ(ingest.err, "");  // no progress bar when stderr is not a terminal

  CommandResult get = Run({"content", "get", digest});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_TRUE(get.out == data) << "got " << get.out.size() << " bytes";

  CommandResult ls = Run({"content", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  std::vector<std::string> lines = Lines(ls.out);
  ASSERT_EQ(lines.size(), 2u) << ls.out;
  EXPECT_EQ(Cells(lines[0]), (std::vector<std::string>{"DIGEST", "SIZE", "AGE", "LABELS"}));
  EXPECT_EQ(lines[1].rfind(digest + "\t3.146MB\t", 0), 0u) << lines[1];
  EXPECT_EQ(Cells(lines[1]).back(), "a=b") << lines[1];
  CommandResult ctr_ls = Ctr({"content", "ls"});
  ASSERT_EQ(ctr_ls.exit_code, 0) << ctr_ls.Describe();
  ExpectSameTable(ls.out, ctr_ls.out);

  CommandResult quiet = Run({"content", "ls", "-q"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.Describe();
  EXPECT_EQ(quiet.out, digest + "\n");
  EXPECT_EQ(quiet.out, Ctr({"content", "ls", "-q"}).out);

  // Ingesting the same bytes again is not an error (nothing new is stored).
  CommandResult again = Run({"content", "ingest", "--expected-digest", digest, "blob-2"}, data);
  EXPECT_EQ(again.exit_code, 0) << again.Describe();
}

TEST_F(BerthctlContentTest, IngestRejectsWrongDigestAndSize) {
  const std::string data = DeterministicBytes(kMiB / 2, 2);
  const std::string wrong = Sha256Of("something else");
  CommandResult bad_digest =
      Run({"content", "ingest", "--expected-digest", wrong, "bad-digest"}, data);
  EXPECT_EQ(bad_digest.exit_code, 1) << bad_digest.Describe();
  EXPECT_EQ(bad_digest.err.rfind("berthctl: ", 0), 0u) << bad_digest.err;
  EXPECT_TRUE(Contains(bad_digest.err, "failed precondition"));

  CommandResult bad_size = Run(
      {"content", "ingest", "--expected-size", std::to_string(data.size() + 1), "bad-size"},
      data);
  EXPECT_EQ(bad_size.exit_code, 1) << bad_size.Describe();
  EXPECT_EQ(bad_size.err.rfind("berthctl: ", 0), 0u) << bad_size.err;

  CommandResult malformed = Run({"content", "ingest", "--expected-digest", "sha256:xyz", "r"});
  EXPECT_EQ(malformed.exit_code, 1) << malformed.Describe();
  EXPECT_EQ(malformed.err.rfind("berthctl: ", 0), 0u) << malformed.err;

  CommandResult no_ref = Run({"content", "ingest"});
  EXPECT_EQ(no_ref.exit_code, 1);
  EXPECT_EQ(no_ref.err, "berthctl: must specify a transaction reference\n");

  CommandResult ls = Run({"content", "ls", "-q"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  EXPECT_EQ(ls.out, "");  // nothing was published
}

TEST_F(BerthctlContentTest, LabelSetsClearsAndShows) {
  const std::string digest = Ingest("labelled", DeterministicBytes(1000, 3));
  CommandResult set = Run({"content", "label", digest, "x=1", "y=2"});
  ASSERT_EQ(set.exit_code, 0) << set.Describe();
  EXPECT_EQ(set.out, "x=1,y=2\n");
  CommandResult clear = Run({"content", "label", digest, "x="});
  ASSERT_EQ(clear.exit_code, 0) << clear.Describe();
  EXPECT_EQ(clear.out, "y=2\n");
  CommandResult show = Run({"content", "label", digest});
  ASSERT_EQ(show.exit_code, 0) << show.Describe();
  EXPECT_EQ(show.out, "y=2\n");
  CommandResult ctr = Ctr({"content", "label", digest});
  EXPECT_EQ(ctr.out, show.out);
  CommandResult filtered = Run({"content", "ls", "-q", "labels.y==2"});
  EXPECT_EQ(filtered.out, digest + "\n");
  CommandResult none = Run({"content", "ls", "-q", "labels.x==1"});
  EXPECT_EQ(none.out, "");
  CommandResult missing = Run({"content", "label", Sha256Of("absent"), "x=1"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(Contains(missing.err, "not found"));
}

// Polls `content active` (bounded) until `ref` shows with `size`; the lines.
std::vector<std::string> WaitActive(const std::function<CommandResult()>& list,
                                    const std::string& ref, const std::string& size) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  std::vector<std::string> lines;
  while (Clock::now() < deadline) {
    lines = Lines(list().out);
    for (const auto& line : lines) {
      std::vector<std::string> cells = Cells(line);
      if (cells.size() >= 2 && cells[0] == ref && cells[1] == size) return lines;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {};
}

TEST_F(BerthctlContentTest, ActiveShowsPartialIngestUntilAborted) {
  TempDir dir("berth-ctl-active-");
  int in[2];
  ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
  const int out = open(dir.Join("out").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(out, 0);
  ChildGuard child;
  child.stdin_fd = in[1];
  child.pid = SpawnProcess(Argv({"content", "ingest", "partial"}), in[0], out, out);
  close(in[0]);
  close(out);
  ASSERT_GT(child.pid, 0);

  // 1.5 MiB: berthctl sends the first full MiB and waits for the rest.
  signal(SIGPIPE, SIG_IGN);
  const std::string data = DeterministicBytes(kMiB + kMiB / 2, 4);
  ASSERT_EQ(write(in[1], data.data(), data.size()), static_cast<ssize_t>(data.size()))
      << ReadFile(dir.Join("out"));
  auto list = [&] { return Run({"content", "active"}); };
  std::vector<std::string> lines = WaitActive(list, "partial", "1.049MB");
  ASSERT_FALSE(lines.empty()) << list().Describe() << ReadFile(dir.Join("out"));
  EXPECT_EQ(Cells(lines[0]), (std::vector<std::string>{"REF", "SIZE", "AGE"}));
  ExpectSameTable(list().out, Ctr({"content", "active"}).out);
  EXPECT_EQ(Run({"content", "active", "ref==other"}).out, "REF\tSIZE\tAGE\t\n");

  // An interrupted ingest stays listed until it is aborted.
  kill(child.pid, SIGKILL);
  ASSERT_TRUE(WaitForExit(child.pid, std::chrono::seconds(30)).has_value());
  child.pid = -1;
  ASSERT_FALSE(WaitActive(list, "partial", "1.049MB").empty());
  CommandResult abort = Run({"content", "abort", "partial"});
  ASSERT_EQ(abort.exit_code, 0) << abort.Describe();
  CommandResult after = Run({"content", "active"});
  EXPECT_EQ(Lines(after.out).size(), 1u) << after.out;
  CommandResult again = Run({"content", "abort", "partial"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.err.rfind("berthctl: ", 0), 0u) << again.err;
  EXPECT_TRUE(Contains(again.err, "not found"));
  EXPECT_EQ(Run({"content", "ls", "-q"}).out, "");
}

TEST_F(BerthctlContentTest, IngestResumesAnInterruptedIngest) {
  const std::string data = DeterministicBytes(2 * kMiB + 77, 5);
  int in[2];
  ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
  const int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  ChildGuard child;
  child.stdin_fd = in[1];
  child.pid = SpawnProcess(Argv({"content", "ingest", "resumed"}), in[0], null_fd, null_fd);
  close(in[0]);
  close(null_fd);
  ASSERT_GT(child.pid, 0);
  signal(SIGPIPE, SIG_IGN);
  ASSERT_EQ(write(in[1], data.data(), kMiB + 10), static_cast<ssize_t>(kMiB + 10));
  ASSERT_FALSE(
      WaitActive([&] { return Run({"content", "active"}); }, "resumed", "1.049MB")
          .empty());
  kill(child.pid, SIGKILL);
  ASSERT_TRUE(WaitForExit(child.pid, std::chrono::seconds(30)).has_value());
  child.pid = -1;

  // The second run skips the MiB already written and commits the whole blob.
  const std::string digest = Ingest("resumed", data);
  CommandResult get = Run({"content", "get", digest});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_TRUE(get.out == data);
  EXPECT_EQ(Lines(Run({"content", "active"}).out).size(), 1u);
}

TEST_F(BerthctlContentTest, RmDeletesAndSkipsMissing) {
  const std::string digest = Ingest("doomed", DeterministicBytes(4096, 6));
  CommandResult rm = Run({"content", "rm", digest});
  ASSERT_EQ(rm.exit_code, 0) << rm.Describe();
  EXPECT_EQ(rm.out, digest + "\n");
  CommandResult get = Run({"content", "get", digest});
  EXPECT_EQ(get.exit_code, 1);
  EXPECT_EQ(get.out, "");
  EXPECT_TRUE(Contains(get.err, "not found"));
  CommandResult again = Run({"content", "rm", digest});
  EXPECT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_EQ(again.out, "");
  CommandResult bogus = Run({"content", "rm", "bogus"});
  EXPECT_EQ(bogus.exit_code, 1);
  EXPECT_EQ(bogus.err.rfind("berthctl: could not delete bogus: ", 0), 0u) << bogus.err;
  EXPECT_EQ(Run({"content", "ls", "-q"}).out, "");
}

TEST_F(BerthctlContentTest, NamespacesCreateListLabelRemove) {
  const std::string name = "ns-" + ns_;
  CommandResult create = Run({"namespaces", "create", name, "a=b", "c=d"});
  ASSERT_EQ(create.exit_code, 0) << create.Describe();
  CommandResult dup = Run({"namespaces", "create", name});
  EXPECT_EQ(dup.exit_code, 1);
  EXPECT_TRUE(Contains(dup.err, "already exists"));

  CommandResult ls = Run({"namespaces", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  EXPECT_TRUE(HasRow(ls.out, {name, "a=b,c=d"})) << ls.out;
  EXPECT_EQ(ls.out, berthd_->Ctr({"namespaces", "ls"}).out);
  CommandResult quiet = Run({"namespaces", "ls", "-q"});
  EXPECT_EQ(quiet.out, berthd_->Ctr({"namespaces", "ls", "-q"}).out);
  std::vector<std::string> names = Lines(quiet.out);
  EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << quiet.out;

  CommandResult label = Run({"namespaces", "label", name, "a=", "e=f"});
  ASSERT_EQ(label.exit_code, 0) << label.Describe();
  const std::string relabelled = Run({"namespaces", "ls"}).out;
  EXPECT_TRUE(HasRow(relabelled, {name, "c=d,e=f"})) << relabelled;

  // A namespace holding content cannot go.
  CommandResult ingest = RunCommand(
      {BerthctlPath(), "--address", berthd_->socket(), "--namespace", name, "content",
       "ingest", "r"},
      "held");
  ASSERT_EQ(ingest.exit_code, 0) << ingest.Describe();
  CommandResult busy = Run({"namespaces", "rm", name});
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_EQ(busy.err.rfind("berthctl: unable to delete " + name + ": ", 0), 0u) << busy.err;
  CommandResult rm_blob = RunCommand({BerthctlPath(), "--address", berthd_->socket(),
                                      "--namespace", name, "content", "rm", Sha256Of("held")});
  ASSERT_EQ(rm_blob.exit_code, 0) << rm_blob.Describe();

  CommandResult rm = Run({"namespaces", "rm", name, "never-there"});
  ASSERT_EQ(rm.exit_code, 0) << rm.Describe();
  EXPECT_EQ(rm.out, name + "\nnever-there\n");
  names = Lines(Run({"namespaces", "ls", "-q"}).out);
  EXPECT_EQ(std::find(names.begin(), names.end(), name), names.end());
}

}  // namespace
}  // namespace berth::test
