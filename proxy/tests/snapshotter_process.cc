#include "snapshotter_process.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <thread>
#include <utility>
#include <vector>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "run_command.h"

namespace berth::test {
namespace {

namespace pb = containerd::services::snapshots::v1;

// Any answer to a Stat proves the snapshotter serves (NotFound included).
bool AnswersSnapshots(const std::string& socket) {
  auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  auto stub = pb::Snapshots::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  pb::StatSnapshotRequest req;
  req.set_key("probe");
  pb::StatSnapshotResponse resp;
  grpc::Status s = stub->Stat(&ctx, req, &resp);
  return s.ok() || s.error_code() == grpc::StatusCode::NOT_FOUND;
}

}  // namespace

std::string BerthSnapshotterPath() { return std::string(BERTH_BIN_DIR) + "/berth-snapshotter"; }

std::string RemoteOverlayFixturePath() { return BERTH_REMOTE_OVERLAY_FIXTURE; }

SnapshotterProcess::SnapshotterProcess(std::string plugin)
    : plugin_(std::move(plugin)), dir_(std::make_unique<TempDir>("berth-snap-")) {
  socket_ = dir_->Join("snapshotter.sock");
  root_ = dir_->Join("root");
  log_path_ = dir_->Join("snapshotter.log");
}

SnapshotterProcess::~SnapshotterProcess() { Kill(); }

::testing::AssertionResult SnapshotterProcess::Start() {
  if (running()) return ::testing::AssertionFailure() << "already running";
  std::vector<std::string> argv = {
      BerthSnapshotterPath(), "--plugin", plugin_, "--root", root_, "--address", socket_};
  int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd >= 0 && null_fd >= 0) pid_ = SpawnProcess(argv, null_fd, log_fd, log_fd);
  if (log_fd >= 0) close(log_fd);
  if (null_fd >= 0) close(null_fd);
  if (pid_ < 0) return ::testing::AssertionFailure() << "cannot start " << argv[0];
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult SnapshotterProcess::WaitServing(std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return ::testing::AssertionFailure() << "not running; log:\n" << Log();
    if (std::optional<int> code = WaitForExit(pid_, std::chrono::milliseconds(0))) {
      pid_ = -1;
      return ::testing::AssertionFailure()
             << "berth-snapshotter exited with " << *code << "; log:\n"
             << Log();
    }
    if (access(socket_.c_str(), F_OK) == 0 && AnswersSnapshots(socket_)) {
      return ::testing::AssertionSuccess();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ::testing::AssertionFailure() << "not serving on " << socket_ << "; log:\n" << Log();
}

::testing::AssertionResult SnapshotterProcess::Run() {
  auto started = Start();
  if (!started) return started;
  return WaitServing();
}

void SnapshotterProcess::Kill() {
  if (!running()) return;
  kill(pid_, SIGKILL);
  if (!WaitForExit(pid_, std::chrono::seconds(30))) {
    ADD_FAILURE() << "berth-snapshotter " << pid_ << " survived SIGKILL";
  }
  pid_ = -1;
}

void SnapshotterProcess::Signal(int signal) {
  if (running()) kill(pid_, signal);
}

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace berth::test
