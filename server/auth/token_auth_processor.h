// token_auth_processor.h
//
// The gRPC side of bearer-token auth: an AuthMetadataProcessor that checks
// each call's `authorization` metadata against BearerTokens before any
// handler runs. Calls to exempt services (AUTH_EXEMPT, e.g. the health
// service for load-balancer probes) pass without a token. The token is
// consumed: handlers and logs never see it. The caller's name is recorded
// in the AuthContext as property kCallerProperty (CallerName reads it).
// gRPC's AuthContext belongs to the connection, not the call, so it is set
// once per connection, by its first authenticated call: adding it on every
// call would grow a long-lived connection's context without bound.
// Decisions about one call are taken here, from that call's own metadata.
//
// Privileged methods need a role: ApplyMigrations and every AdminService
// method need `admin` (PERMISSION_DENIED otherwise, before any handler
// runs). Without AUTH_TOKENS_FILE there are no callers to tell apart and
// nothing is gated (loopback development).
//
// With end-user tokens on, a method that acts for a user (acting_user.h)
// needs the user's JWT in `x-end-user-token` unless the caller has the
// admin role (PERMISSION_DENIED); the handler verifies it
// (CheckActingUser), since only the handler sees the request's fields.
//
// gRPC runs AuthMetadataProcessors only on secure server credentials, so the
// server installs it on its TLS credentials, or on local (loopback-only)
// credentials when serving plaintext on loopback.
#ifndef CHATGENIUS_SERVER_AUTH_TOKEN_AUTH_PROCESSOR_H_
#define CHATGENIUS_SERVER_AUTH_TOKEN_AUTH_PROCESSOR_H_

#include <atomic>
#include <cstdint>
#include <set>
#include <string>

#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/server_context.h>

#include "absl/strings/string_view.h"
#include "server/auth/bearer_tokens.h"

namespace chatgenius {

inline constexpr char kCallerProperty[] = "chatgenius.caller";

// CallerName is the caller name the processor recorded on `context`'s
// connection, or "" (no caller auth, or an exempt service).
std::string CallerName(const grpc::ServerContextBase& context);

// RequiredRole returns the role the method at `path` ("/pkg.Service/Method")
// needs, or "" for none.
absl::string_view RequiredRole(absl::string_view path);

class TokenAuthProcessor final : public grpc::AuthMetadataProcessor {
 public:
  // `exempt_services` are full service names ("grpc.health.v1.Health").
  TokenAuthProcessor(BearerTokens tokens, std::set<std::string> exempt_services,
                     bool require_end_user_tokens = false);

  // Checks are CPU-only (a hash and compares): run inline on gRPC's thread.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

  // refused_total counts calls refused with UNAUTHENTICATED.
  int64_t refused_total() const { return refused_total_.load(); }

 private:
  const BearerTokens tokens_;
  const std::set<std::string> exempt_services_;
  const bool require_end_user_tokens_;
  std::atomic<int64_t> refused_total_{0};
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_AUTH_TOKEN_AUTH_PROCESSOR_H_
