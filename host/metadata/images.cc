#include "metadata/images.h"

#include <chrono>
#include <iterator>
#include <optional>
#include <utility>

#include "berth/digest.h"
#include "berth/grpc/convert.h"
#include "metadata/leases.h"

namespace berth::host::metadata {
namespace {

namespace ipb = containerd::services::images::v1;

constexpr std::string_view kLabelsPath = "labels";
constexpr std::string_view kAnnotationsPath = "annotations";

std::string Encode(const Image& image) {
  ipb::Image pb;
  ToProto(image, &pb);
  return pb.SerializeAsString();
}

Result<Image> Decode(std::string_view bytes) {
  ipb::Image pb;
  if (!pb.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Unknown("corrupt image record");
  }
  return FromProto(pb);
}

std::string Quoted(std::string_view name) { return "image \"" + std::string(name) + "\""; }

// containerd stores no label or annotation with an empty value (boltutil's
// writeMap).
void DropEmptyValues(Labels& map) {
  for (auto it = map.begin(); it != map.end();) {
    it = it->second.empty() ? map.erase(it) : std::next(it);
  }
}

void DropEmptyValues(Image& image) {
  DropEmptyValues(image.labels);
  DropEmptyValues(image.target.annotations);
}

// The part of `path` after "<prefix>.", or nullopt when it does not start so.
std::optional<std::string> Subkey(std::string_view path, std::string_view prefix) {
  if (path.size() <= prefix.size() || path.compare(0, prefix.size(), prefix) != 0 ||
      path[prefix.size()] != '.') {
    return std::nullopt;
  }
  return std::string(path.substr(prefix.size() + 1));
}

// Sets `key` in `to` to its value in `from` ("" when absent: dropped on write).
void CopyKey(Labels& to, const Labels& from, const std::string& key) {
  auto it = from.find(key);
  to[key] = it == from.end() ? std::string() : it->second;
}

// Applies one field path of an update to `updated`.
Status ApplyPath(Image& updated, const Image& from, const std::string& path) {
  if (auto key = Subkey(path, kLabelsPath)) {
    CopyKey(updated.labels, from.labels, *key);
  } else if (auto key = Subkey(path, kAnnotationsPath)) {
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

// Whether replacing `before` by `after` may have freed something a
// collection can take: a dropped gc label or another target.
bool DropsReference(const Image& before, const Image& after) {
  return DropsGcLabel(before.labels, after.labels) || before.target.digest != after.target.digest;
}

Status ReadRecord(MetadataStore& db, std::string_view ns, std::string_view name, Image& out,
                  bool& found) {
  auto value = db.Get(keys::Image(ns, name));
  if (!value.ok()) return value.status();
  found = value->has_value();
  if (!found) return Status::Ok();
  auto image = Decode(**value);
  if (!image.ok()) return image.status().Annotate(Quoted(name));
  out = std::move(*image);
  return Status::Ok();
}

std::optional<std::string> Present(const std::string& v) {
  if (v.empty()) return std::nullopt;
  return v;
}

// containerd's checkMap: the key is the rest of the path, joined by ".".
std::optional<std::string> MapField(const std::vector<std::string>& path, const Labels& map) {
  if (path.size() < 2) return std::nullopt;
  std::string key = path[1];
  for (std::size_t i = 2; i < path.size(); ++i) key += "." + path[i];
  auto it = map.find(key);
  if (it == map.end()) return std::nullopt;
  return it->second;
}

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
    if (path[0] == "name") return Present(image.name);
    if (path[0] == "target") {
      if (path.size() < 2) return std::nullopt;
      if (path[1] == "digest") return Present(image.target.digest);
      if (path[1] == "mediatype") return Present(image.target.media_type);
      return std::nullopt;
    }
    if (path[0] == kLabelsPath) return MapField(path, image.labels);
    if (path[0] == kAnnotationsPath) return MapField(path, image.target.annotations);
    return std::nullopt;
  };
}

Status ScanImageForGc(std::string_view ns, std::string_view rest, std::string_view value,
                      GcRootSink& roots) {
  auto image = Decode(value);
  if (!image.ok()) return image.status().Annotate(Quoted(rest));
  if (!image->target.digest.empty()) roots.Content(ns, image->target.digest);
  roots.LabelRefs(ns, image->labels);
  return Status::Ok();
}

Result<Image> ImageRecords::Get(std::string_view ns, std::string_view name) {
  Image image;
  bool found = false;
  if (!name.empty()) BERTH_RETURN_IF_ERROR(ReadRecord(*db_, ns, name, image, found));
  if (!found) return Status::NotFound(Quoted(name));
  return image;
}

Result<std::vector<Image>> ImageRecords::List(std::string_view ns, const filters::Filter& filter) {
  std::vector<Image> out;
  Status bad;
  const std::string prefix = keys::ImagePrefix(ns);
  BERTH_RETURN_IF_ERROR(db_->Scan(prefix, [&](std::string_view key, std::string_view value) {
    auto image = Decode(value);
    if (!image.ok()) {
      bad = image.status().Annotate(Quoted(key.substr(prefix.size())));
      return false;
    }
    if (filter.Match(AdaptImage(*image))) out.push_back(std::move(*image));
    return true;
  }));
  BERTH_RETURN_IF_ERROR(bad);
  return out;
}

Result<Image> ImageRecords::Create(std::string_view ns, const Image& image) {
  BERTH_RETURN_IF_ERROR(ValidateImage(image));
  Image record = image;
  DropEmptyValues(record);
  record.created_at = std::chrono::system_clock::now();
  record.updated_at = record.created_at;
  {
    ReaderLock collect(&db_->collection_mutex());
    MutexLock lock(&db_->write_mutex());
    const std::string key = keys::Image(ns, record.name);
    auto existing = db_->Get(key);
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) return Status::AlreadyExists(Quoted(record.name));
    leveldb::WriteBatch batch;
    BERTH_RETURN_IF_ERROR(db_->EnsureNamespace(ns, batch));
    batch.Put(key, Encode(record));
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  db_->Mutated(false);
  return record;
}

Result<Image> ImageRecords::Update(std::string_view ns, const Image& image,
                                   const std::vector<std::string>& fieldpaths) {
  if (image.name.empty()) return Status::InvalidArgument("image name is required for update");
  Image before;
  Image updated;
  {
    ReaderLock collect(&db_->collection_mutex());
    MutexLock lock(&db_->write_mutex());
    bool found = false;
    BERTH_RETURN_IF_ERROR(ReadRecord(*db_, ns, image.name, before, found));
    if (!found) return Status::NotFound(Quoted(image.name));
    updated = before;
    if (fieldpaths.empty()) updated = image;
    for (const std::string& path : fieldpaths) {
      BERTH_RETURN_IF_ERROR(ApplyPath(updated, image, path));
    }
    DropEmptyValues(updated);
    BERTH_RETURN_IF_ERROR(ValidateImage(updated));
    updated.created_at = before.created_at;
    updated.updated_at = std::chrono::system_clock::now();
    leveldb::WriteBatch batch;
    batch.Put(keys::Image(ns, image.name), Encode(updated));
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  db_->Mutated(DropsReference(before, updated));
  return updated;
}

Status ImageRecords::Delete(std::string_view ns, std::string_view name) {
  if (name.empty()) return Status::NotFound(Quoted(name));
  {
    ReaderLock collect(&db_->collection_mutex());
    MutexLock lock(&db_->write_mutex());
    const std::string key = keys::Image(ns, name);
    auto existing = db_->Get(key);
    if (!existing.ok()) return existing.status();
    if (!existing->has_value()) return Status::NotFound(Quoted(name));
    leveldb::WriteBatch batch;
    batch.Delete(key);
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  db_->Mutated(true);
  return Status::Ok();
}

}  // namespace berth::host::metadata
