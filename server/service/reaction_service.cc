#include "server/service/reaction_service.h"

#include "server/common/status_macros.h"
#include "server/common/validation.h"
#include "server/service/rpc_util.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

absl::Status ValidateReactionKey(const std::string& message_id, const std::string& user_id,
                                 const std::string& emoji) {
  RETURN_IF_ERROR(ValidateId("message_id", message_id));
  RETURN_IF_ERROR(ValidateId("user_id", user_id));
  return ValidateEmoji("emoji", emoji, /*required=*/true);
}

}  // namespace

ReactionServiceImpl::ReactionServiceImpl(ReactionStore* store, absl::Duration max_statement_time,
                                         const EndUserAuth* end_users)
    : store_(store), max_statement_time_(max_statement_time), end_users_(end_users) {}

grpc::Status ReactionServiceImpl::AddReaction(grpc::ServerContext* context,
                                              const v1::AddReactionRequest* request,
                                              v1::Reaction* response) {
  if (absl::Status s = RequireActingUser(context, *request, end_users_); !s.ok())
    return ToGrpcStatus(s);
  if (absl::Status s =
          ValidateReactionKey(request->message_id(), request->user_id(), request->emoji());
      !s.ok()) {
    return Respond(s);
  }
  return Respond(store_->Add(request->message_id(), request->user_id(), request->emoji(),
                             RpcLimits(context, max_statement_time_)),
                 response);
}

grpc::Status ReactionServiceImpl::RemoveReaction(grpc::ServerContext* context,
                                                 const v1::RemoveReactionRequest* request,
                                                 google::protobuf::Empty* /*response*/) {
  if (absl::Status s = RequireActingUser(context, *request, end_users_); !s.ok())
    return ToGrpcStatus(s);
  if (absl::Status s =
          ValidateReactionKey(request->message_id(), request->user_id(), request->emoji());
      !s.ok()) {
    return Respond(s);
  }
  return Respond(store_->Remove(request->message_id(), request->user_id(), request->emoji(),
                                RpcLimits(context, max_statement_time_)));
}

grpc::Status ReactionServiceImpl::ListReactions(grpc::ServerContext* context,
                                                const v1::ListReactionsRequest* request,
                                                v1::ListReactionsResponse* response) {
  if (absl::Status s = RequireActingUser(context, *request, end_users_); !s.ok())
    return ToGrpcStatus(s);
  absl::Status s = ValidateId("message_id", request->message_id());
  if (s.ok()) s = ValidateId("viewer_id", request->viewer_id());
  if (!s.ok()) return Respond(s);
  absl::StatusOr<std::vector<v1::ReactionGroup>> groups = store_->List(
      request->message_id(), request->viewer_id(), RpcLimits(context, max_statement_time_));
  if (!groups.ok()) return Respond(groups.status());
  for (v1::ReactionGroup& g : *groups) *response->add_groups() = std::move(g);
  return grpc::Status::OK;
}

}  // namespace chatgenius
