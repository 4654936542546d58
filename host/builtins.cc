#include "builtins.h"

#include <utility>

#include "events/exchange.h"
#include "metadata/plugin.h"
#include "proxy_plugins.h"
#include "services/containers_service.h"
#include "services/content_service.h"
#include "services/diff_service.h"
#include "services/events_service.h"
#include "services/gc_service.h"
#include "services/healthcheck.h"
#include "services/images_service.h"
#include "services/introspection.h"
#include "services/leases_service.h"
#include "services/namespaces_service.h"
#include "services/snapshots_service.h"
#include "services/tasks_service.h"
#include "services/version.h"

namespace berth::host {

std::vector<SourcedRegistration> BuiltinRegistrations(HostEnv env) {
  std::vector<Registration> registrations;
  registrations.push_back(IntrospectionRegistration(env));
  registrations.push_back(VersionRegistration(env));
  registrations.push_back(HealthcheckRegistration(env));
  registrations.push_back(ExchangeRegistration(env));
  registrations.push_back(MetadataRegistration(env));
  registrations.push_back(ContainersServiceRegistration(env));
  registrations.push_back(ImagesServiceRegistration(env));
  registrations.push_back(ContentServiceRegistration(env));
  registrations.push_back(NamespacesServiceRegistration(env));
  registrations.push_back(SnapshotsServiceRegistration(env));
  registrations.push_back(DiffServiceRegistration(env));
  registrations.push_back(DiffGrpcServiceRegistration(env));
  registrations.push_back(LeasesServiceRegistration(env));
  registrations.push_back(GcServiceRegistration(env));
  registrations.push_back(EventsServiceRegistration(env));
  registrations.push_back(TasksServiceRegistration(env));
  if (env.config != nullptr) {
    for (Registration& r : ProxyRegistrations(*env.config)) registrations.push_back(std::move(r));
  }

  std::vector<SourcedRegistration> sourced;
  sourced.reserve(registrations.size());
  for (Registration& r : registrations) {
    sourced.push_back(SourcedRegistration{std::move(r), ""});
  }
  return sourced;
}

}  // namespace berth::host
