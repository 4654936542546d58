#include "services/introspection.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include "berth/filters.h"
#include "berth/grpc_service.h"
#include "berth/init_context.h"
#include "berth/plugin_types.h"
#include "berth/grpc/status.h"

namespace berth::host {
namespace {

class IntrospectionPlugin final : public GrpcServicePlugin {
 public:
  IntrospectionPlugin(const PluginSet* plugins, std::string root)
      : service_(plugins, std::move(root)) {}
  std::vector<grpc::Service*> Services() override { return {&service_}; }

 private:
  IntrospectionService service_;
};

filters::Adaptor AdaptPlugin(const introspection_pb::Plugin& p) {
  return
      [&p](const std::vector<std::string>& path) -> std::optional<std::string> {
        if (path.empty()) return std::nullopt;
        const std::string* value = nullptr;
        if (path[0] == "type") value = &p.type();
        if (path[0] == "id") value = &p.id();
        if (value == nullptr || value->empty()) return std::nullopt;
        return *value;
      };
}

std::string Errno(int err) { return std::strerror(err); }

// Writes `data` to `path` through a temporary file and a rename, synced.
Status WriteFileAtomic(const std::filesystem::path& path,
                       const std::string& data) {
  std::string tmp = path.string() + ".tmp-XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return Status::Unknown("create " + tmp + ": " + Errno(errno));
  bool ok = ::fchmod(fd, 0644) == 0 &&
            ::write(fd, data.data(), data.size()) ==
                static_cast<ssize_t>(data.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    return Status::Unknown("write " + path.string() + ": " + Errno(err));
  }
  int dir =
      ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::Ok();
}

}  // namespace

bool IsListed(const PluginRecord& record) {
  return record.state == PluginState::kOk ||
         record.state == PluginState::kSkipped ||
         record.state == PluginState::kFailed;
}

introspection_pb::Plugin RecordToProto(const PluginRecord& record) {
  introspection_pb::Plugin p;
  p.set_type(record.registration.type);
  p.set_id(record.registration.id);
  for (const std::string& r : record.registration.required_types) {
    p.add_requires_types(r);
  }
  for (const std::string& r : record.registration.optional_types) {
    p.add_requires_types(r);
  }
  for (const Platform& platform : record.meta.platforms) {
    containerd::types::Platform* out = p.add_platforms();
    out->set_os(platform.os);
    out->set_architecture(platform.architecture);
    out->set_variant(platform.variant);
  }
  for (const auto& [key, value] : record.meta.exports) {
    (*p.mutable_exports())[key] = value;
  }
  for (const std::string& c : record.meta.capabilities) p.add_capabilities(c);
  if (record.state == PluginState::kSkipped ||
      record.state == PluginState::kFailed) {
    Status s = record.init_status;
    if (s.ok()) s = Status::Unknown("plugin failed to initialise");
    google::rpc::Status* err = p.mutable_init_err();
    err->set_code(static_cast<int>(grpc_util::ToGrpcCode(s.code())));
    err->set_message(s.ToString());
  }
  return p;
}

std::string NewUuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) {
    std::ifstream urandom("/dev/urandom", std::ios::binary);
    urandom.read(reinterpret_cast<char*>(b), sizeof(b));
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(
      out, sizeof(out),
      "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
      b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
      b[12], b[13], b[14], b[15]);
  return out;
}

bool IsUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

IntrospectionService::IntrospectionService(const PluginSet* plugins,
                                           std::string root)
    : plugins_(plugins), root_(std::move(root)) {}

Result<std::vector<introspection_pb::Plugin>> IntrospectionService::ListPlugins(
    const std::vector<std::string>& filter_exprs) const {
  Result<filters::Filter> filter = filters::ParseAll(filter_exprs);
  if (!filter.ok()) return filter.status();
  std::vector<introspection_pb::Plugin> out;
  if (plugins_ == nullptr) return out;
  for (const std::unique_ptr<PluginRecord>& record : plugins_->records()) {
    if (!IsListed(*record)) continue;
    introspection_pb::Plugin p = RecordToProto(*record);
    if (filter->Match(AdaptPlugin(p))) out.push_back(std::move(p));
  }
  return out;
}

Result<std::string> IntrospectionService::Uuid() {
  MutexLock lock(&uuid_mu_);
  if (!uuid_.empty()) return uuid_;
  const std::filesystem::path path = std::filesystem::path(root_) / "uuid";
  std::ifstream in(path);
  if (in) {
    std::string data((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    if (!IsUuid(data)) {
      return Status::FailedPrecondition(path.string() +
                                        " does not hold a uuid");
    }
    uuid_ = data;
    return uuid_;
  }
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    return Status::Unknown("read " + path.string() + ": cannot open");
  }
  std::filesystem::create_directories(root_, ec);
  if (ec) return Status::Unknown("mkdir " + root_ + ": " + ec.message());
  ::chmod(root_.c_str(), 0700);
  std::string uuid = NewUuid();
  BERTH_RETURN_IF_ERROR(WriteFileAtomic(path, uuid));
  uuid_ = uuid;
  return uuid_;
}

grpc::ServerUnaryReactor* IntrospectionService::Plugins(
    grpc::CallbackServerContext* context,
    const introspection_pb::PluginsRequest* request,
    introspection_pb::PluginsResponse* response) {
  std::vector<std::string> exprs(request->filters().begin(),
                                 request->filters().end());
  Result<std::vector<introspection_pb::Plugin>> plugins = ListPlugins(exprs);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!plugins.ok()) {
    reactor->Finish(
        grpc_util::ToGrpc(Status::InvalidArgument(plugins.status().message())));
    return reactor;
  }
  for (introspection_pb::Plugin& p : *plugins) {
    *response->add_plugins() = std::move(p);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* IntrospectionService::Server(
    grpc::CallbackServerContext* context, const google::protobuf::Empty*,
    introspection_pb::ServerResponse* response) {
  Result<std::string> uuid = Uuid();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (uuid.ok()) response->set_uuid(*uuid);
  reactor->Finish(grpc_util::ToGrpc(uuid.status()));
  return reactor;
}

Registration IntrospectionRegistration(HostEnv env) {
  Registration r;
  r.type = std::string(types::kGrpc);
  r.id = "introspection";
  const PluginSet* plugins = env.plugins;
  r.init = [plugins](InitContext& ic) -> Result<std::shared_ptr<Plugin>> {
    return std::shared_ptr<Plugin>(
        std::make_shared<IntrospectionPlugin>(plugins, ic.root()));
  };
  return r;
}

}  // namespace berth::host
