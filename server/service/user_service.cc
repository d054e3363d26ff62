#include "server/service/user_service.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/common/validation.h"
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
  if (absl::Status s = RequireActingUser(context, *request, end_users_); !s.ok())
    return ToGrpcStatus(s);
  if (!request->has_user()) {
    return ToGrpcStatus(absl::InvalidArgumentError("user: is required"));
  }
  if (absl::Status s = ValidateNewUser(request->user()); !s.ok()) return ToGrpcStatus(s);
  return Respond(store_->Create(request->user(), RpcLimits(context, max_statement_time_)),
                 response);
}

grpc::Status UserServiceImpl::GetUser(grpc::ServerContext* context,
                                      const v1::GetUserRequest* request, v1::User* response) {
  if (absl::Status s = ValidateId("id", request->id()); !s.ok()) return ToGrpcStatus(s);
  return Respond(store_->Get(request->id(), RpcLimits(context, max_statement_time_)), response);
}

grpc::Status UserServiceImpl::LookupUser(grpc::ServerContext* context,
                                         const v1::LookupUserRequest* request, v1::User* response) {
  CallLimits deadline = RpcLimits(context, max_statement_time_);
  absl::StatusOr<v1::User> user;
  switch (request->key_case()) {
    case v1::LookupUserRequest::kEmail:
      if (absl::Status s = ValidateEmail("email", request->email()); !s.ok()) {
        return ToGrpcStatus(s);
      }
      user = store_->GetByEmail(request->email(), deadline);
      break;
    case v1::LookupUserRequest::kUsername:
      if (absl::Status s = ValidateUsername("username", request->username()); !s.ok()) {
        return ToGrpcStatus(s);
      }
      user = store_->GetByUsername(request->username(), deadline);
      break;
    case v1::LookupUserRequest::kAuth0Id:
      if (absl::Status s = ValidateSubject("auth0_id", request->auth0_id(), true); !s.ok()) {
        return ToGrpcStatus(s);
      }
      user = store_->GetByAuth0Id(request->auth0_id(), deadline);
      break;
    default:
      return ToGrpcStatus(absl::InvalidArgumentError("key: set email, username or auth0_id"));
  }
  return Respond(std::move(user), response);
}

grpc::Status UserServiceImpl::BatchGetUsers(grpc::ServerContext* context,
                                            const v1::BatchGetUsersRequest* request,
                                            v1::BatchGetUsersResponse* response) {
  if (request->ids_size() > kMaxPageSize) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("ids: at most ", kMaxPageSize, " per call, got ", request->ids_size())));
  }
  std::vector<std::string> ids;
  for (int i = 0; i < request->ids_size(); ++i) {
    if (absl::Status s = ValidateId(absl::StrCat("ids[", i, "]"), request->ids(i)); !s.ok()) {
      return ToGrpcStatus(s);
    }
    ids.push_back(request->ids(i));
  }
  absl::StatusOr<std::vector<v1::User>> users =
      store_->BatchGet(ids, RpcLimits(context, max_statement_time_));
  if (!users.ok()) return ToGrpcStatus(users.status());
  for (v1::User& u : *users) *response->add_users() = std::move(u);
  return grpc::Status::OK;
}

grpc::Status UserServiceImpl::UpdateUser(grpc::ServerContext* context,
                                         const v1::UpdateUserRequest* request, v1::User* response) {
  if (absl::Status s = RequireActingUser(context, *request, end_users_); !s.ok())
    return ToGrpcStatus(s);
  if (!request->has_user()) return ToGrpcStatus(absl::InvalidArgumentError("user: is required"));
  if (absl::Status s = ValidateId("user.id", request->user().id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<UserUpdate> fields = ParseUserMask(request->update_mask());
  if (!fields.ok()) return ToGrpcStatus(fields.status());
  if (absl::Status s = ValidateProfile(request->user(), *fields); !s.ok()) return ToGrpcStatus(s);
  return Respond(store_->Update(request->user(), *fields, RpcLimits(context, max_statement_time_)),
                 response);
}

grpc::Status UserServiceImpl::ListUsers(grpc::ServerContext* context,
                                        const v1::ListUsersRequest* request,
                                        v1::ListUsersResponse* response) {
  int page_size = 0;
  if (absl::Status s = NormalizePageSize(request->page_size(), &page_size); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::Status s = ValidateText("query", request->query(), 0, 80); !s.ok()) {
    return ToGrpcStatus(s);
  }
  std::string after_id;
  if (!request->page_token().empty()) {
    absl::StatusOr<std::vector<std::string>> keys =
        tokens_->Decode(ListQueryKey(*request), request->page_token());
    if (!keys.ok()) return ToGrpcStatus(keys.status());
    if (keys->size() != 1) return ToGrpcStatus(absl::InvalidArgumentError("page_token: malformed"));
    after_id = (*keys)[0];
  }
  // One extra row tells whether another page exists without a COUNT.
  absl::StatusOr<std::vector<v1::User>> users = store_->List(
      after_id, request->query(), page_size + 1, RpcLimits(context, max_statement_time_));
  if (!users.ok()) return ToGrpcStatus(users.status());
  const bool more = TrimPage(*users, page_size);
  for (v1::User& u : *users) *response->add_users() = std::move(u);
  if (more) {
    response->set_next_page_token(
        tokens_->Encode(ListQueryKey(*request), {response->users().rbegin()->id()}));
  }
  return grpc::Status::OK;
}

grpc::Status UserServiceImpl::DeleteUser(grpc::ServerContext* context,
                                         const v1::DeleteUserRequest* request,
                                         google::protobuf::Empty* /*response*/) {
  if (absl::Status s = RequireActingUser(context, *request, end_users_); !s.ok())
    return ToGrpcStatus(s);
  if (absl::Status s = ValidateId("id", request->id()); !s.ok()) return ToGrpcStatus(s);
  return ToGrpcStatus(store_->Delete(request->id(), RpcLimits(context, max_statement_time_)));
}

grpc::Status UserServiceImpl::SetUserStatus(grpc::ServerContext* context,
                                            const v1::SetUserStatusRequest* request,
                                            v1::UserStatus* response) {
  if (absl::Status s = RequireActingUser(context, *request, end_users_); !s.ok())
    return ToGrpcStatus(s);
  if (!request->has_status()) {
    return ToGrpcStatus(absl::InvalidArgumentError("status: is required"));
  }
  const v1::UserStatus& status = request->status();
  absl::Status s = ValidateId("status.user_id", status.user_id());
  if (s.ok() &&
      (status.presence() == v1::PRESENCE_UNSPECIFIED || !v1::Presence_IsValid(status.presence()))) {
    s = absl::InvalidArgumentError("status.presence: must be ONLINE, AWAY or OFFLINE");
  }
  if (s.ok()) s = ValidateText("status.status_text", status.status_text(), 0, 100);
  if (s.ok()) s = ValidateEmoji("status.status_emoji", status.status_emoji(), false);
  if (s.ok() && status.has_status_expire_time()) {
    s = ValidateTimestamp("status.status_expire_time", status.status_expire_time());
  }
  if (!s.ok()) return ToGrpcStatus(s);
  return Respond(store_->SetStatus(status, RpcLimits(context, max_statement_time_)), response);
}

grpc::Status UserServiceImpl::GetUserStatus(grpc::ServerContext* context,
                                            const v1::GetUserStatusRequest* request,
                                            v1::UserStatus* response) {
  if (absl::Status s = ValidateId("user_id", request->user_id()); !s.ok()) return ToGrpcStatus(s);
  return Respond(store_->GetStatus(request->user_id(), RpcLimits(context, max_statement_time_)),
                 response);
}

}  // namespace chatgenius
