// ImageRecords: containerd's image records over the metadata store, per
// namespace, with the rules of containerd's metadata/images.go: a name bound
// to a target descriptor, with labels.
//
// A record (v1/n/<ns>/images/<name>, see db.h) is stored as the wire message
// containerd.services.images.v1.Image; ToProto/FromProto are that one
// conversion, shared with the images service so that what is stored is what
// is served.
//
// Images are roots of garbage collection: ScanImageForGc, registered as the
// gc kind "images" (gc.h), keeps an image's target blob and its
// containerd.io/gc.ref.* labels' targets alive; the target's own
// containerd.io/gc.ref.content.* labels carry the hold on to manifests,
// configs and layers. Nothing is freed when an image goes; the next
// collection frees what nothing else holds.
//
// Thread-safe: every change holds the store's collection lock (shared) and
// write lock from its first read to its write.
#ifndef BERTH_HOST_METADATA_IMAGES_H_
#define BERTH_HOST_METADATA_IMAGES_H_

#include <string>
#include <string_view>
#include <vector>

#include "berth/filters.h"
#include "berth/images.h"
#include "containerd/services/images/v1/images.pb.h"
#include "containerd/types/descriptor.pb.h"
#include "metadata/db.h"
#include "metadata/gc.h"

namespace berth::host::metadata {

using berth::Image;

// The gc kind (the key component after "v1/n/<ns>/") of image records.
inline constexpr std::string_view kImagesKind = "images";

class ImageRecords {
 public:
  explicit ImageRecords(MetadataStore* db) : db_(db) {}

  // NotFound ("image \"<name>\"") when absent.
  Result<Image> Get(std::string_view ns, std::string_view name);
  // The namespace's images matching `filter` (fields "name", "target.digest",
  // "target.mediatype", "labels.<key>", "annotations.<key>", as containerd's
  // adaptImage), by name.
  Result<std::vector<Image>> List(std::string_view ns, const filters::Filter& filter);
  // Stores `image` with created_at = updated_at = now and returns it as
  // stored (labels and annotations with empty values dropped).
  // InvalidArgument (see ValidateImage); AlreadyExists ("image \"<name>\"").
  Result<Image> Create(std::string_view ns, const Image& image);
  // Applies `fieldpaths` from `image` to the record `image.name`
  // (containerd's field mask: "labels", "labels.<key>", "target",
  // "annotations", "annotations.<key>"; a key absent from `image` is
  // removed). None replaces the whole record but its created_at.
  // InvalidArgument for an empty name, any other path ("cannot update
  // \"<path>\" field on image \"<name>\"") or a result that does not
  // validate; NotFound.
  Result<Image> Update(std::string_view ns, const Image& image,
                       const std::vector<std::string>& fieldpaths);
  // NotFound.
  Status Delete(std::string_view ns, std::string_view name);

 private:
  MetadataStore* db_;
};

// containerd's validateImage: the name is not empty ("image name must not be
// empty"), labels are valid ("image.Labels: ..."), and the target has a
// valid digest ("Target.Digest \"<d>\" invalid: ..."), a size above zero
// ("Target.Size must be greater than zero") and a media type
// ("Target.MediaType must be set"), checked in that order. InvalidArgument
// otherwise.
Status ValidateImage(const Image& image);

// The stored and wire forms.
void ToProto(const Descriptor& d, containerd::types::Descriptor* out);
Descriptor FromProto(const containerd::types::Descriptor& pb);
void ToProto(const Image& image, containerd::services::images::v1::Image* out);
Image FromProto(const containerd::services::images::v1::Image& pb);

// The filter fields of an image (see ImageRecords::List). Refers to `image`,
// which must outlive the adaptor.
filters::Adaptor AdaptImage(const Image& image);

// The gc scanner of image records (GcKindScanner): the target blob and the
// image's label references. Unknown for a record that does not parse.
Status ScanImageForGc(std::string_view ns, std::string_view rest, std::string_view value,
                      GcRootSink& roots);

}  // namespace berth::host::metadata

#endif  // BERTH_HOST_METADATA_IMAGES_H_
