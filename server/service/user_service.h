// user_service.h
//
// UserServiceImpl: the gRPC face of UserStore. It validates every request
// (INVALID_ARGUMENT naming the field, before any database work), derives the
// deadline, calls the store, and converts statuses. It holds no SQL.
#ifndef CHATGENIUS_SERVER_SERVICE_USER_SERVICE_H_
#define CHATGENIUS_SERVER_SERVICE_USER_SERVICE_H_

#include "absl/time/time.h"
#include "chatgenius/db/v1/user_service.grpc.pb.h"
#include "server/auth/acting_user.h"
#include "server/common/page_token.h"
#include "server/store/user_store.h"

namespace chatgenius {

// ValidateNewUser checks a CreateUser payload; exposed for tests and the
// request fuzzer.
[[nodiscard]] absl::Status ValidateNewUser(const db::v1::User& user);

class UserServiceImpl final : public db::v1::UserService::Service {
 public:
  // `store` and `tokens` must outlive the service.
  // `end_users` (may be null: end-user tokens off) checks each call's
  // acting user against its x-end-user-token; it must outlive the service.
  UserServiceImpl(UserStore* store, const PageTokenCodec* tokens, absl::Duration max_statement_time,
                  const EndUserAuth* end_users = nullptr);

  grpc::Status CreateUser(grpc::ServerContext* context, const db::v1::CreateUserRequest* request,
                          db::v1::User* response) override;
  grpc::Status GetUser(grpc::ServerContext* context, const db::v1::GetUserRequest* request,
                       db::v1::User* response) override;
  grpc::Status LookupUser(grpc::ServerContext* context, const db::v1::LookupUserRequest* request,
                          db::v1::User* response) override;
  grpc::Status BatchGetUsers(grpc::ServerContext* context,
                             const db::v1::BatchGetUsersRequest* request,
                             db::v1::BatchGetUsersResponse* response) override;
  grpc::Status UpdateUser(grpc::ServerContext* context, const db::v1::UpdateUserRequest* request,
                          db::v1::User* response) override;
  grpc::Status ListUsers(grpc::ServerContext* context, const db::v1::ListUsersRequest* request,
                         db::v1::ListUsersResponse* response) override;
  grpc::Status DeleteUser(grpc::ServerContext* context, const db::v1::DeleteUserRequest* request,
                          google::protobuf::Empty* response) override;
  grpc::Status SetUserStatus(grpc::ServerContext* context,
                             const db::v1::SetUserStatusRequest* request,
                             db::v1::UserStatus* response) override;
  grpc::Status GetUserStatus(grpc::ServerContext* context,
                             const db::v1::GetUserStatusRequest* request,
                             db::v1::UserStatus* response) override;

 private:
  CallLimits Deadline(grpc::ServerContext* context) const;
  UserStore* const store_;
  const PageTokenCodec* const tokens_;
  const absl::Duration max_statement_time_;
  const EndUserAuth* const end_users_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_SERVICE_USER_SERVICE_H_
