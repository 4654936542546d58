// ContainerStore: containerd's container records (containers.Store), per
// namespace, as the containers service and the runtime read them. A record
// is metadata only: the task (processes) is the runtime's. Containers are
// roots of garbage collection, with their snapshot and their
// containerd.io/gc.ref.* labels. Implemented by the metadata plugin
// (io.containerd.metadata.v1; berth/metadata.h). Thread-safe.
#ifndef BERTH_CONTAINERS_H_
#define BERTH_CONTAINERS_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "berth/any.h"
#include "berth/content.h"
#include "berth/filters.h"
#include "berth/plugin.h"
#include "berth/status.h"

namespace berth {

struct Container {
  std::string id;  // an identifier (berth/identifiers.h)
  Labels labels;
  std::string image;
  struct Runtime {
    std::string name;  // e.g. "io.containerd.runc.v2"
    Any options;       // e.g. containerd.runc.v1.Options
  } runtime;
  Any spec;  // the OCI runtime spec
  std::string snapshotter;
  std::string snapshot_key;
  Timestamp created_at;
  Timestamp updated_at;
  std::map<std::string, Any> extensions;
};

class ContainerStore : public virtual Plugin {
 public:
  ~ContainerStore() override;

  // NotFound when absent.
  virtual Result<Container> GetContainer(std::string_view ns, std::string_view id) = 0;
  // The containers matching any of `filters` (containerd's filter syntax).
  virtual Result<std::vector<Container>> ListContainers(std::string_view ns,
                                                        const filters::Filter& filter) = 0;
  // AlreadyExists; InvalidArgument naming the field (id, runtime.name, spec).
  virtual Result<Container> CreateContainer(std::string_view ns, const Container& c) = 0;
  // Applies `fieldpaths` (containerd's: labels, labels.<key>, image, spec,
  // runtime, snapshotter, snapshotkey, extensions, extensions.<key>; none =
  // every mutable field). NotFound; InvalidArgument for an immutable field.
  virtual Result<Container> UpdateContainer(std::string_view ns, const Container& c,
                                            const std::vector<std::string>& fieldpaths) = 0;
  // NotFound.
  virtual Status DeleteContainer(std::string_view ns, std::string_view id) = 0;
};

}  // namespace berth

#endif  // BERTH_CONTAINERS_H_
