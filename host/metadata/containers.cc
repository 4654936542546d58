#include "metadata/containers.h"

#include <chrono>
#include <iterator>
#include <optional>
#include <utility>

#include "berth/grpc/convert.h"
#include "berth/identifiers.h"
#include "metadata/leases.h"

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

std::string Encode(const Container& c) {
  cpb::Container pb;
  ToProto(c, &pb);
  return pb.SerializeAsString();
}

Result<Container> Decode(std::string_view bytes) {
  cpb::Container pb;
  if (!pb.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Unknown("corrupt container record");
  }
  return FromProto(pb);
}

// containerd stores no label with an empty value (boltutil's writeMap).
void DropEmptyLabels(Labels& labels) {
  for (auto it = labels.begin(); it != labels.end();) {
    it = it->second.empty() ? labels.erase(it) : std::next(it);
  }
}

// The part of `path` after "<prefix>.", or nullopt when it does not start so.
std::optional<std::string> Subkey(std::string_view path, std::string_view prefix) {
  if (path.size() <= prefix.size() || path.compare(0, prefix.size(), prefix) != 0 ||
      path[prefix.size()] != '.') {
    return std::nullopt;
  }
  return std::string(path.substr(prefix.size() + 1));
}

// Whether replacing `before` by `after` may have freed something a
// collection can take: a dropped gc label or another snapshot.
bool DropsReference(const Container& before, const Container& after) {
  return DropsGcLabel(before.labels, after.labels) || before.snapshotter != after.snapshotter ||
         before.snapshot_key != after.snapshot_key;
}

Status ReadRecord(MetadataStore& db, std::string_view ns, std::string_view id, Container& out,
                  bool& found) {
  auto value = db.Get(keys::Container(ns, id));
  if (!value.ok()) return value.status();
  found = value->has_value();
  if (!found) return Status::Ok();
  auto c = Decode(**value);
  if (!c.ok()) return c.status().Annotate("container \"" + std::string(id) + "\"");
  out = std::move(*c);
  return Status::Ok();
}

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
  return Status::Ok();
}

filters::Adaptor AdaptContainer(const Container& c) {
  return [&c](const std::vector<std::string>& path) -> std::optional<std::string> {
    if (path.empty()) return std::nullopt;
    auto present = [](const std::string& v) -> std::optional<std::string> {
      if (v.empty()) return std::nullopt;
      return v;
    };
    if (path[0] == "id") return present(c.id);
    if (path[0] == "image") return present(c.image);
    if (path[0] == "runtime") {
      if (path.size() < 2 || path[1] != "name") return std::nullopt;
      return present(c.runtime.name);
    }
    if (path[0] == kLabelsPath) {
      if (path.size() < 2) return std::nullopt;
      std::string key = path[1];
      for (std::size_t i = 2; i < path.size(); ++i) key += "." + path[i];
      auto it = c.labels.find(key);
      if (it == c.labels.end()) return std::nullopt;
      return it->second;
    }
    return std::nullopt;
  };
}

Status ScanContainerForGc(std::string_view ns, std::string_view rest, std::string_view value,
                          GcRootSink& roots) {
  auto c = Decode(value);
  if (!c.ok()) return c.status().Annotate("container \"" + std::string(rest) + "\"");
  // As containerd: a snapshotter alone names the snapshot, even with no key.
  if (!c->snapshotter.empty()) roots.Snapshot(ns, c->snapshotter, c->snapshot_key);
  roots.LabelRefs(ns, c->labels);
  return Status::Ok();
}

Result<Container> ContainerRecords::Get(std::string_view ns, std::string_view id) {
  Container c;
  bool found = false;
  if (!id.empty()) BERTH_RETURN_IF_ERROR(ReadRecord(*db_, ns, id, c, found));
  if (!found) {
    return Status::NotFound("container \"" + std::string(id) + "\" in namespace \"" +
                            std::string(ns) + "\"");
  }
  return c;
}

Result<std::vector<Container>> ContainerRecords::List(std::string_view ns,
                                                      const filters::Filter& filter) {
  std::vector<Container> out;
  Status bad;
  const std::string prefix = keys::ContainerPrefix(ns);
  BERTH_RETURN_IF_ERROR(db_->Scan(prefix, [&](std::string_view key, std::string_view value) {
    auto c = Decode(value);
    if (!c.ok()) {
      bad = c.status().Annotate("container \"" + std::string(key.substr(prefix.size())) + "\"");
      return false;
    }
    if (filter.Match(AdaptContainer(*c))) out.push_back(std::move(*c));
    return true;
  }));
  BERTH_RETURN_IF_ERROR(bad);
  return out;
}

Result<Container> ContainerRecords::Create(std::string_view ns, const Container& c) {
  BERTH_RETURN_IF_ERROR(ValidateContainer(c).Annotate("create container failed validation"));
  Container record = c;
  DropEmptyLabels(record.labels);
  record.created_at = std::chrono::system_clock::now();
  record.updated_at = record.created_at;
  {
    ReaderLock collect(&db_->collection_mutex());
    MutexLock lock(&db_->write_mutex());
    const std::string key = keys::Container(ns, record.id);
    auto existing = db_->Get(key);
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) return Status::AlreadyExists("container \"" + record.id + "\"");
    leveldb::WriteBatch batch;
    BERTH_RETURN_IF_ERROR(db_->EnsureNamespace(ns, batch));
    batch.Put(key, Encode(record));
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  db_->Mutated(false);
  return record;
}

Result<Container> ContainerRecords::Update(std::string_view ns, const Container& c,
                                           const std::vector<std::string>& fieldpaths) {
  if (c.id.empty()) return Status::InvalidArgument("must specify a container id");
  Container before;
  Container updated;
  {
    ReaderLock collect(&db_->collection_mutex());
    MutexLock lock(&db_->write_mutex());
    bool found = false;
    BERTH_RETURN_IF_ERROR(ReadRecord(*db_, ns, c.id, before, found));
    if (!found) return Status::NotFound("container \"" + c.id + "\"");
    updated = before;
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
      if (auto key = Subkey(path, kLabelsPath)) {
        auto it = c.labels.find(*key);
        if (it == c.labels.end() || it->second.empty()) {
          updated.labels.erase(*key);
        } else {
          updated.labels[*key] = it->second;
        }
        continue;
      }
      if (auto key = Subkey(path, kExtensionsPath)) {
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
    DropEmptyLabels(updated.labels);
    BERTH_RETURN_IF_ERROR(ValidateContainer(updated).Annotate("update failed validation"));
    updated.created_at = before.created_at;
    updated.updated_at = std::chrono::system_clock::now();
    leveldb::WriteBatch batch;
    batch.Put(keys::Container(ns, c.id), Encode(updated));
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  db_->Mutated(DropsReference(before, updated));
  return updated;
}

Status ContainerRecords::Delete(std::string_view ns, std::string_view id) {
  if (id.empty()) return Status::NotFound("container \"\"");
  {
    ReaderLock collect(&db_->collection_mutex());
    MutexLock lock(&db_->write_mutex());
    const std::string key = keys::Container(ns, id);
    auto existing = db_->Get(key);
    if (!existing.ok()) return existing.status();
    if (!existing->has_value()) return Status::NotFound("container \"" + std::string(id) + "\"");
    leveldb::WriteBatch batch;
    batch.Delete(key);
    BERTH_RETURN_IF_ERROR(db_->Write(batch));
  }
  db_->Mutated(true);
  return Status::Ok();
}

}  // namespace berth::host::metadata
