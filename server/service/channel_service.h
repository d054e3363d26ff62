// channel_service.h
//
// ChannelServiceImpl: the gRPC face of ChannelStore. Validates every
// request before any database work (INVALID_ARGUMENT naming the field),
// derives the deadline from the call, and encodes keyset page tokens.
#ifndef CHATGENIUS_SERVER_SERVICE_CHANNEL_SERVICE_H_
#define CHATGENIUS_SERVER_SERVICE_CHANNEL_SERVICE_H_

#include "absl/time/time.h"
#include "chatgenius/db/v1/channel_service.grpc.pb.h"
#include "server/auth/acting_user.h"
#include "server/common/page_token.h"
#include "server/store/channel_store.h"
#include "server/store/member_store.h"

namespace chatgenius {

class ChannelServiceImpl final : public db::v1::ChannelService::Service {
 public:
  // `store` and `tokens` must outlive the service.
  // `end_users` (may be null: end-user tokens off) checks each call's
  // acting user against its x-end-user-token; it must outlive the service.
  ChannelServiceImpl(ChannelStore* store, MemberStore* members, const PageTokenCodec* tokens,
                     absl::Duration max_statement_time, const EndUserAuth* end_users = nullptr);

  grpc::Status CreateChannel(grpc::ServerContext* context,
                             const db::v1::CreateChannelRequest* request,
                             db::v1::Channel* response) override;
  grpc::Status GetChannel(grpc::ServerContext* context, const db::v1::GetChannelRequest* request,
                          db::v1::Channel* response) override;
  grpc::Status UpdateChannel(grpc::ServerContext* context,
                             const db::v1::UpdateChannelRequest* request,
                             db::v1::Channel* response) override;
  grpc::Status ArchiveChannel(grpc::ServerContext* context,
                              const db::v1::ArchiveChannelRequest* request,
                              db::v1::Channel* response) override;
  grpc::Status UnarchiveChannel(grpc::ServerContext* context,
                                const db::v1::UnarchiveChannelRequest* request,
                                db::v1::Channel* response) override;
  grpc::Status DeleteChannel(grpc::ServerContext* context,
                             const db::v1::DeleteChannelRequest* request,
                             google::protobuf::Empty* response) override;
  grpc::Status ListChannels(grpc::ServerContext* context,
                            const db::v1::ListChannelsRequest* request,
                            db::v1::ListChannelsResponse* response) override;
  grpc::Status AddMember(grpc::ServerContext* context, const db::v1::AddMemberRequest* request,
                         db::v1::ChannelMember* response) override;
  grpc::Status RemoveMember(grpc::ServerContext* context,
                            const db::v1::RemoveMemberRequest* request,
                            google::protobuf::Empty* response) override;
  grpc::Status UpdateMemberRole(grpc::ServerContext* context,
                                const db::v1::UpdateMemberRoleRequest* request,
                                db::v1::ChannelMember* response) override;
  grpc::Status ListMembers(grpc::ServerContext* context, const db::v1::ListMembersRequest* request,
                           db::v1::ListMembersResponse* response) override;
  grpc::Status GetOrCreateDirectChannel(grpc::ServerContext* context,
                                        const db::v1::GetOrCreateDirectChannelRequest* request,
                                        db::v1::Channel* response) override;
  grpc::Status MarkRead(grpc::ServerContext* context, const db::v1::MarkReadRequest* request,
                        db::v1::ReadState* response) override;
  grpc::Status GetReadState(grpc::ServerContext* context,
                            const db::v1::GetReadStateRequest* request,
                            db::v1::ReadState* response) override;

 private:
  absl::StatusOr<db::v1::Channel> DoCreate(grpc::ServerContext* context,
                                           const db::v1::CreateChannelRequest& request);
  absl::StatusOr<db::v1::Channel> DoUpdate(grpc::ServerContext* context,
                                           const db::v1::UpdateChannelRequest& request);
  absl::StatusOr<db::v1::ListChannelsResponse> DoList(grpc::ServerContext* context,
                                                      const db::v1::ListChannelsRequest& request);
  absl::StatusOr<db::v1::ListMembersResponse> DoListMembers(
      grpc::ServerContext* context, const db::v1::ListMembersRequest& request);
  absl::StatusOr<db::v1::Channel> DoDirect(grpc::ServerContext* context,
                                           const db::v1::GetOrCreateDirectChannelRequest& request);
  CallLimits Deadline(grpc::ServerContext* context) const;

  ChannelStore* const store_;
  MemberStore* const members_;
  const PageTokenCodec* const tokens_;
  const absl::Duration max_statement_time_;
  const EndUserAuth* const end_users_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_SERVICE_CHANNEL_SERVICE_H_
