#include "metadata/containers.h"

#include <optional>

#include "berth/grpc/convert.h"
#include "berth/identifiers.h"
#include "metadata/leases.h"
#include "metadata/records.h"

namespace berth::host::metadata {
namespace {

namespace cpb = containerd::services::containers::v1;

constexpr std::string_view kLabelsPath = "labels";
constexpr std::string_view kExtensionsPath = "extensions";

void AnyToProto(const Any& any, google::protobuf::Any* out) {
  out->set_type_url(any.type_url);
  out->set_value(any.value);
}

Any AnyFromProto(const google::protobuf::Any& pb) { return Any{pb.type_url(), pb.value()}; }

// Applies `fieldpaths` of `c` (see ContainerRecords::Update) to `updated`, a
// copy of the record `before`, and validates the result.
Status ApplyUpdate(const Container& before, const Container& c,
                   const std::vector<std::string>& fieldpaths, Container& updated) {
  std::vector<std::string> paths = fieldpaths;
  if (paths.empty()) {
    // A full replace changes only these; the immutable fields must match,
    // so that they may become mutable later (as containerd says).
    paths = {"labels", "spec", "extensions", "image", "snapshotkey"};
    if (before.snapshotter != c.snapshotter) {
      return Status::InvalidArgument("container.Snapshotter field is immutable");
    }
    if (before.runtime.name != c.runtime.name) {
      return Status::InvalidArgument("container.Runtime.Name field is immutable");
    }
  }
  for (const std::string& path : paths) {
    if (auto key = FieldSubkey(path, kLabelsPath)) {
      auto it = c.labels.find(*key);
      if (it == c.labels.end() || it->second.empty()) {
        updated.labels.erase(*key);
      } else {
        updated.labels[*key] = it->second;
      }
      continue;
    }
    if (auto key = FieldSubkey(path, kExtensionsPath)) {
      auto it = c.extensions.find(*key);
      if (it == c.extensions.end()) {
        updated.extensions.erase(*key);
      } else {
        updated.extensions[*key] = it->second;
      }
      continue;
    }
    if (path == kLabelsPath) {
      updated.labels = c.labels;
    } else if (path == "spec") {
      updated.spec = c.spec;
    } else if (path == kExtensionsPath) {
      updated.extensions = c.extensions;
    } else if (path == "image") {
      updated.image = c.image;
    } else if (path == "snapshotkey") {
      updated.snapshot_key = c.snapshot_key;
    } else {
      return Status::InvalidArgument("cannot update \"" + path + "\" field on \"" + c.id +
                                     "\"");
    }
  }
  DropEmptyValues(updated.labels);
  return ValidateContainer(updated).Annotate("update failed validation");
}

// Container records, for records.h.
struct ContainerKind {
  using Record = Container;
  static std::string Key(std::string_view ns, std::string_view id) {
    return keys::Container(ns, id);
  }
  static std::string Prefix(std::string_view ns) { return keys::ContainerPrefix(ns); }
  static const std::string& Id(const Container& c) { return c.id; }
  static std::string Quoted(std::string_view id) {
    return "container \"" + std::string(id) + "\"";
  }
  static std::string Encode(const Container& c) {
    cpb::Container pb;
    ToProto(c, &pb);
    return pb.SerializeAsString();
  }
  static Result<Container> Decode(std::string_view bytes) {
    cpb::Container pb;
    if (!pb.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return Status::Unknown("corrupt container record");
    }
    return FromProto(pb);
  }
  static filters::Adaptor Adapt(const Container& c) { return AdaptContainer(c); }
  // A dropped gc label or another snapshot.
  static bool DropsReference(const Container& before, const Container& after) {
    return DropsGcLabel(before.labels, after.labels) || before.snapshotter != after.snapshotter ||
           before.snapshot_key != after.snapshot_key;
  }
};

}  // namespace

void ToProto(const Container& c, cpb::Container* out) {
  out->set_id(c.id);
  for (const auto& [k, v] : c.labels) (*out->mutable_labels())[k] = v;
  out->set_image(c.image);
  if (!c.runtime.name.empty() || !c.runtime.options.empty()) {
    out->mutable_runtime()->set_name(c.runtime.name);
    if (!c.runtime.options.empty()) {
      AnyToProto(c.runtime.options, out->mutable_runtime()->mutable_options());
    }
  }
  if (!c.spec.empty()) AnyToProto(c.spec, out->mutable_spec());
  out->set_snapshotter(c.snapshotter);
  out->set_snapshot_key(c.snapshot_key);
  grpc_util::ToProto(c.created_at, out->mutable_created_at());
  grpc_util::ToProto(c.updated_at, out->mutable_updated_at());
  for (const auto& [k, v] : c.extensions) AnyToProto(v, &(*out->mutable_extensions())[k]);
}

Container FromProto(const cpb::Container& pb) {
  Container c;
  c.id = pb.id();
  c.labels.insert(pb.labels().begin(), pb.labels().end());
  c.image = pb.image();
  c.runtime.name = pb.runtime().name();
  if (pb.runtime().has_options()) c.runtime.options = AnyFromProto(pb.runtime().options());
  if (pb.has_spec()) c.spec = AnyFromProto(pb.spec());
  c.snapshotter = pb.snapshotter();
  c.snapshot_key = pb.snapshot_key();
  if (pb.has_created_at()) c.created_at = grpc_util::FromProto(pb.created_at());
  if (pb.has_updated_at()) c.updated_at = grpc_util::FromProto(pb.updated_at());
  for (const auto& [k, v] : pb.extensions()) c.extensions[k] = AnyFromProto(v);
  return c;
}

Status ValidateContainer(const Container& c) {
  BERTH_RETURN_IF_ERROR(ValidateIdentifier(c.id).Annotate("container.ID"));
  for (const auto& entry : c.extensions) {
    if (entry.first.empty()) {
      return Status::InvalidArgument("container.Extension keys must not be zero-length");
    }
  }
  BERTH_RETURN_IF_ERROR(ValidateLabels(c.labels).Annotate("containers.Labels"));
  if (c.runtime.name.empty()) return Status::InvalidArgument("container.Runtime.Name must be set");
  if (c.spec.empty()) return Status::InvalidArgument("container.Spec must be set");
  if (!c.snapshot_key.empty() && c.snapshotter.empty()) {
    return Status::InvalidArgument(
        "container.Snapshotter must be set if container.SnapshotKey is set");
  }
  cpb::Container wire;
  ToProto(c, &wire);
  if (std::size_t size = wire.ByteSizeLong(); size > kMaxContainerRecordSize) {
    return Status::InvalidArgument("container record of " + std::to_string(size) +
                                   " bytes exceeds the maximum of " +
                                   std::to_string(kMaxContainerRecordSize) +
                                   " bytes (the maximum message size, less 64 KiB)");
  }
  return Status::Ok();
}

filters::Adaptor AdaptContainer(const Container& c) {
  return [&c](const std::vector<std::string>& path) -> std::optional<std::string> {
    if (path.empty()) return std::nullopt;
    if (path[0] == "id") return PresentField(c.id);
    if (path[0] == "image") return PresentField(c.image);
    if (path[0] == "runtime") {
      if (path.size() < 2 || path[1] != "name") return std::nullopt;
      return PresentField(c.runtime.name);
    }
    if (path[0] == kLabelsPath) return MapField(path, c.labels);
    return std::nullopt;
  };
}

Status ScanContainerForGc(std::string_view ns, std::string_view rest, std::string_view value,
                          GcRootSink& roots) {
  auto c = ContainerKind::Decode(value);
  if (!c.ok()) return c.status().Annotate(ContainerKind::Quoted(rest));
  // As containerd: a snapshotter alone names the snapshot, even with no key.
  if (!c->snapshotter.empty()) roots.Snapshot(ns, c->snapshotter, c->snapshot_key);
  roots.LabelRefs(ns, c->labels);
  return Status::Ok();
}

Result<Container> ContainerRecords::Get(std::string_view ns, std::string_view id) {
  return GetRecord<ContainerKind>(*db_, ns, id,
                                  "container \"" + std::string(id) + "\" in namespace \"" +
                                      std::string(ns) + "\"");
}

Result<std::vector<Container>> ContainerRecords::List(std::string_view ns,
                                                      const filters::Filter& filter) {
  return ListRecords<ContainerKind>(*db_, ns, filter);
}

Result<Container> ContainerRecords::Create(std::string_view ns, const Container& c) {
  BERTH_RETURN_IF_ERROR(ValidateContainer(c).Annotate("create container failed validation"));
  Container record = c;
  DropEmptyValues(record.labels);
  return CreateRecord<ContainerKind>(*db_, ns, std::move(record));
}

Result<Container> ContainerRecords::Update(std::string_view ns, const Container& c,
                                           const std::vector<std::string>& fieldpaths) {
  if (c.id.empty()) return Status::InvalidArgument("must specify a container id");
  return UpdateRecord<ContainerKind>(
      *db_, ns, c.id, [&](const Container& before, Container& updated) {
        return ApplyUpdate(before, c, fieldpaths, updated);
      });
}

Status ContainerRecords::Delete(std::string_view ns, std::string_view id) {
  return DeleteRecord<ContainerKind>(*db_, ns, id);
}

}  // namespace berth::host::metadata
