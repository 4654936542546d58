#include "berth/grpc/convert.h"

#include <gtest/gtest.h>

namespace berth::grpc_util {
namespace {

using std::chrono::system_clock;

system_clock::time_point At(std::int64_t ns) {
  return system_clock::time_point(
      std::chrono::duration_cast<system_clock::duration>(std::chrono::nanoseconds(ns)));
}

TEST(Convert, TimeKeepsNanoseconds) {
  google::protobuf::Timestamp pb;
  ToProto(At(1700000000123456789), &pb);
  EXPECT_EQ(pb.seconds(), 1700000000);
  EXPECT_EQ(pb.nanos(), 123456789);
  EXPECT_EQ(FromProto(pb), At(1700000000123456789));
}

TEST(Convert, TimeBeforeTheEpochHasPositiveNanos) {
  google::protobuf::Timestamp pb;
  ToProto(At(-1), &pb);
  EXPECT_EQ(pb.seconds(), -1);
  EXPECT_EQ(pb.nanos(), 999999999);
  EXPECT_EQ(FromProto(pb), At(-1));
}

TEST(Convert, UnsetTimestampIsTheEpoch) {
  EXPECT_EQ(FromProto(google::protobuf::Timestamp()), system_clock::time_point());
}

TEST(Convert, LabelsRoundTripAndReplace) {
  google::protobuf::Map<std::string, std::string> pb;
  pb["stale"] = "x";
  Labels labels{{"a", "1"}, {"containerd.io/gc.root", ""}};
  ToProto(labels, &pb);
  EXPECT_EQ(pb.size(), 2u);
  EXPECT_EQ(FromProto(pb), labels);
}

TEST(Convert, MountsRoundTrip) {
  std::vector<Mount> mounts = {
      {"overlay", "overlay", "", {"workdir=/w", "upperdir=/u", "lowerdir=/l"}},
      {"bind", "/src", "sub", {"rbind", "ro"}},
  };
  google::protobuf::RepeatedPtrField<containerd::types::Mount> pb;
  ToProto(mounts, &pb);
  ASSERT_EQ(pb.size(), 2);
  EXPECT_EQ(pb[0].type(), "overlay");
  EXPECT_EQ(pb[1].options(1), "ro");
  EXPECT_EQ(FromProto(pb), mounts);
}

TEST(Convert, KindsMapOneToOne) {
  for (auto kind : {snapshots::Kind::kUnknown, snapshots::Kind::kView, snapshots::Kind::kActive,
                    snapshots::Kind::kCommitted}) {
    EXPECT_EQ(FromProto(ToProto(kind)), kind);
  }
  EXPECT_EQ(ToProto(snapshots::Kind::kCommitted), snapshots_pb::COMMITTED);
  EXPECT_EQ(FromProto(static_cast<snapshots_pb::Kind>(42)), snapshots::Kind::kUnknown);
}

TEST(Convert, SnapshotInfoRoundTrip) {
  snapshots::Info info;
  info.name = "layer-2";
  info.parent = "layer-1";
  info.kind = snapshots::Kind::kActive;
  info.labels = {{"containerd.io/snapshot/x", "y"}};
  info.created = At(1000000001);
  info.updated = At(2000000002);
  snapshots_pb::Info pb;
  ToProto(info, &pb);
  EXPECT_EQ(pb.kind(), snapshots_pb::ACTIVE);
  snapshots::Info back = FromProto(pb);
  EXPECT_EQ(back.name, info.name);
  EXPECT_EQ(back.parent, info.parent);
  EXPECT_EQ(back.kind, info.kind);
  EXPECT_EQ(back.labels, info.labels);
  EXPECT_EQ(back.created, info.created);
  EXPECT_EQ(back.updated, info.updated);
}

TEST(Convert, ContentInfoRoundTrip) {
  ContentInfo info{"sha256:abc", 42, At(5), At(6), {{"k", "v"}}};
  content_pb::Info pb;
  ToProto(info, &pb);
  ContentInfo back = FromProto(pb);
  EXPECT_EQ(back.digest, info.digest);
  EXPECT_EQ(back.size, info.size);
  EXPECT_EQ(back.created_at, info.created_at);
  EXPECT_EQ(back.updated_at, info.updated_at);
  EXPECT_EQ(back.labels, info.labels);
}

TEST(Convert, IngestStatusRoundTrip) {
  IngestStatus st{"ref-1", 10, 20, "sha256:def", At(7), At(8)};
  content_pb::Status pb;
  ToProto(st, &pb);
  EXPECT_EQ(pb.ref(), "ref-1");
  IngestStatus back = FromProto(pb);
  EXPECT_EQ(back.ref, st.ref);
  EXPECT_EQ(back.offset, st.offset);
  EXPECT_EQ(back.total, st.total);
  EXPECT_EQ(back.expected, st.expected);
  EXPECT_EQ(back.started_at, st.started_at);
  EXPECT_EQ(back.updated_at, st.updated_at);
}

}  // namespace
}  // namespace berth::grpc_util
