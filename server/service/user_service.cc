#include "server/service/user_service.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/common/validation.h"
#include "server/service/pagination.h"
#include "server/service/rpc_util.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

absl::Status ValidateProfile(const v1::User& user, const UserUpdate& fields) {
  if (fields.email) RETURN_IF_ERROR(ValidateEmail("user.email", user.email()));
  if (fields.username) RETURN_IF_ERROR(ValidateUsername("user.username", user.username()));
  if (fields.display_name) {
    RETURN_IF_ERROR(ValidateText("user.display_name", user.display_name(), 0, 80));
  }
  if (fields.full_name) RETURN_IF_ERROR(ValidateText("user.full_name", user.full_name(), 0, 200));
  if (fields.avatar_url) RETURN_IF_ERROR(ValidateOptionalUrl("user.avatar_url", user.avatar_url()));
  return absl::OkStatus();
}

absl::StatusOr<UserUpdate> ParseUserMask(const google::protobuf::FieldMask& mask) {
  ASSIGN_OR_RETURN(
      std::set<std::string> paths,
      MaskPaths(mask, {"email", "username", "display_name", "full_name", "avatar_url"}));
  UserUpdate fields;
  fields.email = paths.count("email") > 0;
  fields.username = paths.count("username") > 0;
  fields.display_name = paths.count("display_name") > 0;
  fields.full_name = paths.count("full_name") > 0;
  fields.avatar_url = paths.count("avatar_url") > 0;
  return fields;
}

std::string ListQueryKey(const v1::ListUsersRequest& request) {
  return absl::StrCat("ListUsers\n", request.query());
}

}  // namespace

absl::Status ValidateNewUser(const v1::User& user) {
  UserUpdate all{true, true, true, true, true};
  RETURN_IF_ERROR(ValidateProfile(user, all));
  return ValidateSubject("user.auth0_id", user.auth0_id(), /*required=*/false);
}

UserServiceImpl::UserServiceImpl(UserStore* store, const PageTokenCodec* tokens,
                                 absl::Duration max_statement_time, const EndUserAuth* end_users)
    : store_(store),
      tokens_(tokens),
      max_statement_time_(max_statement_time),
      end_users_(end_users) {}

grpc::Status UserServiceImpl::CreateUser(grpc::ServerContext* context,
                                         const v1::CreateUserRequest* request, v1::User* response) {
  return ActingUnary(context, *request, end_users_, response, [&]() -> absl::StatusOr<v1::User> {
    if (!request->has_user()) return absl::InvalidArgumentError("user: is required");
    RETURN_IF_ERROR(ValidateNewUser(request->user()));
    return store_->Create(request->user(), Deadline(context));
  });
}

grpc::Status UserServiceImpl::GetUser(grpc::ServerContext* context,
                                      const v1::GetUserRequest* request, v1::User* response) {
  return Unary(response, [&]() -> absl::StatusOr<v1::User> {
    RETURN_IF_ERROR(ValidateId("id", request->id()));
    return store_->Get(request->id(), Deadline(context));
  });
}

grpc::Status UserServiceImpl::LookupUser(grpc::ServerContext* context,
                                         const v1::LookupUserRequest* request, v1::User* response) {
  return Unary(response, [&]() -> absl::StatusOr<v1::User> {
    switch (request->key_case()) {
      case v1::LookupUserRequest::kEmail:
        RETURN_IF_ERROR(ValidateEmail("email", request->email()));
        return store_->GetByEmail(request->email(), Deadline(context));
      case v1::LookupUserRequest::kUsername:
        RETURN_IF_ERROR(ValidateUsername("username", request->username()));
        return store_->GetByUsername(request->username(), Deadline(context));
      case v1::LookupUserRequest::kAuth0Id:
        RETURN_IF_ERROR(ValidateSubject("auth0_id", request->auth0_id(), true));
        return store_->GetByAuth0Id(request->auth0_id(), Deadline(context));
      default:
        return absl::InvalidArgumentError("key: set email, username or auth0_id");
    }
  });
}

grpc::Status UserServiceImpl::BatchGetUsers(grpc::ServerContext* context,
                                            const v1::BatchGetUsersRequest* request,
                                            v1::BatchGetUsersResponse* response) {
  return Unary(response, [&]() -> absl::StatusOr<v1::BatchGetUsersResponse> {
    if (request->ids_size() > kMaxPageSize) {
      return absl::InvalidArgumentError(
          absl::StrCat("ids: at most ", kMaxPageSize, " per call, got ", request->ids_size()));
    }
    std::vector<std::string> ids;
    for (int i = 0; i < request->ids_size(); ++i) {
      RETURN_IF_ERROR(ValidateId(absl::StrCat("ids[", i, "]"), request->ids(i)));
      ids.push_back(request->ids(i));
    }
    ASSIGN_OR_RETURN(std::vector<v1::User> users, store_->BatchGet(ids, Deadline(context)));
    v1::BatchGetUsersResponse out;
    for (v1::User& u : users) *out.add_users() = std::move(u);
    return out;
  });
}

grpc::Status UserServiceImpl::UpdateUser(grpc::ServerContext* context,
                                         const v1::UpdateUserRequest* request, v1::User* response) {
  return ActingUnary(context, *request, end_users_, response, [&]() -> absl::StatusOr<v1::User> {
    if (!request->has_user()) return absl::InvalidArgumentError("user: is required");
    RETURN_IF_ERROR(ValidateId("user.id", request->user().id()));
    ASSIGN_OR_RETURN(UserUpdate fields, ParseUserMask(request->update_mask()));
    RETURN_IF_ERROR(ValidateProfile(request->user(), fields));
    return store_->Update(request->user(), fields, Deadline(context));
  });
}

grpc::Status UserServiceImpl::ListUsers(grpc::ServerContext* context,
                                        const v1::ListUsersRequest* request,
                                        v1::ListUsersResponse* response) {
  return Unary(response, [&]() -> absl::StatusOr<v1::ListUsersResponse> {
    int page_size = 0;
    RETURN_IF_ERROR(NormalizePageSize(request->page_size(), &page_size));
    RETURN_IF_ERROR(ValidateText("query", request->query(), 0, 80));
    const std::string query = ListQueryKey(*request);
    ASSIGN_OR_RETURN(PageCursor cursor,
                     PageCursor::Decode(*tokens_, query, request->page_token(), 1));
    ASSIGN_OR_RETURN(std::vector<v1::User> users, store_->List(cursor.key(0), request->query(),
                                                               page_size + 1, Deadline(context)));
    v1::ListUsersResponse out;
    out.set_next_page_token(FinishPage(
        *tokens_, query, users, page_size, /*cut=*/false,
        [&](v1::User& u) { *out.add_users() = std::move(u); },
        [](const v1::User& u) { return std::vector<std::string>{u.id()}; }));
    return out;
  });
}

grpc::Status UserServiceImpl::DeleteUser(grpc::ServerContext* context,
                                         const v1::DeleteUserRequest* request,
                                         google::protobuf::Empty* response) {
  return ActingUnary(context, *request, end_users_, response, [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateId("id", request->id()));
    return store_->Delete(request->id(), Deadline(context));
  });
}

grpc::Status UserServiceImpl::SetUserStatus(grpc::ServerContext* context,
                                            const v1::SetUserStatusRequest* request,
                                            v1::UserStatus* response) {
  return ActingUnary(
      context, *request, end_users_, response, [&]() -> absl::StatusOr<v1::UserStatus> {
        if (!request->has_status()) return absl::InvalidArgumentError("status: is required");
        const v1::UserStatus& status = request->status();
        RETURN_IF_ERROR(ValidateId("status.user_id", status.user_id()));
        if (status.presence() == v1::PRESENCE_UNSPECIFIED ||
            !v1::Presence_IsValid(status.presence())) {
          return absl::InvalidArgumentError("status.presence: must be ONLINE, AWAY or OFFLINE");
        }
        RETURN_IF_ERROR(ValidateText("status.status_text", status.status_text(), 0, 100));
        RETURN_IF_ERROR(ValidateEmoji("status.status_emoji", status.status_emoji(), false));
        if (status.has_status_expire_time()) {
          RETURN_IF_ERROR(
              ValidateTimestamp("status.status_expire_time", status.status_expire_time()));
        }
        return store_->SetStatus(status, Deadline(context));
      });
}

grpc::Status UserServiceImpl::GetUserStatus(grpc::ServerContext* context,
                                            const v1::GetUserStatusRequest* request,
                                            v1::UserStatus* response) {
  return Unary(response, [&]() -> absl::StatusOr<v1::UserStatus> {
    RETURN_IF_ERROR(ValidateId("user_id", request->user_id()));
    return store_->GetStatus(request->user_id(), Deadline(context));
  });
}

CallLimits UserServiceImpl::Deadline(grpc::ServerContext* context) const {
  return RpcLimits(context, max_statement_time_);
}

}  // namespace chatgenius
