// io.containerd.grpc.v1.introspection:
// containerd.services.introspection.v1.Introspection.
//
// Plugins() lists every plugin record of the daemon at call time (init order,
// then libraries that failed to load), leaving out disabled plugins as
// containerd does; a skipped or failed plugin carries init_err. Server()
// answers a UUID generated once and kept in "<plugin root>/uuid".
//
// Thread-safe: the plugin set is only read (it is immutable after Init), and
// the UUID file is read (once, then cached) and written under a mutex.
#ifndef BERTH_HOST_SERVICES_INTROSPECTION_H_
#define BERTH_HOST_SERVICES_INTROSPECTION_H_

#include <string>
#include <vector>

#include "berth/mutex.h"
#include "berth/plugin.h"
#include "berth/status.h"
#include "builtins.h"
#include "containerd/services/introspection/v1/introspection.grpc.pb.h"
#include "core/plugin_set.h"

namespace berth::host {

namespace introspection_pb = containerd::services::introspection::v1;

// Whether introspection lists the record (not disabled, init attempted).
bool IsListed(const PluginRecord& record);
// The record as introspection's Plugin message.
introspection_pb::Plugin RecordToProto(const PluginRecord& record);

// A random (version 4) UUID in its canonical 36-character form.
std::string NewUuid();
// Whether `s` is a UUID in canonical form.
bool IsUuid(const std::string& s);

class IntrospectionService final
    : public introspection_pb::Introspection::CallbackService {
 public:
  // `plugins` must outlive the service; `root` holds the uuid file.
  IntrospectionService(const PluginSet* plugins, std::string root);

  // The listed records matching `filters` (containerd filter syntax on the
  // fields type and id). InvalidArgument for a filter that does not parse.
  Result<std::vector<introspection_pb::Plugin>> ListPlugins(
      const std::vector<std::string>& filters) const;
  // The server's UUID, created on first use. Unknown on I/O errors; a uuid
  // file that does not hold a UUID is FailedPrecondition.
  Result<std::string> Uuid() BERTH_EXCLUDES(uuid_mu_);

  grpc::ServerUnaryReactor* Plugins(
      grpc::CallbackServerContext* context,
      const introspection_pb::PluginsRequest* request,
      introspection_pb::PluginsResponse* response) override;
  grpc::ServerUnaryReactor* Server(
      grpc::CallbackServerContext* context,
      const google::protobuf::Empty* request,
      introspection_pb::ServerResponse* response) override;

 private:
  const PluginSet* const plugins_;
  const std::string root_;
  Mutex uuid_mu_;  // serialises reading and creating the uuid file
  std::string uuid_ BERTH_GUARDED_BY(uuid_mu_);  // "" until first read
};

Registration IntrospectionRegistration(HostEnv env);

}  // namespace berth::host

#endif  // BERTH_HOST_SERVICES_INTROSPECTION_H_
