#include "shim_monitor.h"

#include <unistd.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <utility>

namespace berth::runtime_v2 {

namespace asio = boost::asio;

struct ShimMonitor::Entry {
  Entry(asio::io_context& io, std::string n, int log_fd, int pidfd, std::function<void()> cb)
      : name(std::move(n)), log(io), pid(io), on_exit(std::move(cb)) {
    if (log_fd >= 0) log.assign(log_fd);
    if (pidfd >= 0) pid.assign(pidfd);
  }
  std::string name;
  asio::posix::stream_descriptor log;
  asio::posix::stream_descriptor pid;
  std::function<void()> on_exit;
  std::array<char, 4096> buf{};
  std::string partial;  // a line not yet ended
  bool done = false;
};

ShimMonitor::ShimMonitor(Logger* log)
    : log_(log), work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}

ShimMonitor::~ShimMonitor() {
  work_.reset();
  io_.stop();
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();  // the last owner let go on the io thread itself
    return;
  }
  if (thread_.joinable()) thread_.join();
  // Close what is watched, then run the aborted handlers here so that they
  // release their entries before the io_context goes.
  for (int round = 0; round < 2; ++round) {
    for (auto& [handle, e] : entries_) {
      e->done = true;
      boost::system::error_code ec;
      e->log.close(ec);
      e->pid.close(ec);
    }
    entries_.clear();
    io_.restart();
    io_.poll();
  }
}

std::uint64_t ShimMonitor::Watch(std::string name, int log_fd, int pidfd,
                                 std::function<void()> on_exit) {
  std::uint64_t handle = next_++;
  auto e = std::make_shared<Entry>(io_, std::move(name), log_fd, pidfd, std::move(on_exit));
  asio::post(io_, [this, handle, e] {
    entries_[handle] = e;
    if (e->log.is_open()) ReadLog(e);
    if (e->pid.is_open()) WaitExit(e);
  });
  return handle;
}

void ShimMonitor::Unwatch(std::uint64_t handle) {
  asio::post(io_, [this, handle] {
    auto it = entries_.find(handle);
    if (it == entries_.end()) return;
    std::shared_ptr<Entry> e = it->second;
    entries_.erase(it);
    e->done = true;
    boost::system::error_code ec;
    e->log.close(ec);
    e->pid.close(ec);
  });
}

void ShimMonitor::ReadLog(const std::shared_ptr<Entry>& e) {
  e->log.async_read_some(asio::buffer(e->buf), [this, e](boost::system::error_code ec,
                                                         std::size_t n) {
    if (e->done) return;
    if (ec) {
      if (ec != asio::error::operation_aborted && !e->partial.empty()) {
        log_->Info(e->name + ": " + e->partial);
      }
      return;
    }
    e->partial.append(e->buf.data(), n);
    std::size_t start = 0;
    for (std::size_t nl; (nl = e->partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      if (nl > start) log_->Info(e->name + ": " + e->partial.substr(start, nl - start));
    }
    e->partial.erase(0, start);
    if (e->partial.size() > 64 * 1024) {  // a run-on line: log what we have
      log_->Info(e->name + ": " + e->partial);
      e->partial.clear();
    }
    ReadLog(e);
  });
}

void ShimMonitor::WaitExit(const std::shared_ptr<Entry>& e) {
  e->pid.async_wait(asio::posix::stream_descriptor::wait_read, [e](boost::system::error_code ec) {
    if (e->done || ec) return;
    e->done = true;
    if (e->on_exit) e->on_exit();
  });
}

}  // namespace berth::runtime_v2
