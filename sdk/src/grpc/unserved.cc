#include "berth/grpc/unserved.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/stubs/logging.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/proto_buffer_writer.h>
#include <grpcpp/support/server_interceptor.h>

#include <atomic>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace berth::grpc_util {
namespace {

namespace gx = grpc::experimental;

constexpr char kUnmarshalError[] = "error unmarshalling request";

// The logger RouteProtobufLog installed; nullptr drops protobuf's lines.
std::atomic<Logger*> g_protobuf_logger{nullptr};

// The field of the last "invalid UTF-8 when parsing" line on this thread.
// protobuf logs it from inside the parse, on the thread that parses, and the
// parse's caller (the interceptor below, ParseRequest) takes it right after.
thread_local std::string t_invalid_utf8_field;

// The field named in protobuf's "String field 'F' contains invalid UTF-8
// data when parsing a protocol buffer..." line, or "" for any other line.
std::string InvalidUtf8Field(const std::string& message) {
  constexpr std::string_view kStart = "String field '";
  constexpr std::string_view kParse = "' contains invalid UTF-8 data when parsing";
  if (message.compare(0, kStart.size(), kStart) != 0) return "";
  std::size_t end = message.find(kParse, kStart.size());
  if (end == std::string::npos) return "";
  return message.substr(kStart.size(), end - kStart.size());
}

void ProtobufLogHandler(google::protobuf::LogLevel level, const char* filename, int line,
                        const std::string& message) {
  std::string field = InvalidUtf8Field(message);
  LogLevel ours = LogLevel::kInfo;
  if (!field.empty()) {
    t_invalid_utf8_field = field;
    ours = LogLevel::kDebug;  // a client's bad request: answered, not our fault
  } else if (level == google::protobuf::LOGLEVEL_WARNING) {
    ours = LogLevel::kWarn;
  } else if (level >= google::protobuf::LOGLEVEL_ERROR) {
    ours = LogLevel::kError;
  }
  Logger* logger = g_protobuf_logger.load(std::memory_order_acquire);
  if (logger == nullptr || !logger->Enabled(ours)) return;
  logger->Log(ours, "protobuf: " + message + " (" + (filename != nullptr ? filename : "?") + ":" +
                        std::to_string(line) + ")");
}

// What a request that did not parse on this thread is answered.
grpc::Status TakeParseFailure() {
  std::string field = std::exchange(t_invalid_utf8_field, std::string());
  if (!field.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "string field " + field + " contains invalid UTF-8");
  }
  return grpc::Status(grpc::StatusCode::INTERNAL, kUnmarshalError);
}

// Turns gRPC's bare Unimplemented for a request that did not parse into
// TakeParseFailure's answer. Only unary and server-streaming calls: gRPC
// parses their one request before the handler (shown to interceptors as a
// null message); for the other kinds a null message is also a clean end.
class ParseFailureInterceptor final : public gx::Interceptor {
 public:
  void Intercept(gx::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(gx::InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      failure_ = TakeParseFailure();
    }
    if (failure_ &&
        methods->QueryInterceptionHookPoint(gx::InterceptionHookPoints::PRE_SEND_STATUS) &&
        methods->GetSendStatus().error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      methods->ModifySendStatus(*failure_);
    }
    methods->Proceed();
  }

 private:
  std::optional<grpc::Status> failure_;
};

class ParseFailureFactory final : public gx::ServerInterceptorFactoryInterface {
 public:
  gx::Interceptor* CreateServerInterceptor(gx::ServerRpcInfo* info) override {
    if (info->type() != gx::ServerRpcInfo::Type::UNARY &&
        info->type() != gx::ServerRpcInfo::Type::SERVER_STREAMING) {
      return nullptr;  // gRPC skips a null interceptor
    }
    return new ParseFailureInterceptor();
  }
};

// gRPC-Go's answer for a method path no registered service serves:
// "unknown service S" or "unknown method M for service S". A service this
// binary knows the descriptor of and which has M is not served here (gRPC
// would have routed M to it otherwise).
grpc::Status UnknownMethod(const std::string& path) {
  std::string service, method;
  std::size_t slash = path.rfind('/');
  if (path.size() < 2 || path[0] != '/' || slash == 0 || slash == std::string::npos) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "malformed method name: \"" + path + "\"");
  }
  service = path.substr(1, slash - 1);
  method = path.substr(slash + 1);
  const google::protobuf::ServiceDescriptor* known =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  if (known != nullptr && known->FindMethodByName(method) == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "unknown method " + method + " for service " + service);
  }
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "unknown service " + service);
}

class UnknownMethodService final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    class Reactor final : public grpc::ServerGenericBidiReactor {
     public:
      explicit Reactor(const grpc::Status& status) { Finish(status); }
      void OnDone() override { delete this; }
    };
    return new Reactor(UnknownMethod(ctx->method()));
  }
};

}  // namespace

UnservedRequests::UnservedRequests() : unknown_methods_(std::make_unique<UnknownMethodService>()) {}
UnservedRequests::~UnservedRequests() = default;

void UnservedRequests::AddTo(
    grpc::ServerBuilder& builder,
    std::vector<std::unique_ptr<gx::ServerInterceptorFactoryInterface>> after) {
  std::vector<std::unique_ptr<gx::ServerInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<ParseFailureFactory>());
  for (auto& factory : after) factories.push_back(std::move(factory));
  builder.experimental().SetInterceptorCreators(std::move(factories));
  builder.RegisterCallbackGenericService(unknown_methods_.get());
}

void RouteProtobufLog(Logger* logger) {
  g_protobuf_logger.store(logger, std::memory_order_release);
  google::protobuf::SetLogHandler(&ProtobufLogHandler);
}

grpc::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::MessageLite* message) {
  t_invalid_utf8_field.clear();
  grpc::ByteBuffer copy(buffer);  // shares the slices
  grpc::ProtoBufferReader reader(&copy);
  if (reader.status().ok() && message->ParseFromZeroCopyStream(&reader)) return grpc::Status::OK;
  return TakeParseFailure();
}

grpc::Status SerializeResponse(const google::protobuf::MessageLite& message,
                               grpc::ByteBuffer* buffer) {
  bool own = false;
  buffer->Clear();  // the serializer fills an empty buffer only
  return grpc::SerializationTraits<google::protobuf::MessageLite>::Serialize(message, buffer, &own);
}

}  // namespace berth::grpc_util
