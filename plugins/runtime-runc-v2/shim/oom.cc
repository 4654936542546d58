#include "oom.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace berth::shim {
namespace {

Status Errno(const std::string& what) {
  return Status::Unknown(what + ": " + std::strerror(errno));
}

long long ReadOomKills(const std::string& dir) {
  std::ifstream in(dir + "/memory.events");
  std::string key;
  long long value = 0;
  while (in >> key >> value) {
    if (key == "oom_kill") return value;
  }
  return 0;
}

}  // namespace

OomWatcher::~OomWatcher() {
  boost::system::error_code ignored;
  fd_.close(ignored);
  if (control_fd_ >= 0) close(control_fd_);
}

Status OomWatcher::Watch(pid_t pid, std::function<void()> on_oom) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line, v1_path, v2_path;
  while (std::getline(in, line)) {
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string controllers = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    if (line.compare(0, a, "0") == 0 && controllers.empty()) v2_path = path;
    std::stringstream list(controllers);
    std::string c;
    while (std::getline(list, c, ',')) {
      if (c == "memory") v1_path = path;
    }
  }
  on_oom_ = std::move(on_oom);
  struct stat st {};
  if (!v1_path.empty() && stat("/sys/fs/cgroup/memory", &st) == 0) {
    dir_ = "/sys/fs/cgroup/memory" + v1_path;
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0) return Errno("eventfd");
    control_fd_ = open((dir_ + "/memory.oom_control").c_str(), O_RDONLY | O_CLOEXEC);
    if (control_fd_ < 0) {
      close(efd);
      return Errno("open " + dir_ + "/memory.oom_control");
    }
    std::string registration = std::to_string(efd) + " " + std::to_string(control_fd_);
    int ec = open((dir_ + "/cgroup.event_control").c_str(), O_WRONLY | O_CLOEXEC);
    if (ec < 0 || write(ec, registration.data(), registration.size()) < 0) {
      Status s = Errno("register " + dir_ + "/cgroup.event_control");
      if (ec >= 0) close(ec);
      close(efd);
      return s;
    }
    close(ec);
    fd_.assign(efd);
    Arm();
    return Status::Ok();
  }
  if (!v2_path.empty()) {
    v2_ = true;
    dir_ = "/sys/fs/cgroup" + v2_path;
    int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ifd < 0) return Errno("inotify");
    if (inotify_add_watch(ifd, (dir_ + "/memory.events").c_str(), IN_MODIFY) < 0) {
      Status s = Errno("watch " + dir_ + "/memory.events");
      close(ifd);
      return s;
    }
    oom_kills_ = ReadOomKills(dir_);
    fd_.assign(ifd);
    Arm();
    return Status::Ok();
  }
  return Status::NotFound("no memory cgroup for pid " + std::to_string(pid));
}

void OomWatcher::Arm() {
  fd_.async_read_some(boost::asio::buffer(buffer_),
                      [this](const boost::system::error_code& ec, size_t) {
                        if (ec) return;
                        Fired();
                      });
}

void OomWatcher::Fired() {
  if (v2_) {
    long long kills = ReadOomKills(dir_);
    if (kills > oom_kills_) {
      oom_kills_ = kills;
      if (on_oom_) on_oom_();
    }
  } else {
    // The eventfd also fires when the cgroup goes away.
    struct stat st {};
    if (stat((dir_ + "/memory.oom_control").c_str(), &st) != 0) return;
    if (on_oom_) on_oom_();
  }
  Arm();
}

}  // namespace berth::shim
