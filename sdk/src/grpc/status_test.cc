#include "berth/grpc/status.h"

#include <gtest/gtest.h>

namespace berth::grpc_util {
namespace {

struct CodePair {
  Code code;
  grpc::StatusCode grpc_code;
};

constexpr CodePair kPairs[] = {
    {Code::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
    {Code::kNotFound, grpc::StatusCode::NOT_FOUND},
    {Code::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
    {Code::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
    {Code::kUnavailable, grpc::StatusCode::UNAVAILABLE},
    {Code::kNotImplemented, grpc::StatusCode::UNIMPLEMENTED},
    {Code::kCanceled, grpc::StatusCode::CANCELLED},
    {Code::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
    {Code::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
    {Code::kUnknown, grpc::StatusCode::UNKNOWN},
};

TEST(GrpcStatus, CodesMapAsErrdefsDoesBothWays) {
  for (const CodePair& p : kPairs) {
    EXPECT_EQ(ToGrpcCode(p.code), p.grpc_code) << CodeText(p.code);
    EXPECT_EQ(FromGrpcCode(p.grpc_code), p.code) << CodeText(p.code);
  }
  EXPECT_EQ(ToGrpcCode(Code::kOk), grpc::StatusCode::OK);
  EXPECT_EQ(FromGrpcCode(grpc::StatusCode::OK), Code::kOk);
}

TEST(GrpcStatus, SkipPluginTravelsAsUnknown) {
  EXPECT_EQ(ToGrpcCode(Code::kSkipPlugin), grpc::StatusCode::UNKNOWN);
}

TEST(GrpcStatus, CodesWithoutErrdefsBecomeUnknown) {
  EXPECT_EQ(FromGrpcCode(grpc::StatusCode::OUT_OF_RANGE), Code::kUnknown);
  EXPECT_EQ(FromGrpcCode(grpc::StatusCode::DATA_LOSS), Code::kUnknown);
  EXPECT_EQ(FromGrpcCode(grpc::StatusCode::INTERNAL), Code::kUnknown);
  Status s = FromGrpc(grpc::Status(grpc::StatusCode::DATA_LOSS, "short blob"));
  EXPECT_EQ(s.code(), Code::kUnknown);
  EXPECT_EQ(s.message(), "short blob");
}

TEST(GrpcStatus, WireMessageCarriesTheCodeText) {
  grpc::Status g = ToGrpc(Status::NotFound("content sha256:ab"));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(g.error_message(), "content sha256:ab: not found");
}

TEST(GrpcStatus, RoundTripKeepsCodeAndMessage) {
  for (const CodePair& p : kPairs) {
    Status in(p.code, "snapshot \"k\"");
    Status out = FromGrpc(ToGrpc(in));
    EXPECT_EQ(out.code(), in.code()) << CodeText(p.code);
    EXPECT_EQ(out.message(), in.message()) << CodeText(p.code);
  }
  EXPECT_TRUE(FromGrpc(ToGrpc(Status::Ok())).ok());
}

TEST(GrpcStatus, BareCodeTextLeavesAnEmptyMessage) {
  Status s = FromGrpc(grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "already exists"));
  EXPECT_EQ(s.code(), Code::kAlreadyExists);
  EXPECT_EQ(s.message(), "");
}

TEST(GrpcStatus, ForeignMessageIsKept) {
  // containerd's own text for a wrong digest, as its content service sends it.
  Status s = FromGrpc(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                   "unexpected commit digest sha256:1, expected sha256:2"));
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_EQ(s.message(), "unexpected commit digest sha256:1, expected sha256:2");
}

}  // namespace
}  // namespace berth::grpc_util
