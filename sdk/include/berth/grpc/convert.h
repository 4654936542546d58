// Conversions between the SDK's value types and containerd's API messages
// (containerd.services.snapshots.v1, containerd.services.content.v1,
// containerd.types.Mount, containerd.types.Descriptor). Used by the host's
// services, by the serving library (serve.h) and by the proxy plugins, so the
// three agree on the wire.
// Part of libberth-grpc. Thread-safe (pure functions).
#ifndef BERTH_GRPC_CONVERT_H_
#define BERTH_GRPC_CONVERT_H_

#include <google/protobuf/map.h>
#include <google/protobuf/repeated_ptr_field.h>
#include <google/protobuf/timestamp.pb.h>

#include <chrono>
#include <vector>

#include "berth/content.h"
#include "berth/descriptor.h"
#include "berth/mount.h"
#include "berth/snapshotter.h"
#include "containerd/services/content/v1/content.pb.h"
#include "containerd/services/snapshots/v1/snapshots.pb.h"
#include "containerd/types/descriptor.pb.h"
#include "containerd/types/mount.pb.h"

namespace berth::grpc_util {

namespace content_pb = containerd::services::content::v1;
namespace snapshots_pb = containerd::services::snapshots::v1;

// Times: nanosecond precision both ways; an unset timestamp is the epoch.
void ToProto(std::chrono::system_clock::time_point t, google::protobuf::Timestamp* out);
std::chrono::system_clock::time_point FromProto(const google::protobuf::Timestamp& t);

// Labels.
void ToProto(const Labels& labels, google::protobuf::Map<std::string, std::string>* out);
Labels FromProto(const google::protobuf::Map<std::string, std::string>& labels);

// Mounts.
void ToProto(const Mount& mount, containerd::types::Mount* out);
void ToProto(const std::vector<Mount>& mounts,
             google::protobuf::RepeatedPtrField<containerd::types::Mount>* out);
Mount FromProto(const containerd::types::Mount& mount);
std::vector<Mount> FromProto(
    const google::protobuf::RepeatedPtrField<containerd::types::Mount>& mounts);

// Descriptors (annotations replaced, not merged).
void ToProto(const Descriptor& desc, containerd::types::Descriptor* out);
Descriptor FromProto(const containerd::types::Descriptor& desc);

// Snapshots.
snapshots_pb::Kind ToProto(snapshots::Kind kind);
snapshots::Kind FromProto(snapshots_pb::Kind kind);
void ToProto(const snapshots::Info& info, snapshots_pb::Info* out);
snapshots::Info FromProto(const snapshots_pb::Info& info);

// Content.
void ToProto(const ContentInfo& info, content_pb::Info* out);
ContentInfo FromProto(const content_pb::Info& info);
void ToProto(const IngestStatus& status, content_pb::Status* out);
IngestStatus FromProto(const content_pb::Status& status);

}  // namespace berth::grpc_util

#endif  // BERTH_GRPC_CONVERT_H_
