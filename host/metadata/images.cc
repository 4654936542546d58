#include "metadata/images.h"

#include <optional>

#include "berth/digest.h"
#include "berth/grpc/convert.h"
#include "metadata/leases.h"
#include "metadata/records.h"

namespace berth::host::metadata {
namespace {

namespace ipb = containerd::services::images::v1;

constexpr std::string_view kLabelsPath = "labels";
constexpr std::string_view kAnnotationsPath = "annotations";

// containerd stores no label or annotation with an empty value.
void DropEmptyValues(Image& image) {
  metadata::DropEmptyValues(image.labels);
  metadata::DropEmptyValues(image.target.annotations);
}

// Sets `key` in `to` to its value in `from` ("" when absent: dropped on write).
void CopyKey(Labels& to, const Labels& from, const std::string& key) {
  auto it = from.find(key);
  to[key] = it == from.end() ? std::string() : it->second;
}

// Applies one field path of an update to `updated`.
Status ApplyPath(Image& updated, const Image& from, const std::string& path) {
  if (auto key = FieldSubkey(path, kLabelsPath)) {
    CopyKey(updated.labels, from.labels, *key);
  } else if (auto key = FieldSubkey(path, kAnnotationsPath)) {
    CopyKey(updated.target.annotations, from.target.annotations, *key);
  } else if (path == kLabelsPath) {
    updated.labels = from.labels;
  } else if (path == "target") {
    // As containerd: the target is replaced as a unit, never field by field.
    updated.target = from.target;
  } else if (path == kAnnotationsPath) {
    updated.target.annotations = from.target.annotations;
  } else {
    return Status::InvalidArgument("cannot update \"" + path + "\" field on image \"" + from.name +
                                   "\"");
  }
  return Status::Ok();
}

// Image records, for records.h.
struct ImageKind {
  using Record = Image;
  static std::string Key(std::string_view ns, std::string_view name) {
    return keys::Image(ns, name);
  }
  static std::string Prefix(std::string_view ns) { return keys::ImagePrefix(ns); }
  static const std::string& Id(const Image& image) { return image.name; }
  static std::string Quoted(std::string_view name) {
    return "image \"" + std::string(name) + "\"";
  }
  static std::string Encode(const Image& image) {
    ipb::Image pb;
    ToProto(image, &pb);
    return pb.SerializeAsString();
  }
  static Result<Image> Decode(std::string_view bytes) {
    ipb::Image pb;
    if (!pb.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return Status::Unknown("corrupt image record");
    }
    return FromProto(pb);
  }
  static filters::Adaptor Adapt(const Image& image) { return AdaptImage(image); }
  // A dropped gc label or another target.
  static bool DropsReference(const Image& before, const Image& after) {
    return DropsGcLabel(before.labels, after.labels) || before.target.digest != after.target.digest;
  }
};

}  // namespace

void ToProto(const Descriptor& d, containerd::types::Descriptor* out) {
  out->set_media_type(d.media_type);
  out->set_digest(d.digest);
  out->set_size(d.size);
  for (const auto& [k, v] : d.annotations) (*out->mutable_annotations())[k] = v;
}

Descriptor FromProto(const containerd::types::Descriptor& pb) {
  Descriptor d;
  d.media_type = pb.media_type();
  d.digest = pb.digest();
  d.size = pb.size();
  d.annotations.insert(pb.annotations().begin(), pb.annotations().end());
  return d;
}

void ToProto(const Image& image, ipb::Image* out) {
  out->set_name(image.name);
  for (const auto& [k, v] : image.labels) (*out->mutable_labels())[k] = v;
  ToProto(image.target, out->mutable_target());
  grpc_util::ToProto(image.created_at, out->mutable_created_at());
  grpc_util::ToProto(image.updated_at, out->mutable_updated_at());
}

Image FromProto(const ipb::Image& pb) {
  Image image;
  image.name = pb.name();
  image.labels.insert(pb.labels().begin(), pb.labels().end());
  image.target = FromProto(pb.target());
  if (pb.has_created_at()) image.created_at = grpc_util::FromProto(pb.created_at());
  if (pb.has_updated_at()) image.updated_at = grpc_util::FromProto(pb.updated_at());
  return image;
}

Status ValidateImage(const Image& image) {
  if (image.name.empty()) return Status::InvalidArgument("image name must not be empty");
  BERTH_RETURN_IF_ERROR(ValidateLabels(image.labels).Annotate("image.Labels"));
  const Descriptor& target = image.target;
  Status digest = ValidateDigest(target.digest);
  if (!digest.ok()) {
    // As go-digest says it: the reason alone, after containerd's prefix.
    std::string why = digest.message();
    const std::string lead = "invalid digest \"" + target.digest + "\": ";
    if (why.compare(0, lead.size(), lead) == 0) why.erase(0, lead.size());
    return Status::InvalidArgument("Target.Digest \"" + target.digest + "\" invalid: " + why);
  }
  if (target.size <= 0) return Status::InvalidArgument("Target.Size must be greater than zero");
  if (target.media_type.empty()) return Status::InvalidArgument("Target.MediaType must be set");
  return Status::Ok();
}

filters::Adaptor AdaptImage(const Image& image) {
  return [&image](const std::vector<std::string>& path) -> std::optional<std::string> {
    if (path.empty()) return std::nullopt;
    if (path[0] == "name") return PresentField(image.name);
    if (path[0] == "target") {
      if (path.size() < 2) return std::nullopt;
      if (path[1] == "digest") return PresentField(image.target.digest);
      if (path[1] == "mediatype") return PresentField(image.target.media_type);
      return std::nullopt;
    }
    if (path[0] == kLabelsPath) return MapField(path, image.labels);
    if (path[0] == kAnnotationsPath) return MapField(path, image.target.annotations);
    return std::nullopt;
  };
}

Status ScanImageForGc(std::string_view ns, std::string_view rest, std::string_view value,
                      GcRootSink& roots) {
  auto image = ImageKind::Decode(value);
  if (!image.ok()) return image.status().Annotate(ImageKind::Quoted(rest));
  if (!image->target.digest.empty()) roots.Content(ns, image->target.digest);
  roots.LabelRefs(ns, image->labels);
  return Status::Ok();
}

Result<Image> ImageRecords::Get(std::string_view ns, std::string_view name) {
  return GetRecord<ImageKind>(*db_, ns, name, ImageKind::Quoted(name));
}

Result<std::vector<Image>> ImageRecords::List(std::string_view ns, const filters::Filter& filter) {
  return ListRecords<ImageKind>(*db_, ns, filter);
}

Result<Image> ImageRecords::Create(std::string_view ns, const Image& image) {
  BERTH_RETURN_IF_ERROR(ValidateImage(image));
  Image record = image;
  DropEmptyValues(record);
  return CreateRecord<ImageKind>(*db_, ns, std::move(record));
}

Result<Image> ImageRecords::Update(std::string_view ns, const Image& image,
                                   const std::vector<std::string>& fieldpaths) {
  if (image.name.empty()) return Status::InvalidArgument("image name is required for update");
  return UpdateRecord<ImageKind>(*db_, ns, image.name, [&](const Image&, Image& updated) {
    if (fieldpaths.empty()) updated = image;
    for (const std::string& path : fieldpaths) {
      BERTH_RETURN_IF_ERROR(ApplyPath(updated, image, path));
    }
    DropEmptyValues(updated);
    return ValidateImage(updated);
  });
}

Status ImageRecords::Delete(std::string_view ns, std::string_view name) {
  return DeleteRecord<ImageKind>(*db_, ns, name);
}

}  // namespace berth::host::metadata
