// server_credentials.h
//
// ServerCredentialsFor: the gRPC server credentials a Config asks for. TLS
// (TLS_CERT_FILE + TLS_KEY_FILE), with TLS_CLIENT_CA_FILE mutual TLS
// (clients without a certificate that CA signed are refused in the
// handshake); otherwise plaintext. With caller auth (AUTH_TOKENS_FILE) the
// bearer-token processor is installed and returned in `auth`; gRPC runs
// processors on secure credentials only, so plaintext with auth uses local
// credentials (plaintext, loopback peers only; LoadConfig refuses auth on a
// plaintext non-loopback address).
//
// Errors: the tokens file or a PEM file missing or unreadable, naming the
// variable (FAILED_PRECONDITION / INVALID_ARGUMENT as BearerTokens::Load
// and ReadPem say).
#ifndef CHATGENIUS_SERVER_APP_SERVER_CREDENTIALS_H_
#define CHATGENIUS_SERVER_APP_SERVER_CREDENTIALS_H_

#include <memory>

#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"
#include "server/app/config.h"
#include "server/auth/token_auth_processor.h"

namespace chatgenius {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const Config& config, std::shared_ptr<TokenAuthProcessor>* auth);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_APP_SERVER_CREDENTIALS_H_
