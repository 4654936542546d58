#include "daemon_test.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <sstream>
#include <thread>

namespace berth::test {

std::vector<std::string> OutputLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::shared_ptr<grpc::Channel> ChannelTo(const BerthdProcess& berthd) {
  return grpc::CreateChannel("unix://" + berthd.socket(), grpc::InsecureChannelCredentials());
}

std::unique_ptr<grpc::ClientContext> NamespaceContext(const std::string& ns) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!ns.empty()) ctx->AddMetadata("containerd-namespace", ns);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return ctx;
}

namespace {
// Names each watcher's output file and each probe namespace apart.
int watchers = 0;
int probes = 0;
}  // namespace

CtrEvents::CtrEvents(const BerthdProcess& berthd, const std::vector<std::string>& filters,
                     const std::string& client)
    : berthd_(berthd),
      out_path_(berthd.dir().path() + "/ctr-events-" + std::to_string(++watchers) + ".out") {
  int fd = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  std::vector<std::string> argv = {client, "--address", berthd.socket(), "events"};
  argv.insert(argv.end(), filters.begin(), filters.end());
  pid_ = SpawnProcess(argv, null_fd, fd, fd);
  ::close(fd);
  ::close(null_fd);
}

CtrEvents::~CtrEvents() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    WaitForExit(pid_, 10s);
  }
}

bool CtrEvents::WaitFor(const std::string& needle, std::chrono::milliseconds bound) const {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Output().find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return Output().find(needle) != std::string::npos;
}

::testing::AssertionResult CtrEvents::Shows(const std::string& needle,
                                            std::chrono::milliseconds bound) const {
  if (WaitFor(needle, bound)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "no " << needle << " in:\n" << Output();
}

::testing::AssertionResult CtrEvents::WaitSubscribed() const {
  for (int i = 0; i < 100; ++i) {
    const std::string probe = "probe-" + std::to_string(probes++);
    CommandResult r = berthd_.Ctr({"namespaces", "create", probe});
    if (r.exit_code != 0) return ::testing::AssertionFailure() << r.Describe();
    if (WaitFor("/namespaces/create", 300ms)) return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "ctr events showed nothing: " << Output()
                                       << "\nberthd log:\n"
                                       << berthd_.Log();
}

}  // namespace berth::test
