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
  return ActingUnary(
      context, *request, end_users_, response, [&]() -> absl::StatusOr<v1::Reaction> {
        RETURN_IF_ERROR(
            ValidateReactionKey(request->message_id(), request->user_id(), request->emoji()));
        return store_->Add(request->message_id(), request->user_id(), request->emoji(),
                           Deadline(context));
      });
}

grpc::Status ReactionServiceImpl::RemoveReaction(grpc::ServerContext* context,
                                                 const v1::RemoveReactionRequest* request,
                                                 google::protobuf::Empty* response) {
  return ActingUnary(context, *request, end_users_, response, [&]() -> absl::Status {
    RETURN_IF_ERROR(
        ValidateReactionKey(request->message_id(), request->user_id(), request->emoji()));
    return store_->Remove(request->message_id(), request->user_id(), request->emoji(),
                          Deadline(context));
  });
}

grpc::Status ReactionServiceImpl::ListReactions(grpc::ServerContext* context,
                                                const v1::ListReactionsRequest* request,
                                                v1::ListReactionsResponse* response) {
  return ActingUnary(
      context, *request, end_users_, response, [&]() -> absl::StatusOr<v1::ListReactionsResponse> {
        RETURN_IF_ERROR(ValidateId("message_id", request->message_id()));
        RETURN_IF_ERROR(ValidateId("viewer_id", request->viewer_id()));
        ASSIGN_OR_RETURN(
            std::vector<v1::ReactionGroup> groups,
            store_->List(request->message_id(), request->viewer_id(), Deadline(context)));
        v1::ListReactionsResponse out;
        for (v1::ReactionGroup& g : groups) *out.add_groups() = std::move(g);
        return out;
      });
}

CallLimits ReactionServiceImpl::Deadline(grpc::ServerContext* context) const {
  return RpcLimits(context, max_statement_time_);
}

}  // namespace chatgenius
