// Framing, status mapping and metadata helpers: pure functions.
#include "berth/ttrpc/frame.h"

#include <gtest/gtest.h>

#include <string>

#include "berth/ttrpc/metadata.h"
#include "berth/ttrpc/status.h"
#include "ttrpc_wire.pb.h"

namespace berth::ttrpc {
namespace {

TEST(FrameTest, HeaderIsBigEndianLengthStreamTypeFlags) {
  std::uint8_t buf[kFrameHeaderSize];
  EncodeFrameHeader({.length = 0x01020304, .stream_id = 0x0a0b0c0d, .type = 2, .flags = 0x05}, buf);
  const std::uint8_t want[] = {1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d, 2, 5};
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), sizeof(buf)),
            std::string(reinterpret_cast<const char*>(want), sizeof(want)));
  FrameHeader back = DecodeFrameHeader(buf);
  EXPECT_EQ(back.length, 0x01020304u);
  EXPECT_EQ(back.stream_id, 0x0a0b0c0du);
  EXPECT_EQ(back.type, 2);
  EXPECT_EQ(back.flags, 5);
}

TEST(FrameTest, EncodeFramePrefixesData) {
  Result<std::string> f = EncodeFrame(7, MessageType::kRequest, 0, "abc");
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(f->size(), kFrameHeaderSize + 3);
  FrameHeader h = DecodeFrameHeader(reinterpret_cast<const std::uint8_t*>(f->data()));
  EXPECT_EQ(h.length, 3u);
  EXPECT_EQ(h.stream_id, 7u);
  EXPECT_EQ(h.type, 1);
  EXPECT_EQ(f->substr(kFrameHeaderSize), "abc");
}

TEST(FrameTest, EncodeFrameRefusesMoreThanFourMiB) {
  std::string big(kMaxMessageSize + 1, 'x');
  Result<std::string> f = EncodeFrame(1, MessageType::kRequest, 0, big);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Code::kResourceExhausted);
  EXPECT_TRUE(EncodeFrame(1, MessageType::kRequest, 0, big.substr(1)).ok());
}

// The messages must be byte-compatible with Go's gogo encoding of ttrpc's
// Request: fields 1..5 in order.
TEST(FrameTest, RequestEncodingMatchesTtrpcFieldNumbers) {
  wire::Request req;
  req.set_service("s");
  req.set_method("m");
  req.set_payload("p");
  req.set_timeout_nano(1);
  auto* kv = req.add_metadata();
  kv->set_key("k");
  kv->set_value("v");
  const std::string want("\x0a\x01s\x12\x01m\x1a\x01p\x20\x01\x2a\x06\x0a\x01k\x12\x01v", 19);
  EXPECT_EQ(req.SerializeAsString(), want);
}

TEST(StatusMapTest, CodesRoundTripThroughGrpcNumbers) {
  for (Code c :
       {Code::kOk, Code::kUnknown, Code::kInvalidArgument, Code::kNotFound, Code::kAlreadyExists,
        Code::kFailedPrecondition, Code::kUnavailable, Code::kNotImplemented, Code::kCanceled,
        Code::kDeadlineExceeded, Code::kResourceExhausted}) {
    EXPECT_EQ(FromGrpcCode(ToGrpcCode(c)), c) << static_cast<int>(c);
  }
  EXPECT_EQ(ToGrpcCode(Code::kNotFound), 5);
  EXPECT_EQ(ToGrpcCode(Code::kNotImplemented), 12);
  EXPECT_EQ(ToGrpcCode(Code::kUnavailable), 14);
  EXPECT_EQ(ToGrpcCode(Code::kSkipPlugin), 2);
  EXPECT_EQ(FromGrpcCode(13), Code::kUnknown);  // Internal
  EXPECT_EQ(FromGrpcCode(7), Code::kUnknown);   // PermissionDenied
}

TEST(StatusMapTest, WireMessageIsContainerdTextAndComesBack) {
  Status s = Status::NotFound("content sha256:ab");
  EXPECT_EQ(WireMessage(s), "content sha256:ab: not found");
  Status back = FromWire(ToGrpcCode(s.code()), WireMessage(s));
  EXPECT_EQ(back.code(), Code::kNotFound);
  EXPECT_EQ(back.message(), "content sha256:ab");
  EXPECT_EQ(FromWire(5, "not found").message(), "");
  EXPECT_EQ(FromWire(5, "plain go text").message(), "plain go text");
  EXPECT_TRUE(FromWire(0, "ignored").ok());
}

TEST(MetadataTest, CallContextFromAndToMetadata) {
  Metadata md{{"containerd-namespace-ttrpc", "k8s.io"}, {"containerd-lease", "l1"}, {"other", "x"}};
  CallContext ctx = CallContextFromMetadata(md);
  EXPECT_EQ(ctx.ns, "k8s.io");
  EXPECT_EQ(ctx.lease, "l1");
  EXPECT_EQ(CallContextFromMetadata({}).ns, "");

  Metadata out{{"containerd-namespace-ttrpc", "old"}};
  SetCallContext({.ns = "default", .lease = ""}, &out);
  EXPECT_EQ(out.count("containerd-namespace-ttrpc"), 1u);
  EXPECT_EQ(FirstValue(out, kNamespaceKey).value_or(""), "default");
  EXPECT_EQ(out.count("containerd-lease"), 0u);
}

}  // namespace
}  // namespace berth::ttrpc
