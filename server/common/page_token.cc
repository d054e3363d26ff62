#include "server/common/page_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"

namespace chatgenius {
namespace {

constexpr uint8_t kVersion = 1;
// Truncated tags: 128 bits of HMAC are plenty against forgery and keep
// tokens short. The query fingerprint only has to tell queries apart.
constexpr size_t kTagBytes = 16;
constexpr size_t kQueryFingerprintBytes = 8;
// A cursor is a handful of short keys; anything larger is not ours.
constexpr size_t kMaxTokenBytes = 2048;

std::string QueryFingerprint(absl::string_view query) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(query.data()), query.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), kQueryFingerprintBytes);
}

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool GetVarint(absl::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    uint8_t b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

absl::Status Invalid(absl::string_view why) {
  return absl::InvalidArgumentError(
      std::string("page_token: ") + std::string(why) +
      "; pass the next_page_token of the previous response unchanged, with the same filters");
}

}  // namespace

PageTokenCodec::PageTokenCodec(std::string key) : key_(std::move(key)) {}

std::string PageTokenCodec::Sign(absl::string_view payload) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac, &mac_len);
  return std::string(reinterpret_cast<const char*>(mac), kTagBytes);
}

std::string PageTokenCodec::Encode(absl::string_view query,
                                   const std::vector<std::string>& keys) const {
  std::string payload;
  payload.push_back(static_cast<char>(kVersion));
  payload += QueryFingerprint(query);
  PutVarint(payload, keys.size());
  for (const std::string& k : keys) {
    PutVarint(payload, k.size());
    payload += k;
  }
  std::string raw = payload + Sign(payload);
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<std::vector<std::string>> PageTokenCodec::Decode(absl::string_view query,
                                                                absl::string_view token) const {
  if (token.size() > kMaxTokenBytes) return Invalid("too long");
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return Invalid("not base64url");
  if (raw.size() < 1 + kQueryFingerprintBytes + 1 + kTagBytes) return Invalid("truncated");

  absl::string_view payload(raw.data(), raw.size() - kTagBytes);
  std::string expected_tag = Sign(payload);
  if (CRYPTO_memcmp(expected_tag.data(), raw.data() + payload.size(), kTagBytes) != 0) {
    return Invalid("signature does not match (altered or from another server key)");
  }
  if (static_cast<uint8_t>(payload[0]) != kVersion) return Invalid("unknown version");
  payload.remove_prefix(1);
  if (payload.substr(0, kQueryFingerprintBytes) != QueryFingerprint(query)) {
    return Invalid("token belongs to a different query");
  }
  payload.remove_prefix(kQueryFingerprintBytes);

  uint64_t count = 0;
  if (!GetVarint(payload, count) || count > 16) return Invalid("malformed");
  std::vector<std::string> keys;
  keys.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t len = 0;
    if (!GetVarint(payload, len) || len > payload.size()) return Invalid("malformed");
    keys.emplace_back(payload.substr(0, len));
    payload.remove_prefix(len);
  }
  if (!payload.empty()) return Invalid("malformed");
  return keys;
}

}  // namespace chatgenius
