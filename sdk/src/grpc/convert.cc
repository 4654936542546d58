#include "berth/grpc/convert.h"

#include <cstdint>

namespace berth::grpc_util {

void ToProto(std::chrono::system_clock::time_point t, google::protobuf::Timestamp* out) {
  std::int64_t ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  // Floor division: a Timestamp's nanos are never negative.
  std::int64_t seconds = ns / 1000000000;
  std::int64_t nanos = ns % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<std::int32_t>(nanos));
}

std::chrono::system_clock::time_point FromProto(const google::protobuf::Timestamp& t) {
  auto since_epoch = std::chrono::seconds(t.seconds()) + std::chrono::nanoseconds(t.nanos());
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch));
}

void ToProto(const Labels& labels, google::protobuf::Map<std::string, std::string>* out) {
  out->clear();
  for (const auto& [k, v] : labels) (*out)[k] = v;
}

Labels FromProto(const google::protobuf::Map<std::string, std::string>& labels) {
  return Labels(labels.begin(), labels.end());
}

void ToProto(const Mount& mount, containerd::types::Mount* out) {
  out->set_type(mount.type);
  out->set_source(mount.source);
  out->set_target(mount.target);
  out->clear_options();
  for (const auto& o : mount.options) out->add_options(o);
}

void ToProto(const std::vector<Mount>& mounts,
             google::protobuf::RepeatedPtrField<containerd::types::Mount>* out) {
  out->Clear();
  for (const auto& m : mounts) ToProto(m, out->Add());
}

Mount FromProto(const containerd::types::Mount& mount) {
  Mount m;
  m.type = mount.type();
  m.source = mount.source();
  m.target = mount.target();
  m.options.assign(mount.options().begin(), mount.options().end());
  return m;
}

std::vector<Mount> FromProto(
    const google::protobuf::RepeatedPtrField<containerd::types::Mount>& mounts) {
  std::vector<Mount> out;
  out.reserve(static_cast<std::size_t>(mounts.size()));
  for (const auto& m : mounts) out.push_back(FromProto(m));
  return out;
}

void ToProto(const Descriptor& desc, containerd::types::Descriptor* out) {
  out->set_media_type(desc.media_type);
  out->set_digest(desc.digest);
  out->set_size(desc.size);
  ToProto(desc.annotations, out->mutable_annotations());
}

Descriptor FromProto(const containerd::types::Descriptor& desc) {
  Descriptor d;
  d.media_type = desc.media_type();
  d.digest = desc.digest();
  d.size = desc.size();
  d.annotations = FromProto(desc.annotations());
  return d;
}

snapshots_pb::Kind ToProto(snapshots::Kind kind) {
  switch (kind) {
    case snapshots::Kind::kView:
      return snapshots_pb::VIEW;
    case snapshots::Kind::kActive:
      return snapshots_pb::ACTIVE;
    case snapshots::Kind::kCommitted:
      return snapshots_pb::COMMITTED;
    case snapshots::Kind::kUnknown:
      break;
  }
  return snapshots_pb::UNKNOWN;
}

snapshots::Kind FromProto(snapshots_pb::Kind kind) {
  switch (kind) {
    case snapshots_pb::VIEW:
      return snapshots::Kind::kView;
    case snapshots_pb::ACTIVE:
      return snapshots::Kind::kActive;
    case snapshots_pb::COMMITTED:
      return snapshots::Kind::kCommitted;
    default:
      return snapshots::Kind::kUnknown;
  }
}

void ToProto(const snapshots::Info& info, snapshots_pb::Info* out) {
  out->set_name(info.name);
  out->set_parent(info.parent);
  out->set_kind(ToProto(info.kind));
  ToProto(info.created, out->mutable_created_at());
  ToProto(info.updated, out->mutable_updated_at());
  ToProto(info.labels, out->mutable_labels());
}

snapshots::Info FromProto(const snapshots_pb::Info& info) {
  snapshots::Info out;
  out.name = info.name();
  out.parent = info.parent();
  out.kind = FromProto(info.kind());
  out.labels = FromProto(info.labels());
  out.created = FromProto(info.created_at());
  out.updated = FromProto(info.updated_at());
  return out;
}

void ToProto(const ContentInfo& info, content_pb::Info* out) {
  out->set_digest(info.digest);
  out->set_size(info.size);
  ToProto(info.created_at, out->mutable_created_at());
  ToProto(info.updated_at, out->mutable_updated_at());
  ToProto(info.labels, out->mutable_labels());
}

ContentInfo FromProto(const content_pb::Info& info) {
  ContentInfo out;
  out.digest = info.digest();
  out.size = info.size();
  out.created_at = FromProto(info.created_at());
  out.updated_at = FromProto(info.updated_at());
  out.labels = FromProto(info.labels());
  return out;
}

void ToProto(const IngestStatus& status, content_pb::Status* out) {
  out->set_ref(status.ref);
  out->set_offset(status.offset);
  out->set_total(status.total);
  out->set_expected(status.expected);
  ToProto(status.started_at, out->mutable_started_at());
  ToProto(status.updated_at, out->mutable_updated_at());
}

IngestStatus FromProto(const content_pb::Status& status) {
  IngestStatus out;
  out.ref = status.ref();
  out.offset = status.offset();
  out.total = status.total();
  out.expected = status.expected();
  out.started_at = FromProto(status.started_at());
  out.updated_at = FromProto(status.updated_at());
  return out;
}

}  // namespace berth::grpc_util
