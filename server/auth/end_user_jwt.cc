#include "server/auth/end_user_jwt.h"

#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/common/log.h"

namespace chatgenius {

// Key is one verification key and the one algorithm it verifies.
struct JwtVerifier::Key {
  std::string kid;  // empty for secret and PEM keys
  std::string alg;  // RS256, ES256 or HS256
  cjose_jwk_t* jwk = nullptr;
  ~Key() {
    if (jwk != nullptr) cjose_jwk_release(jwk);
  }
};

namespace {

using Key = JwtVerifier::Key;
using KeyPtr = std::shared_ptr<const Key>;

// A token is a few hundred bytes; this bounds the work an abusive one costs.
constexpr size_t kMaxTokenBytes = 8192;
// HS256 secrets shorter than the hash are guessable (RFC 7518 3.2).
constexpr size_t kMinSecretBytes = 32;

struct JsonDeleter {
  void operator()(json_t* j) const { json_decref(j); }
};
using JsonPtr = std::unique_ptr<json_t, JsonDeleter>;
struct JwsDeleter {
  void operator()(cjose_jws_t* j) const { cjose_jws_release(j); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat(kEndUserTokenMetadata, ": ", why));
}

absl::StatusOr<std::string> ReadFile(absl::string_view setting, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(setting, ": cannot read '", path, "'"));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

KeyPtr MakeKey(std::string kid, std::string alg, cjose_jwk_t* jwk) {
  auto key = std::make_shared<Key>();
  key->kid = std::move(kid);
  key->alg = std::move(alg);
  key->jwk = jwk;
  return key;
}

absl::StatusOr<KeyPtr> SecretKey(const std::string& path) {
  const char* setting = "END_USER_JWT_HS256_SECRET_FILE";
  absl::StatusOr<std::string> secret = ReadFile(setting, path);
  if (!secret.ok()) return secret.status();
  absl::string_view bytes = *secret;
  absl::ConsumeSuffix(&bytes, "\n");
  absl::ConsumeSuffix(&bytes, "\r");
  if (bytes.size() < kMinSecretBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(setting, ": the secret must be at least ", kMinSecretBytes, " bytes"));
  }
  cjose_err err;
  cjose_jwk_t* jwk =
      cjose_jwk_create_oct_spec(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &err);
  if (jwk == nullptr) return absl::InvalidArgumentError(absl::StrCat(setting, ": ", err.message));
  return MakeKey("", CJOSE_HDR_ALG_HS256, jwk);
}

std::string BnBytes(const BIGNUM* bn, int width = 0) {
  std::string out(std::max(BN_num_bytes(bn), width), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  return out;
}

BnPtr BnParam(EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) return nullptr;
  return BnPtr(bn);
}

// A PEM public key: RSA for RS256 or EC P-256 for ES256.
absl::StatusOr<KeyPtr> PemKey(const std::string& path) {
  const std::string setting = absl::StrCat("END_USER_JWT_PUBLIC_KEY_FILES (", path, ")");
  absl::StatusOr<std::string> pem = ReadFile(setting, path);
  if (!pem.ok()) return pem.status();
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(setting, ": not a PEM public key"));
  }
  cjose_err err;
  if (EVP_PKEY_get_base_id(pkey.get()) == EVP_PKEY_RSA) {
    BnPtr n = BnParam(pkey.get(), OSSL_PKEY_PARAM_RSA_N);
    BnPtr e = BnParam(pkey.get(), OSSL_PKEY_PARAM_RSA_E);
    if (n == nullptr || e == nullptr || BN_num_bits(n.get()) < 2048) {
      return absl::InvalidArgumentError(absl::StrCat(setting, ": RSA keys need 2048 bits or more"));
    }
    std::string nb = BnBytes(n.get()), eb = BnBytes(e.get());
    cjose_jwk_rsa_keyspec spec{};
    spec.n = reinterpret_cast<uint8_t*>(nb.data());
    spec.nlen = nb.size();
    spec.e = reinterpret_cast<uint8_t*>(eb.data());
    spec.elen = eb.size();
    cjose_jwk_t* jwk = cjose_jwk_create_RSA_spec(&spec, &err);
    if (jwk == nullptr) return absl::InvalidArgumentError(absl::StrCat(setting, ": ", err.message));
    return MakeKey("", CJOSE_HDR_ALG_RS256, jwk);
  }
  char group[64] = {0};
  if (EVP_PKEY_get_base_id(pkey.get()) == EVP_PKEY_EC &&
      EVP_PKEY_get_utf8_string_param(pkey.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     nullptr) == 1 &&
      absl::string_view(group) == "prime256v1") {
    BnPtr x = BnParam(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X);
    BnPtr y = BnParam(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y);
    if (x == nullptr || y == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(setting, ": unreadable EC point"));
    }
    std::string xb = BnBytes(x.get(), 32), yb = BnBytes(y.get(), 32);
    cjose_jwk_ec_keyspec spec{};
    spec.crv = CJOSE_JWK_EC_P_256;
    spec.x = reinterpret_cast<uint8_t*>(xb.data());
    spec.xlen = xb.size();
    spec.y = reinterpret_cast<uint8_t*>(yb.data());
    spec.ylen = yb.size();
    cjose_jwk_t* jwk = cjose_jwk_create_EC_spec(&spec, &err);
    if (jwk == nullptr) return absl::InvalidArgumentError(absl::StrCat(setting, ": ", err.message));
    return MakeKey("", CJOSE_HDR_ALG_ES256, jwk);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(setting, ": only RSA (RS256) and EC P-256 (ES256) keys are supported"));
}

const char* JsonString(json_t* object, const char* name) {
  json_t* v = json_object_get(object, name);
  return json_is_string(v) ? json_string_value(v) : nullptr;
}

// The keys of a JWKS document; each key's algorithm follows from its type.
absl::StatusOr<std::vector<KeyPtr>> JwksKeys(const std::string& text) {
  const char* setting = "END_USER_JWT_JWKS_FILE";
  json_error_t jerr;
  JsonPtr doc(json_loadb(text.data(), text.size(), 0, &jerr));
  json_t* keys = doc == nullptr ? nullptr : json_object_get(doc.get(), "keys");
  if (!json_is_array(keys)) {
    return absl::InvalidArgumentError(absl::StrCat(setting, ": not a JWKS ({\"keys\": [...]})"));
  }
  std::vector<KeyPtr> out;
  for (size_t i = 0; i < json_array_size(keys); ++i) {
    json_t* entry = json_array_get(keys, i);
    const char* kty = JsonString(entry, "kty");
    const char* use = JsonString(entry, "use");
    const char* declared = JsonString(entry, "alg");
    const char* crv = JsonString(entry, "crv");
    const char* kid = JsonString(entry, "kid");
    std::string alg;
    if (kty != nullptr && absl::string_view(kty) == "RSA") alg = CJOSE_HDR_ALG_RS256;
    if (kty != nullptr && absl::string_view(kty) == "EC" && crv != nullptr &&
        absl::string_view(crv) == "P-256") {
      alg = CJOSE_HDR_ALG_ES256;
    }
    if (kty != nullptr && absl::string_view(kty) == "oct") alg = CJOSE_HDR_ALG_HS256;
    if (alg.empty() || (use != nullptr && absl::string_view(use) != "sig") ||
        (declared != nullptr && alg != declared)) {
      continue;  // not a signing key we verify with (e.g. an encryption key)
    }
    cjose_err err;
    cjose_jwk_t* jwk = cjose_jwk_import_json(entry, &err);
    if (jwk == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(setting, ": key ", i, " (kid ", kid ? kid : "none", "): ", err.message));
    }
    out.push_back(MakeKey(kid ? kid : "", alg, jwk));
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(setting, ": no signing keys"));
  return out;
}

// The file's identity for change detection: modification time and size.
std::string FileStamp(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return "";
  return absl::StrCat(st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, "/", st.st_size);
}

// Claims: exp/nbf with leeway, iss, aud, sub.
absl::StatusOr<EndUserClaims> CheckClaims(const JwtSettings& settings, absl::string_view payload,
                                          absl::Time now) {
  json_error_t jerr;
  JsonPtr claims(json_loadb(payload.data(), payload.size(), 0, &jerr));
  if (!json_is_object(claims.get())) return Unauthenticated("the payload is not a JSON object");
  json_t* exp = json_object_get(claims.get(), "exp");
  if (!json_is_number(exp) || !std::isfinite(json_number_value(exp))) {
    return Unauthenticated("exp is required");
  }
  const absl::Time expires = absl::FromUnixSeconds(static_cast<int64_t>(json_number_value(exp)));
  if (now > expires + settings.leeway) return Unauthenticated("the token has expired");
  if (json_t* nbf = json_object_get(claims.get(), "nbf"); nbf != nullptr) {
    if (!json_is_number(nbf)) return Unauthenticated("nbf must be a number");
    if (now + settings.leeway <
        absl::FromUnixSeconds(static_cast<int64_t>(json_number_value(nbf)))) {
      return Unauthenticated("the token is not valid yet");
    }
  }
  const char* iss = JsonString(claims.get(), "iss");
  if (iss == nullptr || settings.issuer != iss) return Unauthenticated("wrong issuer");
  json_t* aud = json_object_get(claims.get(), "aud");
  bool audience_ok = json_is_string(aud) && settings.audience == json_string_value(aud);
  for (size_t i = 0; json_is_array(aud) && i < json_array_size(aud); ++i) {
    json_t* a = json_array_get(aud, i);
    audience_ok = audience_ok || (json_is_string(a) && settings.audience == json_string_value(a));
  }
  if (!audience_ok) return Unauthenticated("wrong audience");
  const char* sub = JsonString(claims.get(), "sub");
  if (sub == nullptr || *sub == '\0') return Unauthenticated("sub is required");
  return EndUserClaims{sub, expires};
}

}  // namespace

JwtVerifier::JwtVerifier(JwtSettings settings) : settings_(std::move(settings)) {}
JwtVerifier::~JwtVerifier() = default;

absl::StatusOr<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(JwtSettings settings) {
  if (settings.issuer.empty() || settings.audience.empty()) {
    return absl::InvalidArgumentError(
        "END_USER_JWT_ISSUER and END_USER_JWT_AUDIENCE: both are required with end-user tokens");
  }
  std::unique_ptr<JwtVerifier> v(new JwtVerifier(std::move(settings)));
  absl::MutexLock lock(&v->mu_);
  if (!v->settings_.hs256_secret_file.empty()) {
    absl::StatusOr<KeyPtr> key = SecretKey(v->settings_.hs256_secret_file);
    if (!key.ok()) return key.status();
    v->static_keys_.push_back(*key);
  }
  for (const std::string& path : v->settings_.public_key_files) {
    absl::StatusOr<KeyPtr> key = PemKey(path);
    if (!key.ok()) return key.status();
    v->static_keys_.push_back(*key);
  }
  if (!v->settings_.jwks_file.empty()) {
    // The first read must succeed; later ones keep the last good keys.
    absl::StatusOr<std::string> text = ReadFile("END_USER_JWT_JWKS_FILE", v->settings_.jwks_file);
    if (!text.ok()) return text.status();
    absl::StatusOr<std::vector<KeyPtr>> keys = JwksKeys(*text);
    if (!keys.ok()) return keys.status();
    v->jwks_keys_ = std::move(*keys);
    v->jwks_stamp_ = FileStamp(v->settings_.jwks_file);
  }
  return v;
}

void JwtVerifier::MaybeReloadJwks(absl::Time now) {
  if (settings_.jwks_file.empty() || now < jwks_checked_ + settings_.jwks_check_interval) return;
  jwks_checked_ = now;
  const std::string stamp = FileStamp(settings_.jwks_file);
  if (stamp.empty() || stamp == jwks_stamp_) return;
  absl::StatusOr<std::string> text = ReadFile("END_USER_JWT_JWKS_FILE", settings_.jwks_file);
  absl::StatusOr<std::vector<KeyPtr>> keys =
      text.ok() ? JwksKeys(*text) : absl::StatusOr<std::vector<KeyPtr>>(text.status());
  if (!keys.ok()) {
    LogWarning(absl::StrCat("keeping the previous end-user keys: ", keys.status().message()));
    return;  // a half-written file is retried at the next change
  }
  jwks_keys_ = std::move(*keys);
  jwks_stamp_ = stamp;
  LogInfo(absl::StrCat("end-user keys reloaded from ", settings_.jwks_file, ": ", jwks_keys_.size(),
                       " keys"));
}

int JwtVerifier::key_count() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(static_keys_.size() + jwks_keys_.size());
}

absl::StatusOr<EndUserClaims> JwtVerifier::Verify(absl::string_view token, absl::Time now) {
  if (token.empty()) return Unauthenticated("missing");
  if (token.size() > kMaxTokenBytes) return Unauthenticated("too long");
  cjose_err err;
  std::unique_ptr<cjose_jws_t, JwsDeleter> jws(cjose_jws_import(token.data(), token.size(), &err));
  if (jws == nullptr) return Unauthenticated("not a compact JWS");
  cjose_header_t* header = cjose_jws_get_protected(jws.get());
  const char* alg = header == nullptr ? nullptr : cjose_header_get(header, CJOSE_HDR_ALG, &err);
  const char* kid = header == nullptr ? nullptr : cjose_header_get(header, CJOSE_HDR_KID, &err);
  if (alg == nullptr) return Unauthenticated("alg is required");
  const absl::string_view want_kid = kid == nullptr ? "" : kid;

  // The candidate keys: this algorithm only; the token's kid if it names one
  // we have, else the keys without a kid.
  std::vector<KeyPtr> candidates;
  {
    absl::MutexLock lock(&mu_);
    MaybeReloadJwks(now);
    for (const auto* keys : {&jwks_keys_, &static_keys_}) {
      for (const KeyPtr& k : *keys) {
        if (k->alg == alg && !want_kid.empty() && k->kid == want_kid) candidates.push_back(k);
      }
    }
    if (candidates.empty()) {
      for (const KeyPtr& k : static_keys_) {
        if (k->alg == alg && k->kid.empty()) candidates.push_back(k);
      }
    }
  }
  if (candidates.empty()) {
    return Unauthenticated(absl::StrCat(
        "no key for alg ", alg, want_kid.empty() ? "" : absl::StrCat(" and kid ", want_kid)));
  }
  bool verified = false;
  for (const KeyPtr& k : candidates) {
    if (cjose_jws_verify(jws.get(), k->jwk, &err)) {
      verified = true;
      break;
    }
  }
  if (!verified) return Unauthenticated("bad signature");
  uint8_t* payload = nullptr;
  size_t payload_len = 0;
  if (!cjose_jws_get_plaintext(jws.get(), &payload, &payload_len, &err)) {
    return Unauthenticated("unreadable payload");
  }
  return CheckClaims(settings_,
                     absl::string_view(reinterpret_cast<const char*>(payload), payload_len), now);
}

}  // namespace chatgenius
