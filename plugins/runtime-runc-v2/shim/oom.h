// OomWatcher: tells when the kernel OOM-kills in a container's memory
// cgroup, as containerd's shim does: cgroup v1 through an eventfd registered
// on memory.oom_control (cgroup.event_control), cgroup v2 through inotify on
// memory.events (a rising oom_kill count). The cgroup is the init pid's.
//
// Single-threaded (the io thread). Destroying the watcher stops it.
#ifndef BERTH_SHIM_OOM_H_
#define BERTH_SHIM_OOM_H_

#include <sys/types.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <string>

#include "berth/status.h"

namespace berth::shim {

class OomWatcher {
 public:
  explicit OomWatcher(boost::asio::io_context& io) : fd_(io) {}
  ~OomWatcher();
  OomWatcher(const OomWatcher&) = delete;
  OomWatcher& operator=(const OomWatcher&) = delete;

  // Watches `pid`'s memory cgroup; `on_oom` runs per OOM kill. NotFound when
  // the pid has no memory cgroup; Unknown with errno text otherwise.
  Status Watch(pid_t pid, std::function<void()> on_oom);

 private:
  void Arm();
  void Fired();

  boost::asio::posix::stream_descriptor fd_;  // eventfd (v1) or inotify (v2)
  int control_fd_ = -1;                       // v1: memory.oom_control
  bool v2_ = false;
  std::string dir_;
  long long oom_kills_ = 0;
  std::array<char, 4096> buffer_{};
  std::function<void()> on_oom_;
};

}  // namespace berth::shim

#endif  // BERTH_SHIM_OOM_H_
