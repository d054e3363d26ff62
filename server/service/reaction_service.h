// reaction_service.h
//
// ReactionServiceImpl: the gRPC face of ReactionStore.
#ifndef CHATGENIUS_SERVER_SERVICE_REACTION_SERVICE_H_
#define CHATGENIUS_SERVER_SERVICE_REACTION_SERVICE_H_

#include "absl/time/time.h"
#include "chatgenius/db/v1/reaction_service.grpc.pb.h"
#include "server/auth/acting_user.h"
#include "server/store/reaction_store.h"

namespace chatgenius {

class ReactionServiceImpl final : public db::v1::ReactionService::Service {
 public:
  // `store` must outlive the service.
  // `end_users` (may be null: end-user tokens off) checks each call's
  // acting user against its x-end-user-token; it must outlive the service.
  ReactionServiceImpl(ReactionStore* store, absl::Duration max_statement_time,
                      const EndUserAuth* end_users = nullptr);

  grpc::Status AddReaction(grpc::ServerContext* context, const db::v1::AddReactionRequest* request,
                           db::v1::Reaction* response) override;
  grpc::Status RemoveReaction(grpc::ServerContext* context,
                              const db::v1::RemoveReactionRequest* request,
                              google::protobuf::Empty* response) override;
  grpc::Status ListReactions(grpc::ServerContext* context,
                             const db::v1::ListReactionsRequest* request,
                             db::v1::ListReactionsResponse* response) override;

 private:
  CallLimits Deadline(grpc::ServerContext* context) const;
  ReactionStore* const store_;
  const absl::Duration max_statement_time_;
  const EndUserAuth* const end_users_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_SERVICE_REACTION_SERVICE_H_
