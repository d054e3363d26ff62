// jwt_signer.h
//
// Test-side JWT issuing, written straight on OpenSSL (not cjose, which the
// server verifies with), so the verifier is checked against an independent
// signer. Keys are generated with the openssl command at test time.
#ifndef CHATGENIUS_TESTS_SUPPORT_JWT_SIGNER_H_
#define CHATGENIUS_TESTS_SUPPORT_JWT_SIGNER_H_

#include <string>

namespace chatgenius::testing {

// KeyPair: files written by GenerateKey.
struct KeyPair {
  std::string private_pem;  // path
  std::string public_pem;   // path
};

// GenerateKey runs `openssl genpkey` for "rsa" (2048 bits) or "ec" (P-256)
// into `dir`/`name`.{key,pub}.
KeyPair GenerateKey(const std::string& dir, const std::string& name, const std::string& type);

// SignRs256/SignEs256/SignHs256 return a compact JWS of `payload_json`,
// with `kid` in the header when not empty.
std::string SignRs256(const std::string& private_pem_path, const std::string& payload_json,
                      const std::string& kid = "");
std::string SignEs256(const std::string& private_pem_path, const std::string& payload_json,
                      const std::string& kid = "");
std::string SignHs256(const std::string& secret, const std::string& payload_json,
                      const std::string& kid = "");

// PublicJwk returns the JWK (JSON) of a PEM public key file, with `kid`.
std::string PublicJwk(const std::string& public_pem_path, const std::string& kid);

// Claims returns a JSON payload: sub, iss, aud and exp = now + exp_in_s
// (Unix seconds), plus `extra` members (", \"nbf\": 1" style) verbatim.
std::string Claims(const std::string& sub, const std::string& iss, const std::string& aud,
                   long long exp_in_s, const std::string& extra = "");

}  // namespace chatgenius::testing

#endif  // CHATGENIUS_TESTS_SUPPORT_JWT_SIGNER_H_
