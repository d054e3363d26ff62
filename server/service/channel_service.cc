#include "server/service/channel_service.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/common/validation.h"
#include "server/service/pagination.h"
#include "server/service/rpc_util.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

absl::Status ValidateIds(std::initializer_list<std::pair<const char*, const std::string*>> ids) {
  for (const auto& [field, value] : ids) RETURN_IF_ERROR(ValidateId(field, *value));
  return absl::OkStatus();
}

absl::Status ValidateRole(absl::string_view field, v1::MemberRole role, bool allow_unspecified) {
  if ((role == v1::MEMBER_ROLE_UNSPECIFIED && !allow_unspecified) ||
      !v1::MemberRole_IsValid(role)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be OWNER, ADMIN or MEMBER"));
  }
  return absl::OkStatus();
}

}  // namespace

ChannelServiceImpl::ChannelServiceImpl(ChannelStore* store, MemberStore* members,
                                       const PageTokenCodec* tokens,
                                       absl::Duration max_statement_time,
                                       const EndUserAuth* end_users)
    : store_(store),
      members_(members),
      tokens_(tokens),
      max_statement_time_(max_statement_time),
      end_users_(end_users) {}

CallLimits ChannelServiceImpl::Deadline(grpc::ServerContext* context) const {
  return RpcLimits(context, max_statement_time_);
}

absl::StatusOr<v1::Channel> ChannelServiceImpl::DoCreate(grpc::ServerContext* context,
                                                         const v1::CreateChannelRequest& request) {
  if (!request.has_channel()) return absl::InvalidArgumentError("channel: is required");
  const v1::Channel& c = request.channel();
  RETURN_IF_ERROR(ValidateChannelName("channel.name", c.name()));
  RETURN_IF_ERROR(ValidateText("channel.description", c.description(), 0, 250));
  if (c.type() != v1::CHANNEL_TYPE_PUBLIC && c.type() != v1::CHANNEL_TYPE_PRIVATE) {
    return absl::InvalidArgumentError(
        "channel.type: must be PUBLIC or PRIVATE (direct channels come from "
        "GetOrCreateDirectChannel)");
  }
  RETURN_IF_ERROR(ValidateId("creator_id", request.creator_id()));
  return store_->Create(c, request.creator_id(), Deadline(context));
}

grpc::Status ChannelServiceImpl::CreateChannel(grpc::ServerContext* context,
                                               const v1::CreateChannelRequest* request,
                                               v1::Channel* response) {
  return ActingUnary(context, *request, end_users_, response,
                     [&] { return DoCreate(context, *request); });
}

grpc::Status ChannelServiceImpl::GetChannel(grpc::ServerContext* context,
                                            const v1::GetChannelRequest* request,
                                            v1::Channel* response) {
  return ActingUnary(context, *request, end_users_, response, [&]() -> absl::StatusOr<v1::Channel> {
    RETURN_IF_ERROR(ValidateIds({{"id", &request->id()}, {"viewer_id", &request->viewer_id()}}));
    return store_->Get(request->id(), request->viewer_id(), Deadline(context));
  });
}

absl::StatusOr<v1::Channel> ChannelServiceImpl::DoUpdate(grpc::ServerContext* context,
                                                         const v1::UpdateChannelRequest& request) {
  if (!request.has_channel()) return absl::InvalidArgumentError("channel: is required");
  const v1::Channel& c = request.channel();
  RETURN_IF_ERROR(ValidateIds({{"channel.id", &c.id()}, {"actor_id", &request.actor_id()}}));
  ASSIGN_OR_RETURN(std::set<std::string> paths,
                   MaskPaths(request.update_mask(), {"name", "description"}));
  ChannelUpdate update;
  if (paths.count("name")) {
    RETURN_IF_ERROR(ValidateChannelName("channel.name", c.name()));
    update.name = c.name();
  }
  if (paths.count("description")) {
    RETURN_IF_ERROR(ValidateText("channel.description", c.description(), 0, 250));
    update.description = c.description();
  }
  return store_->Update(c.id(), request.actor_id(), update, Deadline(context));
}

grpc::Status ChannelServiceImpl::UpdateChannel(grpc::ServerContext* context,
                                               const v1::UpdateChannelRequest* request,
                                               v1::Channel* response) {
  return ActingUnary(context, *request, end_users_, response,
                     [&] { return DoUpdate(context, *request); });
}

grpc::Status ChannelServiceImpl::ArchiveChannel(grpc::ServerContext* context,
                                                const v1::ArchiveChannelRequest* request,
                                                v1::Channel* response) {
  return ActingUnary(context, *request, end_users_, response, [&]() -> absl::StatusOr<v1::Channel> {
    RETURN_IF_ERROR(ValidateIds({{"id", &request->id()}, {"actor_id", &request->actor_id()}}));
    return store_->SetArchived(request->id(), request->actor_id(), true, Deadline(context));
  });
}

grpc::Status ChannelServiceImpl::UnarchiveChannel(grpc::ServerContext* context,
                                                  const v1::UnarchiveChannelRequest* request,
                                                  v1::Channel* response) {
  return ActingUnary(context, *request, end_users_, response, [&]() -> absl::StatusOr<v1::Channel> {
    RETURN_IF_ERROR(ValidateIds({{"id", &request->id()}, {"actor_id", &request->actor_id()}}));
    return store_->SetArchived(request->id(), request->actor_id(), false, Deadline(context));
  });
}

grpc::Status ChannelServiceImpl::DeleteChannel(grpc::ServerContext* context,
                                               const v1::DeleteChannelRequest* request,
                                               google::protobuf::Empty* response) {
  return ActingUnary(context, *request, end_users_, response, [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateIds({{"id", &request->id()}, {"actor_id", &request->actor_id()}}));
    return store_->Delete(request->id(), request->actor_id(), Deadline(context));
  });
}

absl::StatusOr<v1::ListChannelsResponse> ChannelServiceImpl::DoList(
    grpc::ServerContext* context, const v1::ListChannelsRequest& request) {
  int page_size = 0;
  RETURN_IF_ERROR(NormalizePageSize(request.page_size(), &page_size));
  if (request.public_only() && !request.member_id().empty()) {
    return absl::InvalidArgumentError("member_id: set member_id or public_only, not both");
  }
  if (request.public_only()) {
    RETURN_IF_ERROR(ValidateId("viewer_id", request.viewer_id()));
  } else {
    RETURN_IF_ERROR(ValidateId("member_id", request.member_id()));
    if (!request.viewer_id().empty() && request.viewer_id() != request.member_id()) {
      return absl::InvalidArgumentError(
          "viewer_id: a member listing reads as member_id; leave viewer_id empty");
    }
  }
  const std::string query =
      absl::StrCat("ListChannels\n", request.member_id(), "\n", request.viewer_id(), "\n",
                   request.public_only(), request.include_archived());
  ASSIGN_OR_RETURN(PageCursor cursor, PageCursor::Decode(*tokens_, query, request.page_token(), 2));
  std::vector<v1::ChannelListEntry> entries;
  if (request.public_only()) {
    ASSIGN_OR_RETURN(
        entries, store_->ListPublic(request.viewer_id(), request.include_archived(), cursor.key(0),
                                    cursor.key(1), page_size + 1, Deadline(context)));
  } else {
    ASSIGN_OR_RETURN(entries,
                     store_->ListForMember(request.member_id(), request.include_archived(),
                                           cursor.key(1), page_size + 1, Deadline(context)));
  }
  v1::ListChannelsResponse response;
  response.set_next_page_token(FinishPage(
      *tokens_, query, entries, page_size, /*cut=*/false,
      [&](v1::ChannelListEntry& e) { *response.add_channels() = std::move(e); },
      [](const v1::ChannelListEntry& e) {
        return std::vector<std::string>{e.channel().name(), e.channel().id()};
      }));
  return response;
}

grpc::Status ChannelServiceImpl::ListChannels(grpc::ServerContext* context,
                                              const v1::ListChannelsRequest* request,
                                              v1::ListChannelsResponse* response) {
  return ActingUnary(context, *request, end_users_, response,
                     [&] { return DoList(context, *request); });
}

grpc::Status ChannelServiceImpl::AddMember(grpc::ServerContext* context,
                                           const v1::AddMemberRequest* request,
                                           v1::ChannelMember* response) {
  return ActingUnary(
      context, *request, end_users_, response, [&]() -> absl::StatusOr<v1::ChannelMember> {
        RETURN_IF_ERROR(ValidateIds({{"channel_id", &request->channel_id()},
                                     {"user_id", &request->user_id()},
                                     {"actor_id", &request->actor_id()}}));
        RETURN_IF_ERROR(ValidateRole("role", request->role(), /*allow_unspecified=*/true));
        v1::MemberRole role = request->role() == v1::MEMBER_ROLE_UNSPECIFIED
                                  ? v1::MEMBER_ROLE_MEMBER
                                  : request->role();
        return members_->AddMember(request->channel_id(), request->user_id(), role,
                                   request->actor_id(), Deadline(context));
      });
}

grpc::Status ChannelServiceImpl::RemoveMember(grpc::ServerContext* context,
                                              const v1::RemoveMemberRequest* request,
                                              google::protobuf::Empty* response) {
  return ActingUnary(context, *request, end_users_, response, [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateIds({{"channel_id", &request->channel_id()},
                                 {"user_id", &request->user_id()},
                                 {"actor_id", &request->actor_id()}}));
    return members_->RemoveMember(request->channel_id(), request->user_id(), request->actor_id(),
                                  Deadline(context));
  });
}

grpc::Status ChannelServiceImpl::UpdateMemberRole(grpc::ServerContext* context,
                                                  const v1::UpdateMemberRoleRequest* request,
                                                  v1::ChannelMember* response) {
  return ActingUnary(
      context, *request, end_users_, response, [&]() -> absl::StatusOr<v1::ChannelMember> {
        RETURN_IF_ERROR(ValidateIds({{"channel_id", &request->channel_id()},
                                     {"user_id", &request->user_id()},
                                     {"actor_id", &request->actor_id()}}));
        RETURN_IF_ERROR(ValidateRole("role", request->role(), /*allow_unspecified=*/false));
        return members_->UpdateMemberRole(request->channel_id(), request->user_id(),
                                          request->role(), request->actor_id(), Deadline(context));
      });
}

absl::StatusOr<v1::ListMembersResponse> ChannelServiceImpl::DoListMembers(
    grpc::ServerContext* context, const v1::ListMembersRequest& request) {
  int page_size = 0;
  RETURN_IF_ERROR(NormalizePageSize(request.page_size(), &page_size));
  RETURN_IF_ERROR(ValidateId("channel_id", request.channel_id()));
  RETURN_IF_ERROR(ValidateId("viewer_id", request.viewer_id()));
  const std::string query =
      absl::StrCat("ListMembers\n", request.channel_id(), "\n", request.viewer_id());
  ASSIGN_OR_RETURN(PageCursor cursor, PageCursor::Decode(*tokens_, query, request.page_token(), 1));
  ASSIGN_OR_RETURN(std::vector<v1::ChannelMember> members,
                   members_->ListMembers(request.channel_id(), request.viewer_id(), cursor.key(0),
                                         page_size + 1, Deadline(context)));
  v1::ListMembersResponse response;
  response.set_next_page_token(FinishPage(
      *tokens_, query, members, page_size, /*cut=*/false,
      [&](v1::ChannelMember& m) { *response.add_members() = std::move(m); },
      [](const v1::ChannelMember& m) { return std::vector<std::string>{m.user().id()}; }));
  return response;
}

grpc::Status ChannelServiceImpl::ListMembers(grpc::ServerContext* context,
                                             const v1::ListMembersRequest* request,
                                             v1::ListMembersResponse* response) {
  return ActingUnary(context, *request, end_users_, response,
                     [&] { return DoListMembers(context, *request); });
}

absl::StatusOr<v1::Channel> ChannelServiceImpl::DoDirect(
    grpc::ServerContext* context, const v1::GetOrCreateDirectChannelRequest& request) {
  if (request.user_ids_size() < 2 || request.user_ids_size() > 9) {
    return absl::InvalidArgumentError(
        absl::StrCat("user_ids: a direct channel has 2 to 9 users, got ", request.user_ids_size()));
  }
  std::vector<std::string> ids;
  for (int i = 0; i < request.user_ids_size(); ++i) {
    RETURN_IF_ERROR(ValidateId(absl::StrCat("user_ids[", i, "]"), request.user_ids(i)));
    ids.push_back(request.user_ids(i));
  }
  // The sorted set is the channel's identity: any order of the same users
  // finds the same channel.
  std::sort(ids.begin(), ids.end());
  if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
    return absl::InvalidArgumentError("user_ids: must be distinct");
  }
  RETURN_IF_ERROR(ValidateId("actor_id", request.actor_id()));
  if (!std::binary_search(ids.begin(), ids.end(), request.actor_id())) {
    return absl::PermissionDeniedError(
        "actor_id: only one of user_ids may open their direct channel");
  }
  return store_->GetOrCreateDirect(ids, request.actor_id(), Deadline(context));
}

grpc::Status ChannelServiceImpl::GetOrCreateDirectChannel(
    grpc::ServerContext* context, const v1::GetOrCreateDirectChannelRequest* request,
    v1::Channel* response) {
  return ActingUnary(context, *request, end_users_, response,
                     [&] { return DoDirect(context, *request); });
}

grpc::Status ChannelServiceImpl::MarkRead(grpc::ServerContext* context,
                                          const v1::MarkReadRequest* request,
                                          v1::ReadState* response) {
  return ActingUnary(context, *request, end_users_, response,
                     [&]() -> absl::StatusOr<v1::ReadState> {
                       RETURN_IF_ERROR(ValidateIds({{"channel_id", &request->channel_id()},
                                                    {"user_id", &request->user_id()},
                                                    {"message_id", &request->message_id()}}));
                       return store_->MarkRead(request->channel_id(), request->user_id(),
                                               request->message_id(), Deadline(context));
                     });
}

grpc::Status ChannelServiceImpl::GetReadState(grpc::ServerContext* context,
                                              const v1::GetReadStateRequest* request,
                                              v1::ReadState* response) {
  return ActingUnary(
      context, *request, end_users_, response, [&]() -> absl::StatusOr<v1::ReadState> {
        RETURN_IF_ERROR(ValidateIds(
            {{"channel_id", &request->channel_id()}, {"user_id", &request->user_id()}}));
        return store_->GetReadState(request->channel_id(), request->user_id(), Deadline(context));
      });
}

}  // namespace chatgenius
