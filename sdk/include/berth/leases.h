// containerd's leases: a lease holds resources (content, ingests,
// snapshots) so that garbage collection keeps them while it lives. The face
// the metadata plugin offers the leases service and plugins (berth/metadata.h).
// Implementations are thread-safe.
#ifndef BERTH_LEASES_H_
#define BERTH_LEASES_H_

#include <string>
#include <string_view>
#include <vector>

#include "berth/content.h"
#include "berth/filters.h"
#include "berth/plugin.h"
#include "berth/status.h"

namespace berth {

// Labels that steer garbage collection.
inline constexpr std::string_view kLabelGcExpire = "containerd.io/gc.expire";
inline constexpr std::string_view kLabelGcFlat = "containerd.io/gc.flat";
inline constexpr std::string_view kLabelGcRoot = "containerd.io/gc.root";

// Resource types as the leases API names them; a snapshot's type is
// "snapshots/<snapshotter>".
inline constexpr std::string_view kResourceContent = "content";
inline constexpr std::string_view kResourceIngests = "ingests";

struct Lease {
  std::string id;
  Timestamp created_at;
  Labels labels;
};

struct LeaseResource {
  std::string id;
  std::string type;
  bool operator==(const LeaseResource&) const = default;
};

class LeaseManager : public virtual Plugin {
 public:
  ~LeaseManager() override;

  // Creates the lease `id` (any non-empty string) with `labels`.
  // InvalidArgument for an empty id or bad labels; AlreadyExists.
  virtual Result<Lease> CreateLease(std::string_view ns, const std::string& id,
                                    const Labels& labels) = 0;
  // Deletes the lease (not what it holds). NotFound.
  virtual Status DeleteLease(std::string_view ns, const std::string& id) = 0;
  // The leases matching `filter` (fields "id", "labels.<key>").
  virtual Result<std::vector<Lease>> ListLeases(std::string_view ns,
                                                const filters::Filter& filter) = 0;
  // NotFound for an unknown (or empty) lease id; InvalidArgument for a
  // content id that is no digest, a snapshot type without a snapshotter;
  // NotImplemented for any other type.
  virtual Status AddLeaseResource(std::string_view ns, const std::string& id,
                                  const LeaseResource& r) = 0;
  // Removing a resource the lease does not hold is no error.
  virtual Status DeleteLeaseResource(std::string_view ns, const std::string& id,
                                     const LeaseResource& r) = 0;
  virtual Result<std::vector<LeaseResource>> ListLeaseResources(std::string_view ns,
                                                                const std::string& id) = 0;
};

}  // namespace berth

#endif  // BERTH_LEASES_H_
