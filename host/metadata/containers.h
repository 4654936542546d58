// ContainerRecords: containerd's container records over the metadata store,
// per namespace, with the rules of containerd's metadata/containers.go.
//
// A record (v1/n/<ns>/containers/<id>, see db.h) is stored as the wire
// message containerd.services.containers.v1.Container; ToProto/FromProto are
// that one conversion, shared with the containers service so that what is
// stored is what is served.
//
// Containers are roots of garbage collection: ScanContainerForGc, registered
// as the gc kind "containers" (gc.h), keeps a container's snapshot
// (snapshotter + snapshot_key) and its containerd.io/gc.ref.* labels'
// targets alive. Nothing is freed when a container goes; the next collection
// frees what nothing else holds.
//
// Thread-safe: every change holds the store's collection lock (shared) and
// write lock from its first read to its write.
#ifndef BERTH_HOST_METADATA_CONTAINERS_H_
#define BERTH_HOST_METADATA_CONTAINERS_H_

#include <string>
#include <string_view>
#include <vector>

#include "berth/containers.h"
#include "berth/filters.h"
#include "containerd/services/containers/v1/containers.pb.h"
#include "metadata/db.h"
#include "metadata/gc.h"

namespace berth::host::metadata {

using berth::Container;

// The gc kind (the key component after "v1/n/<ns>/") of container records.
inline constexpr std::string_view kContainersKind = "containers";

class ContainerRecords {
 public:
  explicit ContainerRecords(MetadataStore* db) : db_(db) {}

  // NotFound ("container \"<id>\" in namespace \"<ns>\"") when absent.
  Result<Container> Get(std::string_view ns, std::string_view id);
  // The namespace's containers matching `filter` (fields "id", "image",
  // "runtime.name", "labels.<key>", as containerd's adaptContainer), by id.
  Result<std::vector<Container>> List(std::string_view ns, const filters::Filter& filter);
  // Stores `c` with created_at = updated_at = now and returns it as stored
  // (labels with empty values dropped). InvalidArgument ("create container
  // failed validation: ...", see Validate); AlreadyExists.
  Result<Container> Create(std::string_view ns, const Container& c);
  // Applies `fieldpaths` from `c` to the record `c.id` (containerd's field
  // mask: "labels", "labels.<key>", "image", "spec", "snapshotkey",
  // "extensions", "extensions.<key>"; a key absent from `c` is removed).
  // None = labels, spec, extensions, image and snapshotkey, and then `c`'s
  // snapshotter and runtime.name must equal the record's. InvalidArgument for
  // an empty id, any other path ("cannot update \"runtime\" field on
  // \"<id>\""), a changed immutable field ("container.Snapshotter field is
  // immutable") or a result that does not validate; NotFound.
  Result<Container> Update(std::string_view ns, const Container& c,
                           const std::vector<std::string>& fieldpaths);
  // NotFound.
  Status Delete(std::string_view ns, std::string_view id);

 private:
  MetadataStore* db_;
};

// containerd's validateContainer: the id is an identifier ("container.ID:
// ..."), extension keys are not empty, labels are valid ("containers.Labels:
// ..."), runtime.name is set ("container.Runtime.Name must be set"), the spec
// is set ("container.Spec must be set"), and a snapshot key comes with a
// snapshotter. InvalidArgument otherwise. berth adds: the record, in its wire
// form, is at most kMaxContainerRecordSize bytes ("container record of N
// bytes exceeds the maximum of M bytes ..."), so a Create or Update that
// would grow it past the maximum message size is refused before it is
// stored, not stored and then reported failed (containerd's behaviour).
Status ValidateContainer(const Container& c);

// The largest container record: containerd's default maximum message size
// (16 MiB, [grpc] max_send_message_size) less 64 KiB for the rest of a
// response. Labels alone are bounded lower (kMaxLabelsSize); the spec and
// extensions (extensions.<key> updates add up) are what reach this.
inline constexpr std::size_t kMaxContainerRecordSize = (16 << 20) - (64 << 10);

// The stored and wire forms. An empty Any (no type URL, no bytes) is an
// unset message both ways.
void ToProto(const Container& c, containerd::services::containers::v1::Container* out);
Container FromProto(const containerd::services::containers::v1::Container& pb);

// The filter fields of a container (see ContainerRecords::List).
filters::Adaptor AdaptContainer(const Container& c);

// The gc scanner of container records (GcKindScanner): the container's
// snapshot, when it names a snapshotter, and its label references. Unknown
// for a record that does not parse.
Status ScanContainerForGc(std::string_view ns, std::string_view rest, std::string_view value,
                          GcRootSink& roots);

}  // namespace berth::host::metadata

#endif  // BERTH_HOST_METADATA_CONTAINERS_H_
