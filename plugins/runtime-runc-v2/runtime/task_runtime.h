// ShimRuntime: io.containerd.runtime.v2.task — berth::TaskRuntime over v2
// shims, one shim process per task, as containerd's runtime v2 runs them.
//
// Create writes the bundle (bundle.h), starts the shim the runtime name
// names (`<shim> -namespace N -address <grpc> -publish-binary <berthd> -id ID
// start` in the bundle, TTRPC_ADDRESS in its environment, the options Any on
// its stdin), reads the shim's address from its stdout, connects over ttrpc
// and calls Create. Delete calls the shim's Delete, then Shutdown, then
// removes the bundle. When a shim exits (its pidfd turns readable) while its
// task is still listed, the task is dropped and cleaned up as containerd
// does after a dead shim: `<shim> ... -bundle B delete`, the bundle removed,
// /tasks/exit and /tasks/delete published.
//
// Open() walks the bundles left by an earlier run: a shim that answers
// Connect is reconnected and its task listed again; a dead one is cleaned
// up (and /tasks/exit and /tasks/delete published, as containerd's
// cleanupAfterDeadShim does). Each repair is logged.
//
// Thread-safe. Create, Delete and Open block on shims: call them off any
// event loop (the tasks service runs them on its executor).
#ifndef BERTH_PLUGINS_RUNTIME_RUNC_V2_RUNTIME_TASK_RUNTIME_H_
#define BERTH_PLUGINS_RUNTIME_RUNC_V2_RUNTIME_TASK_RUNTIME_H_

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "berth/events.h"
#include "berth/logger.h"
#include "berth/mutex.h"
#include "berth/runtime.h"
#include "berth/thread_annotations.h"
#include "shim_monitor.h"
#include "shim_task.h"

namespace berth::runtime_v2 {

struct RuntimeEnv {
  std::string root;                        // the plugin's root: shims' work folders
  std::string state;                       // the plugin's state: bundles
  std::string grpc_address;                // the daemon's, passed as -address
  std::string ttrpc_address;               // TTRPC_ADDRESS for the shims' events
  std::string self_exe;                    // -publish-binary; its folder is searched first
  Logger* log = nullptr;                   // outlives the runtime
  std::shared_ptr<EventPublisher> events;  // may be null
  // How long a shim's `start` may take before its process group is killed
  // and the Create fails with DeadlineExceeded. Default 60 s.
  std::chrono::milliseconds shim_start_timeout{60000};
};

class ShimRuntime final : public TaskRuntime, public std::enable_shared_from_this<ShimRuntime> {
 public:
  // Creates the runtime and loads what an earlier run left (see above).
  static std::shared_ptr<ShimRuntime> Open(RuntimeEnv env);
  explicit ShimRuntime(RuntimeEnv env);
  ~ShimRuntime() override;

  Result<std::shared_ptr<Task>> Create(std::string_view ns,
                                       const TaskCreateOptions& options) override;
  Result<std::shared_ptr<Task>> Get(std::string_view ns, std::string_view id) override;
  std::vector<std::shared_ptr<Task>> List(std::string_view ns) override;
  Result<ProcessExit> Delete(std::string_view ns, std::string_view id) override;
  // Disconnects from every shim (they keep running, as containerd's do).
  Status Close() override;

 private:
  using Key = std::pair<std::string, std::string>;  // (namespace, id)

  void LoadExisting();
  void LoadBundle(const Bundle& bundle);
  // Starts the shim of `bundle` and connects to it.
  Result<std::shared_ptr<ShimTask>> StartShim(const Bundle& bundle, const std::string& binary,
                                              const Any& options);
  // Connects to the shim listening at `address` (its `start` output).
  Result<std::shared_ptr<ShimTask>> ConnectShim(const Bundle& bundle, const std::string& binary,
                                                const std::string& address);
  // Watches the shim's log (`log_fd`, owned; -1: open the bundle's fifo)
  // and its exit; `shim_pid` 0 = read it from shim.pid.
  void Watch(const std::shared_ptr<ShimTask>& task, pid_t shim_pid, int log_fd);
  // The shim of `task` exited (on the monitor's thread).
  void OnShimExit(const std::shared_ptr<ShimTask>& task);
  // `<shim> ... delete` and the bundle's removal; how the init process
  // ended, as far as the shim could tell.
  Result<ProcessExit> CleanupDeadShim(const Bundle& bundle, const std::string& binary);
  std::vector<std::string> ShimArgs(const std::string& binary, const Bundle& bundle) const;

  const RuntimeEnv env_;
  const std::string self_dir_;
  std::shared_ptr<ShimMonitor> monitor_;
  Mutex mu_;
  std::map<Key, std::shared_ptr<ShimTask>> tasks_ BERTH_GUARDED_BY(mu_);
  std::set<Key> creating_ BERTH_GUARDED_BY(mu_);  // ids reserved by a Create in flight
};

}  // namespace berth::runtime_v2

#endif  // BERTH_PLUGINS_RUNTIME_RUNC_V2_RUNTIME_TASK_RUNTIME_H_
