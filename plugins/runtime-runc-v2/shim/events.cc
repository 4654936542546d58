#include "events.h"

#include <boost/asio/post.hpp>

#include "berth/ttrpc/events.h"
#include "berth/ttrpc/metadata.h"

namespace berth::shim {
namespace {
constexpr size_t kQueueLimit = 2048;
constexpr int kMaxAttempts = 5;
}  // namespace

EventForwarder::EventForwarder(boost::asio::io_context& io, std::string address, std::string ns,
                               Logger& log)
    : io_(io), ns_(std::move(ns)), log_(log), retry_timer_(io), flush_timer_(io) {
  if (address.rfind("unix://", 0) == 0) address = address.substr(7);
  address_ = std::move(address);
}

EventForwarder::~EventForwarder() = default;

void EventForwarder::Publish(std::string topic, std::string name, std::string message) {
  if (address_.empty()) return;
  Item item;
  item.envelope.timestamp = std::chrono::system_clock::now();
  item.envelope.ns = ns_;
  item.envelope.topic = std::move(topic);
  item.envelope.event.type_url = "containerd.events." + std::move(name);
  item.envelope.event.value = std::move(message);
  if (queue_.size() >= kQueueLimit) {
    // The front may be in flight; drop the oldest waiting one.
    auto victim = queue_.begin() + (in_flight_ ? 1 : 0);
    log_.Error("event queue full: dropping " + victim->envelope.topic);
    queue_.erase(victim);
  }
  queue_.push_back(std::move(item));
  Next();
}

void EventForwarder::Next() {
  if (in_flight_ || waiting_ || queue_.empty()) return;
  if (client_ == nullptr || !client_->connected()) {
    client_.reset();
    Result<std::unique_ptr<ttrpc::Client>> c = ttrpc::Client::Connect(io_, address_);
    if (!c.ok()) {
      Sent(c.status());
      return;
    }
    client_ = std::move(*c);
  }
  in_flight_ = true;
  ttrpc::CallOptions options;
  options.metadata.emplace(std::string(ttrpc::kNamespaceKey), ns_);
  options.timeout = std::chrono::seconds(5);
  std::weak_ptr<int> alive = alive_;
  client_->CallAsync(ttrpc::kEventsService, ttrpc::kForwardMethod,
                     ttrpc::EncodeForwardRequest(queue_.front().envelope), std::move(options),
                     [this, alive](Result<std::string> r) {
                       if (alive.expired()) return;
                       in_flight_ = false;
                       Sent(r.ok() ? Status::Ok() : r.status());
                     });
}

void EventForwarder::Sent(const Status& status) {
  if (queue_.empty()) return;
  if (status.ok()) {
    queue_.pop_front();
    CheckFlushed();
    Next();
    return;
  }
  Item& front = queue_.front();
  if (++front.attempts >= kMaxAttempts) {
    log_.Error("forward event " + front.envelope.topic + ": giving up after " +
               std::to_string(front.attempts) + " attempts: " + status.ToString());
    queue_.pop_front();
    CheckFlushed();
    Next();
    return;
  }
  log_.Warn("forward event " + front.envelope.topic + ": " + status.ToString() + " (retrying)");
  if (status.Is(Code::kUnavailable) || status.Is(Code::kNotFound)) {
    // Not from inside the client's own callback: it is dropped on the next turn.
    std::shared_ptr<ttrpc::Client> old(client_.release());
    boost::asio::post(io_, [old] {});
  }
  waiting_ = true;
  retry_timer_.expires_after(std::chrono::seconds(front.attempts));
  std::weak_ptr<int> alive = alive_;
  retry_timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    waiting_ = false;
    Next();
  });
}

void EventForwarder::Flush(std::chrono::milliseconds bound, std::function<void()> done) {
  if (queue_.empty()) return done();
  flushed_ = std::move(done);
  flush_timer_.expires_after(bound);
  std::weak_ptr<int> alive = alive_;
  flush_timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    if (auto fn = std::move(flushed_)) {
      flushed_ = nullptr;
      log_.Warn("exiting with " + std::to_string(queue_.size()) + " events unsent");
      fn();
    }
  });
}

void EventForwarder::CheckFlushed() {
  if (!queue_.empty() || !flushed_) return;
  auto fn = std::move(flushed_);
  flushed_ = nullptr;
  flush_timer_.cancel();
  fn();
}

}  // namespace berth::shim
