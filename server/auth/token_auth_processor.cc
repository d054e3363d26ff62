#include "server/auth/token_auth_processor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/auth/acting_user.h"

namespace chatgenius {
namespace {

absl::string_view View(grpc::string_ref s) { return absl::string_view(s.data(), s.size()); }

// ServiceOf returns "pkg.Service" of a ":path" "/pkg.Service/Method".
absl::string_view ServiceOf(absl::string_view path) {
  if (!path.empty() && path[0] == '/') path.remove_prefix(1);
  return path.substr(0, path.find('/'));
}

}  // namespace

std::string CallerName(const grpc::ServerContextBase& context) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return "";
  const std::vector<grpc::string_ref> names = auth->FindPropertyValues(kCallerProperty);
  return names.empty() ? "" : std::string(names[0].data(), names[0].size());
}

absl::string_view RequiredRole(absl::string_view path) {
  if (path == "/chatgenius.db.v1.MigrationService/ApplyMigrations" ||
      ServiceOf(path) == "chatgenius.db.v1.AdminService") {
    return kAdminRole;
  }
  return "";
}

TokenAuthProcessor::TokenAuthProcessor(BearerTokens tokens, std::set<std::string> exempt_services,
                                       bool require_end_user_tokens)
    : tokens_(std::move(tokens)),
      exempt_services_(std::move(exempt_services)),
      require_end_user_tokens_(require_end_user_tokens) {}

grpc::Status TokenAuthProcessor::Process(const InputMetadata& auth_metadata,
                                         grpc::AuthContext* context,
                                         OutputMetadata* consumed_auth_metadata,
                                         OutputMetadata* /*response_metadata*/) {
  absl::string_view path;
  if (auto it = auth_metadata.find(":path"); it != auth_metadata.end()) path = View(it->second);
  const auto authorization = auth_metadata.find("authorization");
  if (authorization != auth_metadata.end()) {
    consumed_auth_metadata->emplace("authorization", std::string(View(authorization->second)));
  }
  if (exempt_services_.count(std::string(ServiceOf(path))) > 0) return grpc::Status::OK;
  absl::StatusOr<Caller> caller = tokens_.Authenticate(
      authorization == auth_metadata.end() ? absl::string_view() : View(authorization->second));
  if (!caller.ok()) {
    refused_total_.fetch_add(1);
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(caller.status().message()));
  }
  if (const absl::string_view role = RequiredRole(path); !role.empty() && !caller->has_role(role)) {
    refused_total_.fetch_add(1);
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat(path, " needs the ", role, " role (roles=", role,
                                     " on the caller's AUTH_TOKENS_FILE line)"));
  }
  if (require_end_user_tokens_ && ActsForAUser(path) && !caller->has_role(kAdminRole) &&
      auth_metadata.find(kEndUserTokenMetadata) == auth_metadata.end()) {
    refused_total_.fetch_add(1);
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat(kEndUserTokenMetadata,
                                     ": required to act for a user (only an admin caller may "
                                     "act without one)"));
  }
  if (context->FindPropertyValues(kCallerProperty).empty()) {
    context->AddProperty(kCallerProperty, caller->name);
  }
  return grpc::Status::OK;
}

}  // namespace chatgenius
