#include "task_process.h"

#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cctype>
#include <chrono>

namespace berth::cli {
namespace {

// How long the output may take to drain after the process exits (the shim
// closes its ends right after copying what the process wrote).
constexpr auto kDrainBound = std::chrono::seconds(10);

}  // namespace

std::unique_ptr<grpc::ClientContext> UnboundedContext(const Client& client) {
  auto context = client.NewCallContext();
  context->set_deadline(std::chrono::system_clock::time_point::max());
  return context;
}

int StartAndWait(Client& client, tasks_pb::Tasks::Stub& tasks, const std::string& id,
                 const std::string& exec_id, TaskIo& io, std::uint32_t* exit_status) {
  auto resize = [&client, &tasks, id, exec_id](unsigned width, unsigned height) {
    tasks_pb::ResizePtyRequest req;
    req.set_container_id(id);
    req.set_exec_id(exec_id);
    req.set_width(width);
    req.set_height(height);
    google::protobuf::Empty resp;
    auto ctx = client.NewCallContext();
    (void)tasks.ResizePty(ctx.get(), req, &resp);
  };
  // An init process has its terminal from Create on: sized before it runs.
  // An exec's comes with Start, so the watcher's first size is its first.
  if (io.terminal() && exec_id.empty()) {
    struct winsize ws {};
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) resize(ws.ws_col, ws.ws_row);
  }
  {
    tasks_pb::StartRequest req;
    req.set_container_id(id);
    req.set_exec_id(exec_id);
    tasks_pb::StartResponse resp;
    auto ctx = client.NewCallContext();
    grpc::Status s = tasks.Start(ctx.get(), req, &resp);
    if (!s.ok()) return ReportCallError(client, s);
  }
  io.ReleaseHold();
  io.StartInput([&client, &tasks, id, exec_id] {
    tasks_pb::CloseIORequest req;
    req.set_container_id(id);
    req.set_exec_id(exec_id);
    req.set_stdin(true);
    google::protobuf::Empty resp;
    auto ctx = client.NewCallContext();
    (void)tasks.CloseIO(ctx.get(), req, &resp);  // the process may be gone already
  });
  SignalForwarder forwarder([&client, &tasks, id, exec_id](int sig) {
    tasks_pb::KillRequest req;
    req.set_container_id(id);
    req.set_exec_id(exec_id);
    req.set_signal(static_cast<std::uint32_t>(sig));
    google::protobuf::Empty resp;
    auto ctx = client.NewCallContext();
    (void)tasks.Kill(ctx.get(), req, &resp);
  });
  std::unique_ptr<ResizeWatcher> resizer;
  if (io.terminal()) {
    resizer = std::make_unique<ResizeWatcher>(resize);
  }
  tasks_pb::WaitRequest req;
  req.set_container_id(id);
  req.set_exec_id(exec_id);
  tasks_pb::WaitResponse resp;
  auto ctx = UnboundedContext(client);
  grpc::Status s = tasks.Wait(ctx.get(), req, &resp);
  resizer.reset();
  (void)io.WaitOutput(kDrainBound);
  io.Stop();
  if (!s.ok()) return ReportCallError(client, s);
  *exit_status = resp.exit_status();
  return 0;
}

int DeleteTask(Client& client, tasks_pb::Tasks::Stub& tasks, const std::string& id) {
  tasks_pb::DeleteTaskRequest req;
  req.set_container_id(id);
  tasks_pb::DeleteResponse resp;
  auto ctx = client.NewCallContext();
  grpc::Status s = tasks.Delete(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(client, s);
  return 0;
}

int ParseSignal(const std::string& text) {
  if (text.empty()) return 0;
  if (std::isdigit(static_cast<unsigned char>(text[0]))) {
    int number = 0;
    for (char ch : text) {
      if (!std::isdigit(static_cast<unsigned char>(ch)) || number > 1000) return 0;
      number = number * 10 + (ch - '0');
    }
    return number > 0 && number < NSIG ? number : 0;
  }
  std::string name = text;
  for (char& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev != nullptr && name == abbrev) return sig;
  }
  return 0;
}

}  // namespace berth::cli
