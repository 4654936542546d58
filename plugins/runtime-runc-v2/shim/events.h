// EventForwarder: publishes the shim's task events to the daemon over
// containerd's ttrpc Events/Forward (TTRPC_ADDRESS), as containerd's shim
// does: envelope namespace = -namespace, topics /tasks/<verb>, payloads
// Any{"containerd.events.<Message>", bytes}.
//
// Events go out one at a time, in publish order. A failed forward is retried
// (1 s × attempt, at most 5 attempts, reconnecting when the connection is
// lost) while the rest wait; the queue is bounded (2048, the oldest dropped),
// so a daemon that is down never blocks the loop nor grows the shim.
//
// Single-threaded (the io thread).
#ifndef BERTH_SHIM_EVENTS_H_
#define BERTH_SHIM_EVENTS_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "berth/events.h"
#include "berth/logger.h"
#include "berth/ttrpc/client.h"

namespace berth::shim {

class EventForwarder {
 public:
  // `address`: TTRPC_ADDRESS, a socket path (a "unix://" prefix is dropped);
  // "" publishes nothing.
  EventForwarder(boost::asio::io_context& io, std::string address, std::string ns, Logger& log);
  ~EventForwarder();

  // Queues `topic` with `message`'s bytes, typed "containerd.events.<name>".
  void Publish(std::string topic, std::string name, std::string message);
  // Runs `done` once the queue is empty, or after `bound`.
  void Flush(std::chrono::milliseconds bound, std::function<void()> done);
  size_t pending() const { return queue_.size(); }

 private:
  struct Item {
    Envelope envelope;
    int attempts = 0;
  };
  void Next();
  void Sent(const Status& status);
  void CheckFlushed();

  boost::asio::io_context& io_;
  std::string address_;
  std::string ns_;
  Logger& log_;
  std::unique_ptr<ttrpc::Client> client_;
  std::deque<Item> queue_;
  bool in_flight_ = false;
  bool waiting_ = false;  // a retry timer runs
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer flush_timer_;
  std::function<void()> flushed_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace berth::shim

#endif  // BERTH_SHIM_EVENTS_H_
