#include "server/auth/acting_user.h"

#include <map>

#include <google/protobuf/descriptor.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace chatgenius {
namespace {

constexpr char kCreateUser[] = "chatgenius.db.v1.CreateUserRequest";

// Request type (without the package) -> the fields naming the acting user.
const std::map<std::string, std::vector<std::string>, std::less<>>& Table() {
  static const auto* table = new std::map<std::string, std::vector<std::string>, std::less<>>{
      // ChannelService
      {"CreateChannelRequest", {"creator_id"}},
      {"GetChannelRequest", {"viewer_id"}},
      {"UpdateChannelRequest", {"actor_id"}},
      {"ArchiveChannelRequest", {"actor_id"}},
      {"UnarchiveChannelRequest", {"actor_id"}},
      {"DeleteChannelRequest", {"actor_id"}},
      {"ListChannelsRequest", {"member_id", "viewer_id"}},
      {"AddMemberRequest", {"actor_id"}},
      {"RemoveMemberRequest", {"actor_id"}},
      {"UpdateMemberRoleRequest", {"actor_id"}},
      {"ListMembersRequest", {"viewer_id"}},
      {"GetOrCreateDirectChannelRequest", {"actor_id"}},
      {"MarkReadRequest", {"user_id"}},
      {"GetReadStateRequest", {"user_id"}},
      // MessageService
      {"PostMessageRequest", {"author_id"}},
      {"GetMessageRequest", {"viewer_id"}},
      {"UpdateMessageRequest", {"actor_id"}},
      {"DeleteMessageRequest", {"actor_id"}},
      {"ListMessagesRequest", {"viewer_id"}},
      {"ListThreadRepliesRequest", {"viewer_id"}},
      {"SearchMessagesRequest", {"user_id"}},
      {"AddAttachmentRequest", {"attachment.uploader_id"}},
      {"ListAttachmentsRequest", {"viewer_id"}},
      {"DeleteAttachmentRequest", {"actor_id"}},
      // ReactionService
      {"AddReactionRequest", {"user_id"}},
      {"RemoveReactionRequest", {"user_id"}},
      {"ListReactionsRequest", {"viewer_id"}},
      // EventService
      {"SubscribeRequest", {"user_id", "viewer_id"}},
      // UserService: one's own profile and status; CreateUser is checked
      // against the subject instead. The rest is the directory.
      {"CreateUserRequest", {}},
      {"UpdateUserRequest", {"user.id"}},
      {"DeleteUserRequest", {"id"}},
      {"SetUserStatusRequest", {"status.user_id"}},
      {"GetUserRequest", {}},
      {"LookupUserRequest", {}},
      {"BatchGetUsersRequest", {}},
      {"ListUsersRequest", {}},
      {"GetUserStatusRequest", {}},
      // Operators (the admin role gates the privileged ones).
      {"GetMigrationStatusRequest", {}},
      {"ApplyMigrationsRequest", {}},
      {"GetPoolStatsRequest", {}},
      {"GetTunnelStatusRequest", {}},
      {"GetDatabaseHostsRequest", {}},
      {"GetServerInfoRequest", {}},
  };
  return *table;
}

absl::string_view ShortName(absl::string_view full) {
  constexpr absl::string_view kPackage = "chatgenius.db.v1.";
  if (full.substr(0, kPackage.size()) == kPackage) full.remove_prefix(kPackage.size());
  return full;
}

// The string at `path` in `message` ("" if a message on the way is unset).
std::string FieldValue(const google::protobuf::Message& message, absl::string_view path) {
  const google::protobuf::Message* m = &message;
  std::vector<absl::string_view> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const google::protobuf::FieldDescriptor* f =
        m->GetDescriptor()->FindFieldByName(std::string(parts[i]));
    if (f == nullptr) return "";
    if (i + 1 == parts.size()) return m->GetReflection()->GetString(*m, f);
    if (!m->GetReflection()->HasField(*m, f)) return "";
    m = &m->GetReflection()->GetMessage(*m, f);
  }
  return "";
}

}  // namespace

const std::vector<std::string>& ActingUserFields(absl::string_view request_type, bool* known) {
  static const auto* none = new std::vector<std::string>();
  auto it = Table().find(ShortName(request_type));
  if (known != nullptr) *known = it != Table().end();
  return it == Table().end() ? *none : it->second;
}

bool ActsForAUser(absl::string_view path) {
  if (!path.empty() && path[0] == '/') path.remove_prefix(1);
  std::string name(path);
  const size_t slash = name.find('/');
  if (slash != std::string::npos) name[slash] = '.';
  const google::protobuf::MethodDescriptor* method =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(name);
  if (method == nullptr) return false;
  const std::string& type = method->input_type()->full_name();
  return type == kCreateUser || !ActingUserFields(type).empty();
}

absl::Status CheckActingUser(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
                             const google::protobuf::Message& request,
                             const EndUserAuth* end_users) {
  if (end_users == nullptr) return absl::OkStatus();
  const auto token = metadata.find(kEndUserTokenMetadata);
  if (token == metadata.end()) return absl::OkStatus();  // the processor admitted an admin
  absl::StatusOr<EndUserClaims> claims = end_users->verifier->Verify(
      absl::string_view(token->second.data(), token->second.size()), absl::Now());
  if (!claims.ok()) return claims.status();
  const std::string& type = request.GetDescriptor()->full_name();
  if (type == kCreateUser) {
    if (FieldValue(request, "user.auth0_id") != claims->subject) {
      return absl::PermissionDeniedError("user.auth0_id: must be the subject of x-end-user-token");
    }
    return absl::OkStatus();
  }
  const std::vector<std::string>& fields = ActingUserFields(type);
  if (fields.empty()) return absl::OkStatus();  // nobody acts: nothing to compare
  absl::StatusOr<std::string> user = end_users->resolve(claims->subject);
  if (absl::IsNotFound(user.status())) {
    return absl::PermissionDeniedError(
        "x-end-user-token: no live user has this token's subject (users.auth0_id)");
  }
  if (!user.ok()) {
    return absl::UnavailableError(
        absl::StrCat("resolving the end user: ", user.status().message()));
  }
  for (const std::string& field : fields) {
    const std::string value = FieldValue(request, field);
    if (!value.empty() && value != *user) {
      return absl::PermissionDeniedError(
          absl::StrCat(field, ": must be the user of x-end-user-token"));
    }
  }
  return absl::OkStatus();
}

}  // namespace chatgenius
