// page_token.h
//
// Opaque keyset page tokens (AIP-158). A token carries the sort key of the
// last row of a page plus a fingerprint of the query that produced it, and is
// signed with HMAC-SHA256 under a server key, so a client can neither forge a
// cursor nor reuse a token with different filters. Tokens are URL-safe
// base64 without padding.
#ifndef CHATGENIUS_SERVER_COMMON_PAGE_TOKEN_H_
#define CHATGENIUS_SERVER_COMMON_PAGE_TOKEN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chatgenius {

// PageTokenCodec encodes and verifies page tokens with one key. Replicas that
// must accept each other's tokens share the key (config PAGE_TOKEN_KEY).
// Thread-safe (immutable after construction).
//
// Example:
//   PageTokenCodec codec(key);
//   std::string query = absl::StrCat("users|", filter);
//   std::string token = codec.Encode(query, {last_id});
//   absl::StatusOr<std::vector<std::string>> keys = codec.Decode(query, token);
class PageTokenCodec {
 public:
  // Uses `key` as the HMAC key; it must not be empty.
  explicit PageTokenCodec(std::string key);

  // Encode returns a token for the cursor `keys` of query `query`.
  std::string Encode(absl::string_view query, const std::vector<std::string>& keys) const;

  // Decode verifies `token` against `query` and returns its cursor keys.
  // INVALID_ARGUMENT (message names "page_token") if the token is malformed,
  // altered, signed with another key, or belongs to a different query.
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> Decode(absl::string_view query,
                                                                absl::string_view token) const;

 private:
  std::string Sign(absl::string_view payload) const;

  std::string key_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_COMMON_PAGE_TOKEN_H_
