// LeaseStore: containerd's leases over the metadata store, per namespace.
//
// A lease is a record (v1/n/<ns>/leases/<id>, see db.h) plus the resources
// it holds: content by digest, ingests by ref, snapshots by snapshotter and
// key. While it lives (no containerd.io/gc.expire label, or one in the
// future), garbage collection keeps what it holds and, unless the lease is
// labelled containerd.io/gc.flat, everything those refer to. A resource may
// name something that does not exist (yet); deleting a lease deletes only
// the lease, and a later collection frees what nothing else holds.
//
// The content store and the snapshotters attach what they create to the
// caller's lease (the `containerd-lease` header) with HoldResource in their
// own batches; a lease id that does not exist is NotFound, as in containerd.
//
// Thread-safe: every change holds the store's collection and write locks.
#ifndef BERTH_HOST_METADATA_LEASES_H_
#define BERTH_HOST_METADATA_LEASES_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "berth/content.h"
#include "berth/leases.h"
#include "berth/filters.h"
#include "berth/time.h"
#include "metadata/db.h"

namespace berth::host::metadata {

using berth::kLabelGcExpire;
using berth::kLabelGcFlat;
using berth::kLabelGcRoot;
using berth::kResourceContent;
using berth::kResourceIngests;
using berth::Lease;
using berth::LeaseResource;

// "snapshots/<snapshotter>".
std::string SnapshotResourceType(std::string_view snapshotter);

class LeaseStore {
 public:
  explicit LeaseStore(MetadataStore* db) : db_(db) {}

  // Creates the lease `id` with `labels`. InvalidArgument for an empty id
  // or bad labels; AlreadyExists. Any other id is fine: ids are names, and
  // reach no path (db.h escapes them in keys).
  Result<Lease> Create(std::string_view ns, const std::string& id, const Labels& labels);
  // Deletes the lease and its list of resources (not the resources). NotFound.
  Status Delete(std::string_view ns, const std::string& id);
  // The namespace's leases matching `filter` (fields "id", "labels.<key>").
  Result<std::vector<Lease>> List(std::string_view ns, const filters::Filter& filter);
  // NotFound for an unknown lease; InvalidArgument for an empty id, a content
  // id that is no digest or a snapshot type without a snapshotter;
  // NotImplemented for any other type.
  Status AddResource(std::string_view ns, const std::string& id, const LeaseResource& r);
  // Removing a resource the lease does not hold is no error.
  Status DeleteResource(std::string_view ns, const std::string& id, const LeaseResource& r);
  Result<std::vector<LeaseResource>> ListResources(std::string_view ns, const std::string& id);

 private:
  MetadataStore* db_;
};

// NotFound ("lease does not exist") when `ns` has no lease `id`; OK for an
// empty id (no lease). REQUIRES: write_mutex() held, so that the lease
// cannot go before the caller's batch is written.
Status CheckLease(MetadataStore& db, std::string_view ns, std::string_view id)
    BERTH_REQUIRES(db.write_mutex());
// Adds to (or removes from) `batch` the key by which lease `lease` holds a
// resource of `type`; nothing for an empty lease.
void HoldResource(leveldb::WriteBatch& batch, std::string_view ns, std::string_view lease,
                  std::string_view type, std::string_view id);
void ReleaseResource(leveldb::WriteBatch& batch, std::string_view ns, std::string_view lease,
                     std::string_view type, std::string_view id);
// The backend (db.h) a resource type's storage lives in, "" for none.
std::string BackendOfResourceType(std::string_view type);

// Parses RFC 3339 ("2006-01-02T15:04:05Z", "...05.123+02:00"); nullopt when
// malformed.
// (Its counterpart, FormatRfc3339, is berth/time.h's.)
std::optional<Timestamp> ParseRfc3339(std::string_view text);

filters::Adaptor AdaptLease(const Lease& lease);

// Whether going from `before` to `after` removed or changed a
// containerd.io/gc.* label, so that something may have lost a reference.
bool DropsGcLabel(const Labels& before, const Labels& after);

}  // namespace berth::host::metadata

#endif  // BERTH_HOST_METADATA_LEASES_H_
