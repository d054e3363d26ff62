// JwtVerifier against tokens signed by an independent signer
// (tests/support/jwt_signer, OpenSSL) with keys the openssl command makes
// at test time: RS256, ES256 and HS256, claims, clock skew, key confusion,
// and JWKS rotation.
#include "server/auth/end_user_jwt.h"

#include <cstdlib>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/jwt_signer.h"

namespace chatgenius {
namespace {

using testing::Claims;

constexpr char kIssuer[] = "https://chatgenius.eu.auth0.com/";
constexpr char kAudience[] = "chatgenius-db";
const std::string kSecret = "0123456789abcdef0123456789abcdef-hs256";

std::string Dir() { return std::getenv("TEST_TMPDIR"); }

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

class EndUserJwtTest : public ::testing::Test {
 protected:
  EndUserJwtTest()
      : rsa_(testing::GenerateKey(Dir(), "rsa", "rsa")),
        ec_(testing::GenerateKey(Dir(), "ec", "ec")) {
    Write(Dir() + "/secret", kSecret + "\n");
  }
  JwtSettings Settings() {
    JwtSettings s;
    s.hs256_secret_file = Dir() + "/secret";
    s.public_key_files = {rsa_.public_pem, ec_.public_pem};
    s.issuer = kIssuer;
    s.audience = kAudience;
    return s;
  }
  std::unique_ptr<JwtVerifier> Verifier(JwtSettings s) {
    absl::StatusOr<std::unique_ptr<JwtVerifier>> v = JwtVerifier::Create(std::move(s));
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? std::move(*v) : nullptr;
  }
  static void ExpectRefused(const absl::StatusOr<EndUserClaims>& got, const std::string& why) {
    ASSERT_FALSE(got.ok()) << "expected refusal: " << why;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated) << got.status();
    EXPECT_NE(got.status().message().find(why), absl::string_view::npos) << got.status();
    EXPECT_NE(got.status().message().find("x-end-user-token"), absl::string_view::npos);
  }
  std::string Good(const std::string& sub = "auth0|ada") {
    return Claims(sub, kIssuer, kAudience, 3600);
  }

  testing::KeyPair rsa_, ec_;
};

TEST_F(EndUserJwtTest, AcceptsEachAlgorithmWithItsKey) {
  auto v = Verifier(Settings());
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->key_count(), 3);
  for (const std::string& token :
       {testing::SignRs256(rsa_.private_pem, Good()), testing::SignEs256(ec_.private_pem, Good()),
        testing::SignHs256(kSecret, Good())}) {
    absl::StatusOr<EndUserClaims> claims = v->Verify(token, absl::Now());
    ASSERT_TRUE(claims.ok()) << claims.status() << " for " << token.substr(0, 20);
    EXPECT_EQ(claims->subject, "auth0|ada");
  }
}

TEST_F(EndUserJwtTest, RefusesBadSignaturesAndForeignKeys) {
  auto v = Verifier(Settings());
  ASSERT_NE(v, nullptr);
  std::string token = testing::SignRs256(rsa_.private_pem, Good());
  token[token.size() - 5] = token[token.size() - 5] == 'A' ? 'B' : 'A';
  ExpectRefused(v->Verify(token, absl::Now()), "bad signature");
  // Another key pair nobody configured.
  testing::KeyPair other = testing::GenerateKey(Dir(), "other", "rsa");
  ExpectRefused(v->Verify(testing::SignRs256(other.private_pem, Good()), absl::Now()),
                "bad signature");
  ExpectRefused(
      v->Verify(testing::SignHs256("another-secret-of-32-bytes-length!", Good()), absl::Now()),
      "bad signature");
  // The payload swapped for someone else's, keeping the signature.
  const std::string mine = testing::SignHs256(kSecret, Good("auth0|ada"));
  const std::string theirs = testing::SignHs256(kSecret, Good("auth0|bob"));
  const std::string spliced = theirs.substr(0, theirs.rfind('.')) + mine.substr(mine.rfind('.'));
  ExpectRefused(v->Verify(spliced, absl::Now()), "bad signature");
}

TEST_F(EndUserJwtTest, KeysVerifyOnlyTheirOwnAlgorithm) {
  // alg=HS256 with the RSA public key's PEM as the "secret": the classic
  // key-confusion forgery.
  JwtSettings only_rsa = Settings();
  only_rsa.hs256_secret_file.clear();
  only_rsa.public_key_files = {rsa_.public_pem};
  auto v = Verifier(only_rsa);
  ASSERT_NE(v, nullptr);
  std::ifstream in(rsa_.public_pem);
  const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ExpectRefused(v->Verify(testing::SignHs256(pem, Good()), absl::Now()), "no key for alg HS256");
  // alg "none" and garbage.
  const std::string signed_token = testing::SignHs256(kSecret, Good());
  const size_t dot = signed_token.find('.');
  const std::string payload = signed_token.substr(dot + 1, signed_token.rfind('.') - dot - 1);
  // base64url('{"alg":"none"}'), the payload, and no signature.
  absl::StatusOr<EndUserClaims> none =
      v->Verify(absl::StrCat("eyJhbGciOiJub25lIn0.", payload, "."), absl::Now());
  ASSERT_FALSE(none.ok()) << "alg none never verifies";
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
  ExpectRefused(v->Verify("not-a-token", absl::Now()), "not a compact JWS");
  ExpectRefused(v->Verify("", absl::Now()), "missing");
  ExpectRefused(v->Verify(std::string(10000, 'a'), absl::Now()), "too long");
}

TEST_F(EndUserJwtTest, ChecksTimeIssuerAudienceAndSubject) {
  auto v = Verifier(Settings());
  ASSERT_NE(v, nullptr);
  auto sign = [](const std::string& claims) { return testing::SignHs256(kSecret, claims); };
  ExpectRefused(v->Verify(sign(Claims("auth0|ada", kIssuer, kAudience, -120)), absl::Now()),
                "expired");
  EXPECT_TRUE(v->Verify(sign(Claims("auth0|ada", kIssuer, kAudience, -30)), absl::Now()).ok())
      << "30 s past exp is within the 60 s clock-skew leeway";
  const long long now = absl::ToUnixSeconds(absl::Now());
  ExpectRefused(v->Verify(sign(Claims("auth0|ada", kIssuer, kAudience, 3600,
                                      absl::StrCat(",\"nbf\":", now + 300))),
                          absl::Now()),
                "not valid yet");
  EXPECT_TRUE(v->Verify(sign(Claims("auth0|ada", kIssuer, kAudience, 3600,
                                    absl::StrCat(",\"nbf\":", now + 30))),
                        absl::Now())
                  .ok())
      << "a clock 30 s behind the issuer's is fine";
  ExpectRefused(v->Verify(sign(Claims("auth0|ada", "https://evil/", kAudience, 3600)), absl::Now()),
                "wrong issuer");
  ExpectRefused(v->Verify(sign(Claims("auth0|ada", kIssuer, "other-api", 3600)), absl::Now()),
                "wrong audience");
  const std::string listed =
      absl::StrCat(R"({"sub":"auth0|ada","iss":")", kIssuer, R"(","aud":["other-api",")", kAudience,
                   R"("],"exp":)", now + 3600, "}");
  EXPECT_TRUE(v->Verify(sign(listed), absl::Now()).ok()) << "aud may be an array";
  ExpectRefused(v->Verify(sign(absl::StrCat(R"({"sub":"auth0|ada","iss":")", kIssuer,
                                            R"(","aud":")", kAudience, R"("})")),
                          absl::Now()),
                "exp is required");
  ExpectRefused(v->Verify(sign(Claims("", kIssuer, kAudience, 3600)), absl::Now()),
                "sub is required");
}

TEST_F(EndUserJwtTest, JwksRotationIsPickedUpWithoutARestart) {
  const std::string jwks = Dir() + "/jwks.json";
  Write(jwks, absl::StrCat(R"({"keys":[)", testing::PublicJwk(rsa_.public_pem, "k1"), "]}"));
  JwtSettings s;
  s.jwks_file = jwks;
  s.issuer = kIssuer;
  s.audience = kAudience;
  auto v = Verifier(s);
  ASSERT_NE(v, nullptr);
  const absl::Time t0 = absl::Now();
  EXPECT_TRUE(v->Verify(testing::SignRs256(rsa_.private_pem, Good(), "k1"), t0).ok());
  const std::string by_k2 = testing::SignEs256(ec_.private_pem, Good(), "k2");
  ExpectRefused(v->Verify(by_k2, t0), "no key for alg ES256 and kid k2");

  // The identity provider rotates: k2 is added, k1 kept for a while.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a new mtime
  Write(jwks, absl::StrCat(R"({"keys":[)", testing::PublicJwk(rsa_.public_pem, "k1"), ",",
                           testing::PublicJwk(ec_.public_pem, "k2"), "]}"));
  EXPECT_TRUE(v->Verify(by_k2, t0 + absl::Seconds(2)).ok()) << "re-read after the change";
  EXPECT_EQ(v->key_count(), 2);
  // A broken file keeps the last good keys.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Write(jwks, "{\"keys\": [");
  EXPECT_TRUE(v->Verify(by_k2, t0 + absl::Seconds(4)).ok());
  // A token whose kid names k1 is not checked with k2, and vice versa.
  ExpectRefused(v->Verify(testing::SignEs256(ec_.private_pem, Good(), "k1"), t0 + absl::Seconds(6)),
                "no key for alg ES256 and kid k1");
}

TEST_F(EndUserJwtTest, UnusableSettingsAreRefusedNamingTheVariable) {
  struct Case {
    JwtSettings settings;
    const char* name;
  };
  JwtSettings no_iss = Settings();
  no_iss.issuer.clear();
  JwtSettings short_secret = Settings();
  Write(Dir() + "/short", "too-short");
  short_secret.hs256_secret_file = Dir() + "/short";
  JwtSettings not_pem = Settings();
  not_pem.public_key_files = {Dir() + "/short"};
  JwtSettings no_jwks = Settings();
  no_jwks.jwks_file = Dir() + "/absent.json";
  for (const Case& c : std::vector<Case>{{no_iss, "END_USER_JWT_ISSUER"},
                                         {short_secret, "END_USER_JWT_HS256_SECRET_FILE"},
                                         {not_pem, "END_USER_JWT_PUBLIC_KEY_FILES"},
                                         {no_jwks, "END_USER_JWT_JWKS_FILE"}}) {
    absl::StatusOr<std::unique_ptr<JwtVerifier>> v = JwtVerifier::Create(c.settings);
    ASSERT_FALSE(v.ok()) << c.name;
    EXPECT_NE(v.status().message().find(c.name), absl::string_view::npos) << v.status();
  }
}

}  // namespace
}  // namespace chatgenius
