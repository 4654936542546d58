// ttrpc framing: the 10-byte header in front of every message.
//
//   bytes 0..3  data length, u32 big-endian (header excluded), at most 4 MiB
//   bytes 4..7  stream id, u32 big-endian (client streams are odd)
//   byte  8     message type
//   byte  9     flags
//
// Wire-exact with containerd's ttrpc 1.1.1 (channel.go). The Data type and
// the flags come from ttrpc 1.2's streaming; berth speaks 1.1 and answers
// streaming with Unimplemented, but names them so it can recognise them.
//
// Pure functions on values; thread-safe.
#ifndef BERTH_TTRPC_FRAME_H_
#define BERTH_TTRPC_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "berth/status.h"

namespace berth::ttrpc {

inline constexpr std::size_t kFrameHeaderSize = 10;
// The largest data length a peer may send; a larger frame is answered with
// ResourceExhausted (its body is skipped, the connection survives).
inline constexpr std::uint32_t kMaxMessageSize = 4u << 20;

// Frozen: the wire values.
enum class MessageType : std::uint8_t {
  kRequest = 0x1,
  kResponse = 0x2,
  kData = 0x3,  // ttrpc 1.2 streams
};

// Frozen: ttrpc 1.2 frame flags.
inline constexpr std::uint8_t kFlagRemoteClosed = 0x1;
inline constexpr std::uint8_t kFlagRemoteOpen = 0x2;
inline constexpr std::uint8_t kFlagNoData = 0x4;

struct FrameHeader {
  std::uint32_t length = 0;
  std::uint32_t stream_id = 0;
  std::uint8_t type = 0;  // a MessageType, kept raw: unknown types are legal
  std::uint8_t flags = 0;
};

// Writes `header` into `out[0..kFrameHeaderSize)`.
void EncodeFrameHeader(const FrameHeader& header, std::uint8_t* out);

// Reads a header from `in[0..kFrameHeaderSize)`. Never fails: every byte
// pattern is a header; the caller judges length, type and stream id.
FrameHeader DecodeFrameHeader(const std::uint8_t* in);

// Header followed by `data`. ResourceExhausted when `data` exceeds
// kMaxMessageSize (nothing is built).
[[nodiscard]] Result<std::string> EncodeFrame(std::uint32_t stream_id, MessageType type,
                                              std::uint8_t flags, std::string_view data);

}  // namespace berth::ttrpc

#endif  // BERTH_TTRPC_FRAME_H_
