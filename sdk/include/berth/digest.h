// Content digests: "sha256:<64 lowercase hex>", and an incremental SHA-256
// hasher on OpenSSL's EVP interface (which uses the CPU's SHA instructions).
//
// Only sha256 is accepted; anything else is InvalidArgument. A Sha256 object
// is not thread-safe; use one per stream. The free functions are thread-safe.
#ifndef BERTH_DIGEST_H_
#define BERTH_DIGEST_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "berth/status.h"

namespace berth {

inline constexpr std::string_view kSha256Prefix = "sha256:";
inline constexpr std::size_t kSha256HexLength = 64;

// OK for "sha256:" followed by exactly 64 lowercase hex digits.
// InvalidArgument otherwise, e.g. `invalid digest "sha256:xyz": ...`.
Status ValidateDigest(std::string_view digest);

// For a digest that only names content to look up (Info, Update, Read,
// Delete): OK when ValidateDigest is; NotFound "content digest <d>: not
// found" for a well-formed sha384 or sha512 digest, which containerd accepts
// but no berth store can hold (content is sha256-addressed); otherwise
// ValidateDigest's InvalidArgument.
Status ValidateLookupDigest(std::string_view digest);

// The hex part of a digest. REQUIRES: ValidateDigest(digest).ok().
std::string_view DigestHex(std::string_view digest);

// Incremental SHA-256. Move-only.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Feeds bytes; hashes in place, without copying them.
  void Update(const void* data, std::size_t size);
  // "sha256:<hex>" of everything fed so far; the state is kept, so Update
  // may go on afterwards.
  std::string Digest() const;
  // Starts over with no bytes.
  void Reset();

 private:
  void* ctx_;  // EVP_MD_CTX*
};

// "sha256:<hex>" of `data`.
std::string Sha256Of(std::string_view data);

}  // namespace berth

#endif  // BERTH_DIGEST_H_
