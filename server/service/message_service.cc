#include "server/service/message_service.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/status_macros.h"
#include "server/common/validation.h"
#include "server/service/pagination.h"
#include "server/service/rpc_util.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

// A message page continues after its last message's id.
std::vector<std::string> MessageKeys(const v1::Message& m) { return {m.id()}; }

absl::Status ValidateContent(absl::string_view field, absl::string_view content) {
  return ValidateText(field, content, 1, kMaxMessageChars);
}

// kMaxSearchChannels bounds the channel filter of one search.
constexpr int kMaxSearchChannels = 100;

}  // namespace

absl::Status ValidatePostMessage(const v1::PostMessageRequest& request) {
  RETURN_IF_ERROR(ValidateId("channel_id", request.channel_id()));
  RETURN_IF_ERROR(ValidateId("author_id", request.author_id()));
  RETURN_IF_ERROR(ValidateContent("content", request.content()));
  RETURN_IF_ERROR(ValidateId("thread_parent_id", request.thread_parent_id(), /*required=*/false));
  RETURN_IF_ERROR(ValidateText("client_msg_id", request.client_msg_id(), 0, 64));
  return absl::OkStatus();
}

MessageServiceImpl::MessageServiceImpl(MessageStore* store, AttachmentStore* attachments,
                                       const PageTokenCodec* tokens,
                                       absl::Duration max_statement_time,
                                       const EndUserAuth* end_users,
                                       std::set<std::string> storage_url_schemes)
    : store_(store),
      attachments_(attachments),
      tokens_(tokens),
      max_statement_time_(max_statement_time),
      end_users_(end_users),
      storage_url_schemes_(std::move(storage_url_schemes)) {}

CallLimits MessageServiceImpl::Deadline(grpc::ServerContext* context) const {
  return RpcLimits(context, max_statement_time_);
}

grpc::Status MessageServiceImpl::PostMessage(grpc::ServerContext* context,
                                             const v1::PostMessageRequest* request,
                                             v1::Message* response) {
  return ActingUnary(context, *request, end_users_, response, [&]() -> absl::StatusOr<v1::Message> {
    RETURN_IF_ERROR(ValidatePostMessage(*request));
    return store_->Post(NewMessage{request->channel_id(), request->author_id(), request->content(),
                                   request->thread_parent_id(), request->client_msg_id()},
                        Deadline(context));
  });
}

grpc::Status MessageServiceImpl::GetMessage(grpc::ServerContext* context,
                                            const v1::GetMessageRequest* request,
                                            v1::Message* response) {
  return ActingUnary(context, *request, end_users_, response, [&]() -> absl::StatusOr<v1::Message> {
    RETURN_IF_ERROR(ValidateId("id", request->id()));
    RETURN_IF_ERROR(ValidateId("viewer_id", request->viewer_id()));
    return store_->Get(request->id(), request->viewer_id(), Deadline(context));
  });
}

absl::StatusOr<v1::Message> MessageServiceImpl::DoUpdate(grpc::ServerContext* context,
                                                         const v1::UpdateMessageRequest& request) {
  if (!request.has_message()) return absl::InvalidArgumentError("message: is required");
  RETURN_IF_ERROR(ValidateId("message.id", request.message().id()));
  RETURN_IF_ERROR(ValidateId("actor_id", request.actor_id()));
  RETURN_IF_ERROR(MaskPaths(request.update_mask(), {"content"}).status());
  RETURN_IF_ERROR(ValidateContent("message.content", request.message().content()));
  return store_->Edit(request.message().id(), request.actor_id(), request.message().content(),
                      Deadline(context));
}

grpc::Status MessageServiceImpl::UpdateMessage(grpc::ServerContext* context,
                                               const v1::UpdateMessageRequest* request,
                                               v1::Message* response) {
  return ActingUnary(context, *request, end_users_, response,
                     [&] { return DoUpdate(context, *request); });
}

grpc::Status MessageServiceImpl::DeleteMessage(grpc::ServerContext* context,
                                               const v1::DeleteMessageRequest* request,
                                               google::protobuf::Empty* response) {
  return ActingUnary(context, *request, end_users_, response, [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateId("id", request->id()));
    RETURN_IF_ERROR(ValidateId("actor_id", request->actor_id()));
    return store_->Delete(request->id(), request->actor_id(), Deadline(context));
  });
}

absl::StatusOr<v1::ListMessagesResponse> MessageServiceImpl::DoList(
    grpc::ServerContext* context, const v1::ListMessagesRequest& request) {
  int page_size = 0;
  RETURN_IF_ERROR(NormalizePageSize(request.page_size(), &page_size));
  RETURN_IF_ERROR(ValidateId("channel_id", request.channel_id()));
  RETURN_IF_ERROR(ValidateId("viewer_id", request.viewer_id()));
  RETURN_IF_ERROR(ValidateId("before_message_id", request.before_message_id(), false));
  RETURN_IF_ERROR(ValidateId("after_message_id", request.after_message_id(), false));
  if (!request.before_message_id().empty() && !request.after_message_id().empty()) {
    return absl::InvalidArgumentError(
        "after_message_id: set before_message_id or after_message_id, not both");
  }
  const bool newer = !request.after_message_id().empty();
  const std::string query =
      absl::StrCat("ListMessages\n", request.channel_id(), "\n", request.viewer_id(), "\n",
                   request.before_message_id(), "\n", request.after_message_id());
  ASSIGN_OR_RETURN(PageCursor cursor, PageCursor::Decode(*tokens_, query, request.page_token(), 1));
  const std::string& from =
      cursor.key(0, newer ? request.after_message_id() : request.before_message_id());
  ASSIGN_OR_RETURN(MessagePage page, store_->List(request.channel_id(), request.viewer_id(), from,
                                                  newer, page_size + 1, Deadline(context)));
  v1::ListMessagesResponse response;
  response.set_next_page_token(FinishPage(
      *tokens_, query, page.messages, page_size, page.cut_by_budget,
      [&](v1::Message& m) { *response.add_messages() = std::move(m); }, MessageKeys));
  return response;
}

grpc::Status MessageServiceImpl::ListMessages(grpc::ServerContext* context,
                                              const v1::ListMessagesRequest* request,
                                              v1::ListMessagesResponse* response) {
  return ActingUnary(context, *request, end_users_, response,
                     [&] { return DoList(context, *request); });
}

absl::StatusOr<v1::ListThreadRepliesResponse> MessageServiceImpl::DoReplies(
    grpc::ServerContext* context, const v1::ListThreadRepliesRequest& request) {
  int page_size = 0;
  RETURN_IF_ERROR(NormalizePageSize(request.page_size(), &page_size));
  RETURN_IF_ERROR(ValidateId("thread_parent_id", request.thread_parent_id()));
  RETURN_IF_ERROR(ValidateId("viewer_id", request.viewer_id()));
  RETURN_IF_ERROR(ValidateId("after_message_id", request.after_message_id(), false));
  const std::string query = absl::StrCat("ListThreadReplies\n", request.thread_parent_id(), "\n",
                                         request.viewer_id(), "\n", request.after_message_id());
  ASSIGN_OR_RETURN(PageCursor cursor, PageCursor::Decode(*tokens_, query, request.page_token(), 1));
  v1::ListThreadRepliesResponse response;
  v1::Message parent;
  ASSIGN_OR_RETURN(MessagePage page,
                   store_->ListReplies(request.thread_parent_id(), request.viewer_id(),
                                       cursor.key(0, request.after_message_id()), page_size + 1,
                                       &parent, Deadline(context)));
  if (cursor.first_page()) *response.mutable_parent() = std::move(parent);
  response.set_next_page_token(FinishPage(
      *tokens_, query, page.messages, page_size, page.cut_by_budget,
      [&](v1::Message& m) { *response.add_replies() = std::move(m); }, MessageKeys));
  return response;
}

grpc::Status MessageServiceImpl::ListThreadReplies(grpc::ServerContext* context,
                                                   const v1::ListThreadRepliesRequest* request,
                                                   v1::ListThreadRepliesResponse* response) {
  return ActingUnary(context, *request, end_users_, response,
                     [&] { return DoReplies(context, *request); });
}

absl::StatusOr<v1::SearchMessagesResponse> MessageServiceImpl::DoSearch(
    grpc::ServerContext* context, const v1::SearchMessagesRequest& request) {
  SearchQuery q;
  RETURN_IF_ERROR(NormalizePageSize(request.page_size(), &q.limit));
  RETURN_IF_ERROR(ValidateId("user_id", request.user_id()));
  RETURN_IF_ERROR(ValidateText("query", request.query(), 1, 500));
  if (request.channel_ids_size() > kMaxSearchChannels) {
    return absl::InvalidArgumentError(
        absl::StrCat("channel_ids: at most ", kMaxSearchChannels, " channels"));
  }
  for (int i = 0; i < request.channel_ids_size(); ++i) {
    RETURN_IF_ERROR(ValidateId(absl::StrCat("channel_ids[", i, "]"), request.channel_ids(i)));
    q.channel_ids.push_back(request.channel_ids(i));
  }
  RETURN_IF_ERROR(ValidateId("author_id", request.author_id(), /*required=*/false));
  if (request.time_range().has_start_time()) {
    RETURN_IF_ERROR(ValidateTimestamp("time_range.start_time", request.time_range().start_time()));
    q.start_micros = TimestampMicros(request.time_range().start_time());
  }
  if (request.time_range().has_end_time()) {
    RETURN_IF_ERROR(ValidateTimestamp("time_range.end_time", request.time_range().end_time()));
    q.end_micros = TimestampMicros(request.time_range().end_time());
  }
  q.user_id = request.user_id();
  q.text = request.query();
  q.author_id = request.author_id();
  const std::string query = absl::StrCat(
      "SearchMessages\n", q.user_id, "\n", q.text, "\n", absl::StrJoin(q.channel_ids, ","), "\n",
      q.author_id, "\n", q.start_micros.value_or(-1), "\n", q.end_micros.value_or(-1));
  ASSIGN_OR_RETURN(PageCursor cursor, PageCursor::Decode(*tokens_, query, request.page_token(), 2));
  const int page_size = q.limit;
  q.limit = page_size + 1;
  if (!cursor.first_page()) {
    q.after_rank = cursor.key(0);
    q.after_id = cursor.key(1);
  }
  ASSIGN_OR_RETURN(SearchPage page, store_->Search(q, Deadline(context)));
  std::vector<SearchResult>& results = page.hits;
  v1::SearchMessagesResponse response;
  // Cut by the byte budget: the rest comes on the next page.
  response.set_next_page_token(FinishPage(
      *tokens_, query, results, page_size, page.cut_by_budget,
      [&](SearchResult& r) { *response.add_hits() = std::move(r.hit); },
      [](const SearchResult& r) {
        return std::vector<std::string>{r.rank_text, r.hit.message().id()};
      }));
  return response;
}

grpc::Status MessageServiceImpl::SearchMessages(grpc::ServerContext* context,
                                                const v1::SearchMessagesRequest* request,
                                                v1::SearchMessagesResponse* response) {
  return ActingUnary(context, *request, end_users_, response,
                     [&] { return DoSearch(context, *request); });
}

absl::StatusOr<v1::Attachment> MessageServiceImpl::DoAddAttachment(
    grpc::ServerContext* context, const v1::AddAttachmentRequest& request) {
  if (!request.has_attachment()) return absl::InvalidArgumentError("attachment: is required");
  v1::Attachment a = request.attachment();
  RETURN_IF_ERROR(ValidateId("attachment.message_id", a.message_id()));
  RETURN_IF_ERROR(ValidateId("attachment.uploader_id", a.uploader_id()));
  RETURN_IF_ERROR(ValidateText("attachment.name", a.name(), 1, 255));
  ASSIGN_OR_RETURN(*a.mutable_content_type(),
                   NormalizeContentType("attachment.content_type", a.content_type()));
  if (a.size_bytes() < 0) {
    return absl::InvalidArgumentError("attachment.size_bytes: must not be negative");
  }
  RETURN_IF_ERROR(
      ValidateStorageUrl("attachment.storage_url", a.storage_url(), storage_url_schemes_));
  RETURN_IF_ERROR(ValidateSha256Hex("attachment.sha256", a.sha256()));
  return attachments_->Add(a, Deadline(context));
}

grpc::Status MessageServiceImpl::AddAttachment(grpc::ServerContext* context,
                                               const v1::AddAttachmentRequest* request,
                                               v1::Attachment* response) {
  return ActingUnary(context, *request, end_users_, response,
                     [&] { return DoAddAttachment(context, *request); });
}

absl::StatusOr<v1::ListAttachmentsResponse> MessageServiceImpl::DoListAttachments(
    grpc::ServerContext* context, const v1::ListAttachmentsRequest& request) {
  int page_size = 0;
  RETURN_IF_ERROR(NormalizePageSize(request.page_size(), &page_size));
  switch (request.parent_case()) {
    case v1::ListAttachmentsRequest::kMessageId:
      RETURN_IF_ERROR(ValidateId("message_id", request.message_id()));
      break;
    case v1::ListAttachmentsRequest::kChannelId:
      RETURN_IF_ERROR(ValidateId("channel_id", request.channel_id()));
      break;
    default:
      return absl::InvalidArgumentError("parent: set message_id or channel_id");
  }
  RETURN_IF_ERROR(ValidateId("viewer_id", request.viewer_id()));
  const std::string query = absl::StrCat("ListAttachments\n", request.message_id(), "\n",
                                         request.channel_id(), "\n", request.viewer_id());
  ASSIGN_OR_RETURN(PageCursor cursor, PageCursor::Decode(*tokens_, query, request.page_token(), 1));
  ASSIGN_OR_RETURN(
      std::vector<v1::Attachment> attachments,
      attachments_->List(request.message_id(), request.channel_id(), request.viewer_id(),
                         cursor.key(0), page_size + 1, Deadline(context)));
  v1::ListAttachmentsResponse response;
  response.set_next_page_token(FinishPage(
      *tokens_, query, attachments, page_size, /*cut=*/false,
      [&](v1::Attachment& a) { *response.add_attachments() = std::move(a); },
      [](const v1::Attachment& a) { return std::vector<std::string>{a.id()}; }));
  return response;
}

grpc::Status MessageServiceImpl::ListAttachments(grpc::ServerContext* context,
                                                 const v1::ListAttachmentsRequest* request,
                                                 v1::ListAttachmentsResponse* response) {
  return ActingUnary(context, *request, end_users_, response,
                     [&] { return DoListAttachments(context, *request); });
}

grpc::Status MessageServiceImpl::DeleteAttachment(grpc::ServerContext* context,
                                                  const v1::DeleteAttachmentRequest* request,
                                                  google::protobuf::Empty* response) {
  return ActingUnary(context, *request, end_users_, response, [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateId("id", request->id()));
    RETURN_IF_ERROR(ValidateId("actor_id", request->actor_id()));
    return attachments_->Delete(request->id(), request->actor_id(), Deadline(context));
  });
}

}  // namespace chatgenius
