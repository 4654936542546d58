// `berthctl events [FILTER...]`: streams the events service's envelopes from
// every namespace, matching any of the filters (topic, namespace,
// event.<field>), printed as ctr events prints them:
//   <time as Go prints it> <namespace> <topic> <payload as JSON>
// A payload whose type berthctl does not know prints as {}. Runs until
// berthd ends the stream (or the process is interrupted).
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <time.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "command.h"
#include "containerd/services/events/v1/events.grpc.pb.h"

namespace berth::cli {
namespace {

namespace pb = containerd::services::events::v1;
namespace gpb = google::protobuf;

constexpr char kUsage[] =
    "usage: berthctl events [FILTER...]\n"
    "  FILTER as containerd's, e.g. 'topic~=\"^/snapshot/\"' or namespace==default;\n"
    "  several are OR'd\n";

// "2006-01-02 15:04:05.999999999 +0000 UTC", as Go's time.Time.String().
std::string GoTime(std::int64_t seconds, std::int32_t nanos) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  std::string out = buf;
  if (nanos > 0) {
    char frac[16];
    std::snprintf(frac, sizeof(frac), ".%09d", nanos);
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + " +0000 UTC";
}

// The payload as JSON with the proto field names (Go's json tags), when its
// type is one berthctl links; otherwise "{}".
std::string PayloadJson(const gpb::Any& any) {
  if (any.type_url().empty()) return "";
  std::string name = any.type_url().substr(any.type_url().rfind('/') + 1);
  const gpb::Descriptor* d = gpb::DescriptorPool::generated_pool()->FindMessageTypeByName(name);
  if (d == nullptr) return "{}";
  const gpb::Message* prototype = gpb::MessageFactory::generated_factory()->GetPrototype(d);
  if (prototype == nullptr) return "{}";
  std::unique_ptr<gpb::Message> m(prototype->New());
  if (!m->ParseFromString(any.value())) return "{}";
  gpb::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!gpb::util::MessageToJsonString(*m, &out, options).ok()) return "{}";
  return out;
}

int RunEvents(Client& client, const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  auto stub = pb::Events::NewStub(client.channel());
  pb::SubscribeRequest req;
  for (const std::string& f : args) req.add_filters(f);
  auto ctx = client.NewCallContext();
  auto reader = stub->Subscribe(ctx.get(), req);
  pb::Envelope e;
  while (reader->Read(&e)) {
    std::cout << GoTime(e.timestamp().seconds(), e.timestamp().nanos()) << " " << e.namespace_()
              << " " << e.topic() << " " << PayloadJson(e.event()) << std::endl;
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return ReportCallError(client, s);
  return 0;
}

}  // namespace

CommandGroup EventsGroup() {
  return {"events", "stream events from every namespace [FILTER...]", RunEvents};
}

}  // namespace berth::cli
