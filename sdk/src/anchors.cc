// Out-of-line key functions of the SDK's interfaces. Defining them here, in
// libberth-sdk.so, gives each interface one vtable and one type_info for the
// whole process, so dynamic_cast agrees across plugin libraries.
#include "berth/config.h"
#include "berth/containers.h"
#include "berth/events.h"
#include "berth/gc.h"
#include "berth/grpc_service.h"
#include "berth/images.h"
#include "berth/init_context.h"
#include "berth/leases.h"
#include "berth/locality.h"
#include "berth/logger.h"
#include "berth/metadata.h"
#include "berth/metrics_source.h"
#include "berth/plugin.h"
#include "berth/runtime.h"
#include "berth/ttrpc_service.h"

namespace berth {

Plugin::~Plugin() = default;
Status Plugin::Close() { return Status::Ok(); }
Registrar::~Registrar() = default;
InitContext::~InitContext() = default;
Logger::~Logger() = default;
ConfigFields::~ConfigFields() = default;
PluginConfig::~PluginConfig() = default;
GrpcServicePlugin::~GrpcServicePlugin() = default;
TtrpcServicePlugin::~TtrpcServicePlugin() = default;
MetricsSource::~MetricsSource() = default;
GarbageCollector::~GarbageCollector() = default;
GcScheduler::~GcScheduler() = default;
NamespacedStores::~NamespacedStores() = default;
NamespaceStore::~NamespaceStore() = default;
LeaseManager::~LeaseManager() = default;
RemoteBackend::~RemoteBackend() = default;
ContainerStore::~ContainerStore() = default;
ImageStore::~ImageStore() = default;
EventPublisher::~EventPublisher() = default;
EventSubscription::~EventSubscription() = default;
EventExchange::~EventExchange() = default;
Task::~Task() = default;
TaskRuntime::~TaskRuntime() = default;

}  // namespace berth
