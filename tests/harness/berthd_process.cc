#include "berthd_process.h"

#include <fcntl.h>
#include <google/protobuf/empty.pb.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>
#include <thread>

#include "containerd/services/version/v1/version.grpc.pb.h"

namespace berth::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string TomlString(const std::string& value) {
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// One Version call on a fresh channel. Any answer from the server — even
// Unimplemented — proves it is serving.
bool AnswersGrpc(const std::string& socket) {
  auto channel =
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  auto stub = containerd::services::version::v1::Version::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 2s);
  google::protobuf::Empty request;
  containerd::services::version::v1::VersionResponse reply;
  grpc::Status status = stub->Version(&context, request, &reply);
  return status.ok() || status.error_code() == grpc::StatusCode::UNIMPLEMENTED;
}

}  // namespace

std::string BerthdPath() { return std::string(BERTH_BIN_DIR) + "/berthd"; }
std::string BerthctlPath() { return std::string(BERTH_BIN_DIR) + "/berthctl"; }

BerthdProcess::BerthdProcess(BerthdOptions options)
    : BerthdProcess(std::move(options), nullptr) {}

BerthdProcess BerthdProcess::SharingConfigOf(const BerthdProcess& first) {
  return BerthdProcess(first.options_, &first);
}

BerthdProcess::BerthdProcess(BerthdOptions options,
                             const BerthdProcess* config_owner)
    : options_(std::move(options)),
      dir_(std::make_unique<TempDir>("berth-it-")) {
  log_path_ = dir_->Join("berthd.log");
  if (config_owner != nullptr) {
    config_path_ = config_owner->config_path_;
    root_ = config_owner->root_;
    state_ = config_owner->state_;
    socket_ = config_owner->socket_;
    return;
  }
  config_path_ = dir_->Join("config.toml");
  root_ = dir_->Join("root");
  state_ = dir_->Join("state");
  socket_ = dir_->Join("berthd.sock");
  WriteConfig();
}

BerthdProcess::~BerthdProcess() { Kill(); }

void BerthdProcess::WriteConfig() {
  std::ostringstream config;
  config << "version = 2\n"
         << "root = " << TomlString(root_) << "\n"
         << "state = " << TomlString(state_) << "\n";
  if (!options_.plugin_dir.empty()) {
    config << "plugin_dir = " << TomlString(options_.plugin_dir) << "\n";
  }
  config << "grpc = { address = " << TomlString(socket_) << " }\n"
         << "debug = { level = \"debug\" }\n"
         << options_.extra_toml << "\n";
  if (!WriteFile(config_path_, config.str())) {
    ADD_FAILURE() << "cannot write " << config_path_;
  }
}

::testing::AssertionResult BerthdProcess::Start() {
  if (running()) return ::testing::AssertionFailure() << "already running";
  std::vector<std::string> argv = {BerthdPath(), "--config", config_path_};
  argv.insert(argv.end(), options_.extra_args.begin(),
              options_.extra_args.end());
  int log_fd =
      open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    if (log_fd >= 0) close(log_fd);
    if (null_fd >= 0) close(null_fd);
    return ::testing::AssertionFailure() << "cannot open " << log_path_;
  }
  ProcessOptions process;
  process.env = options_.env;
  process.cwd = dir_->path();
  pid_ = SpawnProcess(argv, null_fd, log_fd, log_fd, process);
  close(log_fd);
  close(null_fd);
  if (pid_ < 0) return ::testing::AssertionFailure() << "fork failed";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult BerthdProcess::WaitServing(
    std::chrono::milliseconds bound) {
  const auto deadline = Clock::now() + bound;
  while (Clock::now() < deadline) {
    if (!running()) {
      return ::testing::AssertionFailure() << "berthd is not running; log:\n"
                                           << Log();
    }
    if (std::optional<int> code = WaitExit(0ms)) {
      return ::testing::AssertionFailure()
             << "berthd exited with " << *code << " before serving; log:\n"
             << Log();
    }
    if (PathExists(socket_) && AnswersGrpc(socket_)) {
      return ::testing::AssertionSuccess();
    }
    std::this_thread::sleep_for(20ms);
  }
  return ::testing::AssertionFailure()
         << "berthd did not serve on " << socket_ << " within " << bound.count()
         << "ms; log:\n"
         << Log();
}

std::optional<int> BerthdProcess::WaitExit(std::chrono::milliseconds bound) {
  if (!running()) return std::nullopt;
  std::optional<int> code = WaitForExit(pid_, bound);
  if (code) pid_ = -1;
  return code;
}

int BerthdProcess::Stop(std::chrono::milliseconds bound) {
  if (!running()) return -1;
  kill(pid_, SIGTERM);
  if (std::optional<int> code = WaitExit(bound)) return *code;
  ADD_FAILURE() << "berthd ignored SIGTERM for " << bound.count()
                << "ms; killing it. log:\n"
                << Log();
  kill(pid_, SIGKILL);
  return WaitExit(30s).value_or(-1);
}

void BerthdProcess::Kill() {
  if (!running()) return;
  kill(pid_, SIGKILL);
  if (!WaitExit(30s)) ADD_FAILURE() << "berthd " << pid_ << " survived SIGKILL";
}

void BerthdProcess::Signal(int signal) {
  if (running()) kill(pid_, signal);
}

CommandResult BerthdProcess::Ctr(const std::vector<std::string>& args,
                                const std::string& stdin_data) const {
  std::vector<std::string> argv = {kCtr, "--address", socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, stdin_data, 60s);
}

CommandResult BerthdProcess::Berthctl(const std::vector<std::string>& args,
                                     const std::string& stdin_data) const {
  std::vector<std::string> argv = {BerthctlPath(), "--address", socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, stdin_data, 60s);
}

std::map<std::string, std::string> ParsePluginTable(const std::string& out) {
  std::map<std::string, std::string> statuses;
  std::istringstream lines(out);
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string type, id, platforms, status;
    if (words >> type >> id >> platforms >> status) {
      statuses[type + "." + id] = status;
    }
  }
  return statuses;
}

::testing::AssertionResult Contains(const std::string& text,
                                    const std::string& needle) {
  if (text.find(needle) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "expected to find \"" << needle << "\" in:\n"
         << text;
}

}  // namespace berth::test
