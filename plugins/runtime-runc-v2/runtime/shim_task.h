// ShimTask: one task as its shim serves it — berth::Task over the shim's
// containerd.task.v2.Task ttrpc API (task_wire.proto messages), every call
// in the task's namespace (containerd-namespace-ttrpc). Besides the Task
// face it has the calls the runtime makes on a shim's life: Create, Connect,
// Delete of the init process, Shutdown.
//
// Thread-safe (the ttrpc client is; the rest is fixed at construction).
// Ownership: the runtime holds it in a shared_ptr; it owns its ttrpc client
// and shares the ShimMonitor whose io_context runs that client.
#ifndef BERTH_PLUGINS_RUNTIME_RUNC_V2_RUNTIME_SHIM_TASK_H_
#define BERTH_PLUGINS_RUNTIME_RUNC_V2_RUNTIME_SHIM_TASK_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "berth/runtime.h"
#include "berth/ttrpc/client.h"
#include "bundle.h"
#include "shim_monitor.h"

namespace berth::runtime_v2 {

// containerd's ttrpc service name of the task v2 API.
inline constexpr char kTaskService[] = "containerd.task.v2.Task";

struct ShimInfo {
  pid_t shim_pid = 0;
  std::uint32_t task_pid = 0;
};

class ShimTask final : public Task {
 public:
  ShimTask(Bundle bundle, std::string shim_binary, std::shared_ptr<ShimMonitor> monitor,
           std::unique_ptr<ttrpc::Client> client);
  ~ShimTask() override;

  const std::string& id() const override { return bundle_.id; }
  const std::string& ns() const override { return bundle_.ns; }
  const std::string& bundle() const override { return bundle_.path; }
  const Bundle& bundle_dir() const { return bundle_; }
  const std::string& shim_binary() const { return shim_binary_; }

  Result<std::uint32_t> Start(std::string_view exec_id) override;
  Result<ProcessState> State(std::string_view exec_id) override;
  Status Kill(std::string_view exec_id, std::uint32_t signal, bool all) override;
  void Wait(std::string_view exec_id, WaitCallback done) override;
  Status Exec(std::string_view exec_id, const ProcessIO& io, const Any& spec) override;
  Status ResizePty(std::string_view exec_id, std::uint32_t width, std::uint32_t height) override;
  Status CloseIO(std::string_view exec_id, bool stdin) override;
  Result<ProcessExit> DeleteProcess(std::string_view exec_id) override;
  Result<std::vector<ProcessInfo>> Pids() override;
  Status Pause() override;
  Status Resume() override;
  Status Update(const Any& resources,
                const std::map<std::string, std::string>& annotations) override;
  Result<Any> Stats() override;

  // The shim's Create of the task in bundle(); the init pid.
  Result<std::uint32_t> CreateInShim(const TaskCreateOptions& options, const Any& task_options);
  // The shim's Connect: its own pid and the task's.
  Result<ShimInfo> Connect(std::chrono::milliseconds timeout);
  // The shim's Delete of the init process (a ttrpc Delete with no exec id).
  Result<ProcessExit> DeleteInit();
  // Asks the shim to exit (bounded); a closed connection counts as done.
  void Shutdown();

  // Watches the shim's log fifo and its exit (`on_exit` on the monitor's
  // thread) until Close().
  void Watch(int log_fd, int pidfd, std::function<void()> on_exit);
  // Closes the connection and stops watching. Idempotent.
  void Close();

 private:
  ttrpc::CallOptions Options(std::chrono::milliseconds timeout) const;
  template <typename Resp>
  Result<Resp> Call(const char* method, const google::protobuf::MessageLite& req,
                    std::chrono::milliseconds timeout);
  Status CallEmpty(const char* method, const google::protobuf::MessageLite& req,
                   std::chrono::milliseconds timeout);

  const Bundle bundle_;
  const std::string shim_binary_;
  std::shared_ptr<ShimMonitor> monitor_;  // outlives client_
  std::unique_ptr<ttrpc::Client> client_;
  std::atomic<std::uint64_t> watch_{0};
};

}  // namespace berth::runtime_v2

#endif  // BERTH_PLUGINS_RUNTIME_RUNC_V2_RUNTIME_SHIM_TASK_H_
