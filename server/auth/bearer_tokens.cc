#include "server/auth/bearer_tokens.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace chatgenius {

absl::StatusOr<BearerTokens> BearerTokens::Parse(absl::string_view text) {
  BearerTokens tokens;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    const absl::string_view hex = fields[0];
    const bool is_hex = hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
                          return absl::ascii_isxdigit(static_cast<unsigned char>(c));
                        });
    const auto bad = [line_number](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("AUTH_TOKENS_FILE: line ", line_number, ": ", why));
    };
    if (!is_hex || fields.size() > 3) {
      return bad(
          "expected the 64 hex digits of a SHA-256 hash, an optional name and "
          "optional roles=ROLE,...");
    }
    Entry entry;
    const std::string bytes = absl::HexStringToBytes(absl::AsciiStrToLower(hex));
    std::copy(bytes.begin(), bytes.end(), entry.hash.begin());
    for (size_t i = 1; i < fields.size(); ++i) {
      if (absl::ConsumePrefix(&fields[i], "roles=")) {
        for (absl::string_view role : absl::StrSplit(fields[i], ',')) {
          if (role != kAdminRole) {
            return bad(absl::StrCat("unknown role '", role, "' (known: ", kAdminRole, ")"));
          }
          entry.caller.roles.insert(std::string(role));
        }
      } else if (i == 1 && fields[i] != "-") {
        entry.caller.name = std::string(fields[i]);
      } else if (i != 1) {
        return bad("the third field must be roles=ROLE,...");
      }
    }
    if (entry.caller.name.empty()) entry.caller.name = absl::StrCat("token-", line_number);
    tokens.entries_.push_back(std::move(entry));
  }
  if (tokens.entries_.empty()) {
    return absl::InvalidArgumentError("AUTH_TOKENS_FILE: no token hashes in the file");
  }
  return tokens;
}

absl::StatusOr<BearerTokens> BearerTokens::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("AUTH_TOKENS_FILE: cannot read '", path, "'"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str());
}

absl::StatusOr<Caller> BearerTokens::Authenticate(absl::string_view authorization) const {
  if (authorization.empty()) {
    return absl::UnauthenticatedError("missing bearer token (authorization metadata)");
  }
  constexpr absl::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size() ||
      !absl::StartsWithIgnoreCase(authorization, kScheme)) {
    return absl::UnauthenticatedError("authorization: expected 'Bearer <token>'");
  }
  const absl::string_view token = authorization.substr(kScheme.size());
  std::array<unsigned char, 32> hash;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), hash.data());
  // No early exit: every entry is compared, in constant time.
  const Entry* match = nullptr;
  for (const Entry& entry : entries_) {
    const bool equal = CRYPTO_memcmp(entry.hash.data(), hash.data(), hash.size()) == 0;
    if (equal) match = &entry;
  }
  if (match == nullptr) return absl::UnauthenticatedError("unknown bearer token");
  return match->caller;
}

}  // namespace chatgenius
