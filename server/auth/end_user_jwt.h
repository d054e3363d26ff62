// end_user_jwt.h
//
// JwtVerifier: verifies the end user's token a gateway forwards in
// `x-end-user-token` (a JWS in compact form, as Auth0 issues them), with
// cjose (Debian's libcjose, on OpenSSL) doing the signature work:
// - keys: an HS256 secret file, PEM public key files (RSA -> RS256, EC
//   P-256 -> ES256) and/or a JWKS file ({"keys": [...]}, RSA, EC P-256 or
//   oct keys with their `kid`), re-read when the file changes (key
//   rotation without a restart);
// - each key verifies only its own algorithm (an RSA key never checks an
//   HS256 signature, "none" never verifies); a token naming a `kid` is
//   checked with that key only;
// - claims: `exp` required and `nbf` honoured, both with a clock-skew
//   leeway; `iss` must equal the issuer and `aud` (string or array) must
//   contain the audience; `sub` names the user (users.auth0_id).
// Every failure is UNAUTHENTICATED with a reason that never echoes the
// token. Thread-safe.
#ifndef CHATGENIUS_SERVER_AUTH_END_USER_JWT_H_
#define CHATGENIUS_SERVER_AUTH_END_USER_JWT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chatgenius {

// kEndUserTokenMetadata carries the end user's JWT on a call.
inline constexpr char kEndUserTokenMetadata[] = "x-end-user-token";

// JwtSettings configures end-user verification (END_USER_JWT_*).
struct JwtSettings {
  std::string hs256_secret_file;              // END_USER_JWT_HS256_SECRET_FILE
  std::vector<std::string> public_key_files;  // END_USER_JWT_PUBLIC_KEY_FILES
  std::string jwks_file;                      // END_USER_JWT_JWKS_FILE
  std::string issuer;                         // END_USER_JWT_ISSUER
  std::string audience;                       // END_USER_JWT_AUDIENCE
  absl::Duration leeway = absl::Seconds(60);  // END_USER_JWT_LEEWAY_S
  // How often a JWKS file is checked for changes.
  absl::Duration jwks_check_interval = absl::Seconds(1);

  // enabled: any key source is set.
  bool enabled() const {
    return !hs256_secret_file.empty() || !public_key_files.empty() || !jwks_file.empty();
  }
};

// EndUserClaims are the verified claims the service uses.
struct EndUserClaims {
  std::string subject;  // `sub`
  absl::Time expires;   // `exp`
};

class JwtVerifier {
 public:
  // Create loads every configured key; INVALID_ARGUMENT naming the setting
  // for an unreadable or unusable key file, or a missing issuer/audience.
  static absl::StatusOr<std::unique_ptr<JwtVerifier>> Create(JwtSettings settings);
  ~JwtVerifier();

  // Verify checks `token` as of `now`.
  absl::StatusOr<EndUserClaims> Verify(absl::string_view token, absl::Time now);

  // key_count is the number of keys in use (the JWKS file's as last read).
  int key_count();

  struct Key;

 private:
  explicit JwtVerifier(JwtSettings settings);
  // Re-reads the JWKS file if it changed since the last look (at most every
  // jwks_check_interval); a file that no longer parses keeps the old keys.
  void MaybeReloadJwks(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const JwtSettings settings_;
  absl::Mutex mu_;
  std::vector<std::shared_ptr<const Key>> static_keys_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<const Key>> jwks_keys_ ABSL_GUARDED_BY(mu_);
  absl::Time jwks_checked_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string jwks_stamp_ ABSL_GUARDED_BY(mu_);  // mtime and size last read
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_AUTH_END_USER_JWT_H_
