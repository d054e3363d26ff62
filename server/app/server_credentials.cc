#include "server/app/server_credentials.h"

#include <string>
#include <utility>

#include <grpcpp/security/server_credentials.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/app/component_settings.h"
#include "server/auth/bearer_tokens.h"
#include "server/common/log.h"
#include "server/common/status_macros.h"

namespace chatgenius {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const Config& c, std::shared_ptr<TokenAuthProcessor>* auth) {
  std::shared_ptr<TokenAuthProcessor> processor;
  if (c.auth_enabled()) {
    ASSIGN_OR_RETURN(BearerTokens tokens, BearerTokens::Load(c.auth_tokens_file));
    LogInfo(absl::StrCat("caller auth on: ", tokens.size(), " token(s) from ", c.auth_tokens_file,
                         "; exempt: ", absl::StrJoin(c.auth_exempt, ","),
                         c.end_user_jwt.enabled() ? "; end-user tokens required" : ""));
    processor = std::make_shared<TokenAuthProcessor>(std::move(tokens), c.auth_exempt,
                                                     c.end_user_jwt.enabled());
    *auth = processor;
  }
  if (!c.tls_enabled()) {
    if (processor == nullptr) return grpc::InsecureServerCredentials();
    std::shared_ptr<grpc::ServerCredentials> local =
        grpc::experimental::LocalServerCredentials(LOCAL_TCP);
    local->SetAuthMetadataProcessor(processor);
    return local;
  }
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadPem("TLS_CERT_FILE", c.tls_cert_file));
  ASSIGN_OR_RETURN(pair.private_key, ReadPem("TLS_KEY_FILE", c.tls_key_file));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!c.tls_client_ca_file.empty()) {
    ASSIGN_OR_RETURN(options.pem_root_certs, ReadPem("TLS_CLIENT_CA_FILE", c.tls_client_ca_file));
    // Unknown clients are refused during the handshake.
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  std::shared_ptr<grpc::ServerCredentials> tls = grpc::SslServerCredentials(options);
  if (processor != nullptr) tls->SetAuthMetadataProcessor(processor);
  return tls;
}

}  // namespace chatgenius
