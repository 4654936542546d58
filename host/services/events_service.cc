#include "services/events_service.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "berth/events.h"
#include "berth/executor.h"
#include "berth/grpc/call.h"
#include "berth/grpc/convert.h"
#include "berth/grpc/status.h"
#include "berth/grpc_service.h"
#include "berth/init_context.h"
#include "berth/mutex.h"
#include "berth/plugin_types.h"
#include "berth/thread_annotations.h"
#include "berth/ttrpc/events.h"
#include "berth/ttrpc_service.h"
#include "containerd/services/events/v1/events.grpc.pb.h"
#include "events/exchange.h"

namespace berth::host {
namespace {

namespace events_pb = containerd::services::events::v1;

constexpr grpc_util::CallRules kPublishRules{.namespace_required = true};
// Forwarded envelopes carry their own namespace; subscriptions span all.
constexpr grpc_util::CallRules kOpenRules{.namespace_required = false};

void ToProto(const Envelope& e, events_pb::Envelope* out) {
  grpc_util::ToProto(e.timestamp, out->mutable_timestamp());
  out->set_namespace_(e.ns);
  out->set_topic(e.topic);
  if (!e.event.empty()) {
    out->mutable_event()->set_type_url(e.event.type_url);
    out->mutable_event()->set_value(e.event.value);
  } else {
    out->clear_event();
  }
}

Envelope FromProto(const events_pb::Envelope& pb) {
  Envelope e;
  if (pb.has_timestamp()) e.timestamp = grpc_util::FromProto(pb.timestamp());
  e.ns = pb.namespace_();
  e.topic = pb.topic();
  e.event = Any{pb.event().type_url(), pb.event().value()};
  return e;
}

// One Subscribe stream, a feed subscriber of the exchange: the exchange
// offers an envelope (on the executor, or inside Ready()), Offer starts its
// write without waiting, and OnWriteDone asks for the next with Ready(), so
// that one write is in flight at a time and the exchange's bounded queue is
// the only buffer. Closed (a cut-off) and OnCancel end the stream after the
// write in flight. The subscription is released on the executor before the
// reactor is deleted, never on gRPC's threads.
class SubscribeReactor final : public grpc::ServerWriteReactor<events_pb::Envelope> {
 public:
  explicit SubscribeReactor(Executor& executor) : executor_(executor) {}

  // Subscribes; on failure the stream ends with the error.
  void Start(Exchange& exchange, const events_pb::SubscribeRequest& req) BERTH_EXCLUDES(mu_) {
    auto filter = filters::ParseAll({req.filters().begin(), req.filters().end()});
    if (!filter.ok()) {
      Fail(grpc_util::ToGrpc(Status::InvalidArgument("failed parsing subscription filters: " +
                                                     filter.status().message())));
      return;
    }
    Status failed;
    {
      // Held across SubscribeFeed so that a cut-off cannot finish (and
      // delete) the stream, nor a write complete, before the subscription is
      // stored; the exchange calls back only on the executor, never inside
      // SubscribeFeed.
      MutexLock lock(&mu_);
      auto sub = exchange.SubscribeFeed(
          *filter, [this](const Envelope& e) { Offer(e); },
          [this](const Status& s) { End(grpc_util::ToGrpc(s)); });
      if (sub.ok()) {
        subscription_ = std::move(*sub);
      } else {
        failed = sub.status();
      }
    }
    if (!failed.ok()) Fail(grpc_util::ToGrpc(failed));
  }

  // Ends the stream before anything was written.
  void Fail(grpc::Status status) { End(std::move(status)); }

  void OnWriteDone(bool ok) override {
    FeedSubscription* next = nullptr;
    MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      stopped_ = true;
      if (!pending_finish_)
        pending_finish_ = grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
    auto finish = FinishDueLocked();
    // OnDone, which releases the subscription, follows this reaction.
    if (!stopped_) next = subscription_.get();
    lock.Unlock();
    if (finish) {
      Finish(*finish);
    } else if (next != nullptr) {
      next->Ready();  // may Offer the next envelope on this thread
    }
  }

  void OnCancel() override { End(grpc::Status(grpc::StatusCode::CANCELLED, "client went away")); }

  void OnDone() override {
    executor_.Submit([this] {
      std::unique_ptr<FeedSubscription> sub;
      {
        MutexLock lock(&mu_);
        stopped_ = true;
        sub = std::move(subscription_);
      }
      sub.reset();  // waits for an Offer in progress to return
      delete this;
    });
  }

 private:
  // Never waits: the exchange offers nothing more until Ready().
  void Offer(const Envelope& e) BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    if (stopped_ || writing_) return;  // ending (no Ready follows); writing_: cannot happen
    ToProto(e, &msg_);
    writing_ = true;
    lock.Unlock();
    StartWrite(&msg_);  // msg_ is untouched until OnWriteDone
  }

  // Ends the stream with `status` once no write is in flight.
  void End(grpc::Status status) BERTH_EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    stopped_ = true;
    if (!pending_finish_) pending_finish_ = std::move(status);
    auto finish = FinishDueLocked();
    lock.Unlock();
    if (finish) Finish(*finish);
  }

  // The status to Finish with now, once: when an end is pending and no write
  // is in flight.
  std::optional<grpc::Status> FinishDueLocked() BERTH_REQUIRES(mu_) {
    if (finished_ || writing_ || !pending_finish_) return std::nullopt;
    finished_ = true;
    return pending_finish_;
  }

  Executor& executor_;
  Mutex mu_;
  std::unique_ptr<FeedSubscription> subscription_ BERTH_GUARDED_BY(mu_);
  bool writing_ BERTH_GUARDED_BY(mu_) = false;   // a StartWrite awaits OnWriteDone
  bool stopped_ BERTH_GUARDED_BY(mu_) = false;   // no more writes
  bool finished_ BERTH_GUARDED_BY(mu_) = false;  // Finish was called
  std::optional<grpc::Status> pending_finish_ BERTH_GUARDED_BY(mu_);
  events_pb::Envelope msg_;  // owned by the write in flight while writing_
};

class EventsService final : public events_pb::Events::CallbackService {
 public:
  explicit EventsService(Exchange* exchange) : exchange_(exchange) {}

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* ctx,
                                    const events_pb::PublishRequest* req,
                                    google::protobuf::Empty*) override {
    return grpc_util::ServeUnary(ctx, kPublishRules, [this, req](const CallContext& call) {
      return exchange_->Publish(call.ns, req->topic(),
                                Any{req->event().type_url(), req->event().value()});
    });
  }

  grpc::ServerUnaryReactor* Forward(grpc::CallbackServerContext* ctx,
                                    const events_pb::ForwardRequest* req,
                                    google::protobuf::Empty*) override {
    return grpc_util::ServeUnary(ctx, kOpenRules, [this, req](const CallContext&) {
      return exchange_->Forward(FromProto(req->envelope()));
    });
  }

  grpc::ServerWriteReactor<events_pb::Envelope>* Subscribe(
      grpc::CallbackServerContext* ctx, const events_pb::SubscribeRequest* req) override {
    auto* reactor = new SubscribeReactor(kOpenRules.RunOn());
    if (auto call = grpc_util::CallContextOf(*ctx, kOpenRules); !call.ok()) {
      reactor->Fail(grpc_util::ToGrpc(call.status()));
    } else {
      reactor->Start(*exchange_, *req);
    }
    return reactor;
  }

 private:
  Exchange* exchange_;
};

// Served on gRPC and, for shims, containerd.services.events.ttrpc.v1.Events
// on ttrpc: Forward there too hands the envelope to the exchange, which
// validates it (InvalidArgument for a bad namespace, topic or a missing
// timestamp) and never waits, so it answers on the ttrpc thread.
class EventsServicePlugin final : public GrpcServicePlugin, public TtrpcServicePlugin {
 public:
  explicit EventsServicePlugin(std::shared_ptr<Exchange> exchange)
      : exchange_(std::move(exchange)), service_(exchange_.get()) {}
  std::vector<grpc::Service*> Services() override { return {&service_}; }
  Status RegisterTtrpc(ttrpc::Server& server) override {
    Exchange* exchange = exchange_.get();
    return ttrpc::RegisterEventsForward(
        server, [exchange](const Envelope& e) { return exchange->Forward(e); });
  }

 private:
  std::shared_ptr<Exchange> exchange_;
  EventsService service_;
};

}  // namespace

Registration EventsServiceRegistration(HostEnv) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "events";
  r.required_types = {std::string(types::kEvent)};
  r.init = [](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
    // The host's exchange: its feed subscriptions fan out without a task
    // per stream.
    auto exchange = ctx.GetByIDAs<Exchange>(types::kEvent, "exchange");
    if (!exchange.ok()) return exchange.status();
    return std::shared_ptr<Plugin>(std::make_shared<EventsServicePlugin>(std::move(*exchange)));
  };
  return r;
}

}  // namespace berth::host
