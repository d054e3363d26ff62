// bearer_tokens.h
//
// The set of bearer tokens callers may present, kept as SHA-256 hashes so
// the token file is not itself a credential. File format (AUTH_TOKENS_FILE),
// one token per line:
//
//   # comment
//   <64 hex digits of sha256(token)>  [name]  [roles=ROLE[,ROLE...]]
//
// `printf %s "$TOKEN" | sha256sum` prints such a line (its "-" name is
// ignored). The name identifies the caller in logs; tokens never appear in
// logs or error messages. Roles grant privileged operations; the one role
// today is `admin` (see token_auth_processor.h for what it allows).
#ifndef CHATGENIUS_SERVER_AUTH_BEARER_TOKENS_H_
#define CHATGENIUS_SERVER_AUTH_BEARER_TOKENS_H_

#include <array>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chatgenius {

// kAdminRole allows ApplyMigrations, the AdminService views and acting
// without an end-user token.
inline constexpr char kAdminRole[] = "admin";

// Caller is who presented a known token.
struct Caller {
  std::string name;
  std::set<std::string> roles;
  bool has_role(absl::string_view role) const { return roles.count(std::string(role)) > 0; }
};

class BearerTokens {
 public:
  // Parse reads the file format above. INVALID_ARGUMENT names the line of a
  // malformed entry; a set without tokens is an error too (auth that lets
  // nobody in is a configuration mistake).
  static absl::StatusOr<BearerTokens> Parse(absl::string_view text);
  // Load reads and parses the file at `path`.
  static absl::StatusOr<BearerTokens> Load(const std::string& path);

  // Authenticate checks the value of an `authorization` header
  // ("Bearer <token>", scheme case-insensitive) and returns the caller: its
  // name (or "token-<line>" when unnamed) and roles. UNAUTHENTICATED for a missing/malformed
  // header or an unknown token. The comparison takes the same time whichever
  // entry matches, or none: every entry is compared in constant time.
  absl::StatusOr<Caller> Authenticate(absl::string_view authorization) const;

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> hash;
    Caller caller;
  };
  std::vector<Entry> entries_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_AUTH_BEARER_TOKENS_H_
