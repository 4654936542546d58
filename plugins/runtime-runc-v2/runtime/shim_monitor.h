// ShimMonitor: the runtime's one io thread. It runs the ttrpc clients of
// every shim, drains each shim's log fifo into the plugin's log (one line at
// a time, prefixed with the task), and reports a shim's exit through its
// pidfd — how the runtime learns that a shim (and so its tasks) is gone,
// whether the connection was open or not.
//
// Thread-safe: Watch and Unwatch may be called from any thread; the exit
// callbacks run on the io thread and must not block (they hand work to an
// executor). Ownership: shared by the runtime and every ShimTask (a ttrpc
// client made on io() needs it to outlive the client). Destroying it stops
// the thread; pending watches are dropped without their callbacks.
#ifndef BERTH_PLUGINS_RUNTIME_RUNC_V2_RUNTIME_SHIM_MONITOR_H_
#define BERTH_PLUGINS_RUNTIME_RUNC_V2_RUNTIME_SHIM_MONITOR_H_

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "berth/logger.h"

namespace berth::runtime_v2 {

class ShimMonitor {
 public:
  // `log` must outlive the monitor.
  explicit ShimMonitor(Logger* log);
  ~ShimMonitor();
  ShimMonitor(const ShimMonitor&) = delete;
  ShimMonitor& operator=(const ShimMonitor&) = delete;

  boost::asio::io_context& io() { return io_; }

  // Takes ownership of `log_fd` (may be -1: no log) and `pidfd` (may be -1:
  // exit not watched) and watches them; `on_exit` runs once when the pidfd
  // turns readable. Lines read from the log are logged as "<name>: <line>".
  // Returns a handle for Unwatch.
  std::uint64_t Watch(std::string name, int log_fd, int pidfd, std::function<void()> on_exit);

  // Stops watching and closes both descriptors; `on_exit` will not run
  // (unless it already has). Unknown handles are ignored.
  void Unwatch(std::uint64_t handle);

 private:
  struct Entry;
  void ReadLog(const std::shared_ptr<Entry>& e);
  void WaitExit(const std::shared_ptr<Entry>& e);

  Logger* log_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::atomic<std::uint64_t> next_{1};
  // Touched only on the io thread.
  std::map<std::uint64_t, std::shared_ptr<Entry>> entries_;
  std::thread thread_;
};

}  // namespace berth::runtime_v2

#endif  // BERTH_PLUGINS_RUNTIME_RUNC_V2_RUNTIME_SHIM_MONITOR_H_
