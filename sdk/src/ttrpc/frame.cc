#include "berth/ttrpc/frame.h"

#include <string>

namespace berth::ttrpc {
namespace {

void PutU32(std::uint32_t v, std::uint8_t* out) {
  out[0] = static_cast<std::uint8_t>(v >> 24);
  out[1] = static_cast<std::uint8_t>(v >> 16);
  out[2] = static_cast<std::uint8_t>(v >> 8);
  out[3] = static_cast<std::uint8_t>(v);
}

std::uint32_t GetU32(const std::uint8_t* in) {
  return (std::uint32_t{in[0]} << 24) | (std::uint32_t{in[1]} << 16) | (std::uint32_t{in[2]} << 8) |
         std::uint32_t{in[3]};
}

}  // namespace

void EncodeFrameHeader(const FrameHeader& header, std::uint8_t* out) {
  PutU32(header.length, out);
  PutU32(header.stream_id, out + 4);
  out[8] = header.type;
  out[9] = header.flags;
}

FrameHeader DecodeFrameHeader(const std::uint8_t* in) {
  return FrameHeader{
      .length = GetU32(in), .stream_id = GetU32(in + 4), .type = in[8], .flags = in[9]};
}

Result<std::string> EncodeFrame(std::uint32_t stream_id, MessageType type, std::uint8_t flags,
                                std::string_view data) {
  if (data.size() > kMaxMessageSize) {
    return Status::ResourceExhausted("message length " + std::to_string(data.size()) +
                                     " exceed maximum message size of " +
                                     std::to_string(kMaxMessageSize));
  }
  std::string frame(kFrameHeaderSize + data.size(), '\0');
  EncodeFrameHeader({.length = static_cast<std::uint32_t>(data.size()),
                     .stream_id = stream_id,
                     .type = static_cast<std::uint8_t>(type),
                     .flags = flags},
                    reinterpret_cast<std::uint8_t*>(frame.data()));
  frame.replace(kFrameHeaderSize, data.size(), data);
  return frame;
}

}  // namespace berth::ttrpc
