// The faces of berthd's metadata plugin (io.containerd.metadata.v1), as the
// services and plugins that require it use them: never the host's classes.
//
//   r.required_types = {std::string(types::kMetadata)};
//   ... auto stores = ic.GetAs<berth::NamespacedStores>(types::kMetadata);
//
// - NamespacedStores: the content store and the snapshotters as one call's
//   namespace sees them, holding what the call creates in its lease.
// - NamespaceStore: containerd's namespaces.
// - LeaseManager: containerd's leases (leases.h has the value types).
// - ContainerStore, ImageStore (containers.h, images.h) and the event
//   exchange (events.h) are faces of their own.
//
// Every method takes the namespace explicitly, as containerd's take it from
// their context. Implementations are thread-safe.
#ifndef BERTH_METADATA_H_
#define BERTH_METADATA_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "berth/call_context.h"
#include "berth/content.h"
#include "berth/filters.h"
#include "berth/plugin.h"
#include "berth/snapshotter.h"
#include "berth/status.h"

namespace berth {

class NamespacedStores : public virtual Plugin {
 public:
  ~NamespacedStores() override;

  // The content store as `call.ns` sees it. Cheap: one small object a call.
  virtual Result<std::shared_ptr<ContentStore>> ContentFor(const CallContext& call) = 0;
  // The snapshotter `name` as `call.ns` sees it; InvalidArgument
  // ("snapshotter argument missing", "snapshotter not loaded: <name>") when
  // `name` is empty or names no loaded snapshotter.
  virtual Result<std::shared_ptr<Snapshotter>> SnapshotterFor(const CallContext& call,
                                                              const std::string& name) = 0;
  // The loaded snapshotters' names, sorted.
  virtual std::vector<std::string> SnapshotterNames() const = 0;
};

struct Namespace {
  std::string name;
  Labels labels;
};

class NamespaceStore : public virtual Plugin {
 public:
  ~NamespaceStore() override;

  // NotFound when absent.
  virtual Result<Namespace> GetNamespace(std::string_view name) = 0;
  virtual Result<std::vector<Namespace>> ListNamespaces() = 0;
  // AlreadyExists; InvalidArgument for a name that is no identifier or bad
  // labels.
  virtual Status CreateNamespace(const Namespace& ns) = 0;
  // Applies `fieldpaths` ("labels", "labels.<key>"; none = every label) from
  // `ns`, creating the namespace when it does not exist (as containerd does).
  virtual Result<Namespace> UpdateNamespace(const Namespace& ns,
                                            const std::vector<std::string>& fieldpaths) = 0;
  // NotFound; FailedPrecondition while the namespace holds anything.
  virtual Status DeleteNamespace(std::string_view name) = 0;
};

}  // namespace berth

#endif  // BERTH_METADATA_H_
