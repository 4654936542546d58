// SHA-256 through OpenSSL EVP, and digest validation.
#include "berth/digest.h"

#include <openssl/evp.h>

#include <cassert>
#include <utility>

namespace berth {
namespace {

EVP_MD_CTX* Ctx(void* p) { return static_cast<EVP_MD_CTX*>(p); }

bool IsLowerHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

}  // namespace

Status ValidateDigest(std::string_view digest) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("invalid digest \"" + std::string(digest) +
                                   "\": " + std::string(why));
  };
  if (digest.substr(0, kSha256Prefix.size()) != kSha256Prefix) {
    if (digest.find(':') == std::string_view::npos) {
      return bad("invalid checksum digest format");
    }
    return bad("unsupported digest algorithm");
  }
  std::string_view hex = digest.substr(kSha256Prefix.size());
  if (hex.size() != kSha256HexLength) return bad("invalid checksum digest length");
  for (char c : hex) {
    if (!IsLowerHex(c)) return bad("invalid checksum digest format");
  }
  return Status::Ok();
}

Status ValidateLookupDigest(std::string_view digest) {
  Status valid = ValidateDigest(digest);
  if (valid.ok()) return valid;
  struct Algorithm {
    std::string_view prefix;
    std::size_t hex_length;
  };
  for (const Algorithm& a : {Algorithm{"sha384:", 96}, Algorithm{"sha512:", 128}}) {
    if (digest.substr(0, a.prefix.size()) != a.prefix) continue;
    std::string_view hex = digest.substr(a.prefix.size());
    if (hex.size() != a.hex_length) return valid;
    for (char c : hex) {
      if (!IsLowerHex(c)) return valid;
    }
    return Status::NotFound("content digest " + std::string(digest) + ": not found");
  }
  return valid;
}

std::string_view DigestHex(std::string_view digest) {
  assert(ValidateDigest(digest).ok());
  return digest.substr(kSha256Prefix.size());
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) { Reset(); }

Sha256::~Sha256() {
  if (ctx_ != nullptr) EVP_MD_CTX_free(Ctx(ctx_));
}

Sha256::Sha256(Sha256&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
  if (this != &other) {
    if (ctx_ != nullptr) EVP_MD_CTX_free(Ctx(ctx_));
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

void Sha256::Reset() {
  int rc = EVP_DigestInit_ex(Ctx(ctx_), EVP_sha256(), nullptr);
  assert(rc == 1);
  (void)rc;
}

void Sha256::Update(const void* data, std::size_t size) {
  if (size == 0) return;
  int rc = EVP_DigestUpdate(Ctx(ctx_), data, size);
  assert(rc == 1);
  (void)rc;
}

std::string Sha256::Digest() const {
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  EVP_MD_CTX_copy_ex(copy, Ctx(ctx_));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(copy, md, &len);
  EVP_MD_CTX_free(copy);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(kSha256Prefix);
  out.reserve(kSha256Prefix.size() + 2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

std::string Sha256Of(std::string_view data) {
  Sha256 h;
  h.Update(data.data(), data.size());
  return h.Digest();
}

}  // namespace berth
