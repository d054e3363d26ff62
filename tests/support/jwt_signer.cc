#include "tests/support/jwt_signer.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace chatgenius::testing {
namespace {

std::string B64(const std::string& bytes) {
  std::string out;
  absl::WebSafeBase64Escape(bytes, &out);  // no padding, as JOSE wants
  return out;
}

EVP_PKEY* ReadPrivate(const std::string& path) {
  FILE* f = fopen(path.c_str(), "r");
  if (f == nullptr) {
    ADD_FAILURE() << "cannot read " << path;
    return nullptr;
  }
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  fclose(f);
  EXPECT_NE(key, nullptr) << path;
  return key;
}

std::string SigningInput(const std::string& alg, const std::string& kid,
                         const std::string& payload) {
  std::string header = absl::StrCat(R"({"alg":")", alg, R"(","typ":"JWT")");
  if (!kid.empty()) absl::StrAppend(&header, R"(,"kid":")", kid, R"(")");
  absl::StrAppend(&header, "}");
  return absl::StrCat(B64(header), ".", B64(payload));
}

std::string DigestSign(EVP_PKEY* key, const std::string& input) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key), 1);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  std::string sig(len, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  sig.resize(len);
  return sig;
}

std::string Bn(EVP_PKEY* key, const char* name, int width = 0) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &bn), 1) << name;
  std::string out(std::max(BN_num_bytes(bn), width), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  BN_free(bn);
  return out;
}

}  // namespace

KeyPair GenerateKey(const std::string& dir, const std::string& name, const std::string& type) {
  KeyPair k{absl::StrCat(dir, "/", name, ".key"), absl::StrCat(dir, "/", name, ".pub")};
  const std::string algorithm = type == "rsa" ? "-algorithm RSA -pkeyopt rsa_keygen_bits:2048"
                                              : "-algorithm EC -pkeyopt ec_paramgen_curve:P-256";
  const std::string cmd =
      absl::StrCat("openssl genpkey ", algorithm, " -out ", k.private_pem, " 2>/dev/null && ",
                   "openssl pkey -in ", k.private_pem, " -pubout -out ", k.public_pem);
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return k;
}

std::string SignRs256(const std::string& private_pem_path, const std::string& payload_json,
                      const std::string& kid) {
  EVP_PKEY* key = ReadPrivate(private_pem_path);
  const std::string input = SigningInput("RS256", kid, payload_json);
  const std::string sig = DigestSign(key, input);
  EVP_PKEY_free(key);
  return absl::StrCat(input, ".", B64(sig));
}

std::string SignEs256(const std::string& private_pem_path, const std::string& payload_json,
                      const std::string& kid) {
  EVP_PKEY* key = ReadPrivate(private_pem_path);
  const std::string input = SigningInput("ES256", kid, payload_json);
  const std::string der = DigestSign(key, input);
  EVP_PKEY_free(key);
  // JOSE wants r || s, 32 bytes each, not OpenSSL's DER.
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return absl::StrCat(input, ".", B64(raw));
}

std::string SignHs256(const std::string& secret, const std::string& payload_json,
                      const std::string& kid) {
  const std::string input = SigningInput("HS256", kid, payload_json);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return absl::StrCat(input, ".", B64(std::string(reinterpret_cast<char*>(mac), len)));
}

std::string PublicJwk(const std::string& public_pem_path, const std::string& kid) {
  FILE* f = fopen(public_pem_path.c_str(), "r");
  EVP_PKEY* key = f == nullptr ? nullptr : PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
  if (f != nullptr) fclose(f);
  if (key == nullptr) {
    ADD_FAILURE() << "cannot read " << public_pem_path;
    return "{}";
  }
  std::string jwk;
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
    jwk = absl::StrCat(R"({"kty":"RSA","use":"sig","kid":")", kid, R"(","n":")",
                       B64(Bn(key, OSSL_PKEY_PARAM_RSA_N)), R"(","e":")",
                       B64(Bn(key, OSSL_PKEY_PARAM_RSA_E)), R"("})");
  } else {
    jwk = absl::StrCat(R"({"kty":"EC","crv":"P-256","use":"sig","kid":")", kid, R"(","x":")",
                       B64(Bn(key, OSSL_PKEY_PARAM_EC_PUB_X, 32)), R"(","y":")",
                       B64(Bn(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32)), R"("})");
  }
  EVP_PKEY_free(key);
  return jwk;
}

std::string Claims(const std::string& sub, const std::string& iss, const std::string& aud,
                   long long exp_in_s, const std::string& extra) {
  return absl::StrCat(R"({"sub":")", sub, R"(","iss":")", iss, R"(","aud":")", aud, R"(","exp":)",
                      static_cast<long long>(std::time(nullptr)) + exp_in_s, extra, "}");
}

}  // namespace chatgenius::testing
