// message_service.h
//
// MessageServiceImpl: the gRPC face of MessageStore — validation (content
// 1..40,000 characters of UTF-8, ids, limits), deadlines, page tokens.
#ifndef CHATGENIUS_SERVER_SERVICE_MESSAGE_SERVICE_H_
#define CHATGENIUS_SERVER_SERVICE_MESSAGE_SERVICE_H_

#include <set>
#include <string>
#include "absl/time/time.h"

#include "chatgenius/db/v1/message_service.grpc.pb.h"
#include "server/auth/acting_user.h"
#include "server/common/page_token.h"
#include "server/store/attachment_store.h"
#include "server/store/message_store.h"

namespace chatgenius {

// kMaxMessageChars is Slack's message limit.
inline constexpr int kMaxMessageChars = 40000;

// ValidatePostMessage checks a PostMessage request; exposed for tests and
// the request fuzzer.
[[nodiscard]] absl::Status ValidatePostMessage(const db::v1::PostMessageRequest& request);

class MessageServiceImpl final : public db::v1::MessageService::Service {
 public:
  // `store`, `attachments` and `tokens` must outlive the service.
  // `end_users` (may be null: end-user tokens off) checks each call's
  // acting user against its x-end-user-token; it must outlive the service.
  MessageServiceImpl(MessageStore* store, AttachmentStore* attachments,
                     const PageTokenCodec* tokens, absl::Duration max_statement_time,
                     const EndUserAuth* end_users = nullptr,
                     std::set<std::string> storage_url_schemes = {"https", "s3", "gs"});

  grpc::Status PostMessage(grpc::ServerContext* context, const db::v1::PostMessageRequest* request,
                           db::v1::Message* response) override;
  grpc::Status GetMessage(grpc::ServerContext* context, const db::v1::GetMessageRequest* request,
                          db::v1::Message* response) override;
  grpc::Status UpdateMessage(grpc::ServerContext* context,
                             const db::v1::UpdateMessageRequest* request,
                             db::v1::Message* response) override;
  grpc::Status DeleteMessage(grpc::ServerContext* context,
                             const db::v1::DeleteMessageRequest* request,
                             google::protobuf::Empty* response) override;
  grpc::Status ListMessages(grpc::ServerContext* context,
                            const db::v1::ListMessagesRequest* request,
                            db::v1::ListMessagesResponse* response) override;
  grpc::Status ListThreadReplies(grpc::ServerContext* context,
                                 const db::v1::ListThreadRepliesRequest* request,
                                 db::v1::ListThreadRepliesResponse* response) override;
  grpc::Status SearchMessages(grpc::ServerContext* context,
                              const db::v1::SearchMessagesRequest* request,
                              db::v1::SearchMessagesResponse* response) override;
  grpc::Status AddAttachment(grpc::ServerContext* context,
                             const db::v1::AddAttachmentRequest* request,
                             db::v1::Attachment* response) override;
  grpc::Status ListAttachments(grpc::ServerContext* context,
                               const db::v1::ListAttachmentsRequest* request,
                               db::v1::ListAttachmentsResponse* response) override;
  grpc::Status DeleteAttachment(grpc::ServerContext* context,
                                const db::v1::DeleteAttachmentRequest* request,
                                google::protobuf::Empty* response) override;

 private:
  absl::StatusOr<db::v1::Message> DoUpdate(grpc::ServerContext* context,
                                           const db::v1::UpdateMessageRequest& request);
  absl::StatusOr<db::v1::ListMessagesResponse> DoList(grpc::ServerContext* context,
                                                      const db::v1::ListMessagesRequest& request);
  absl::StatusOr<db::v1::ListThreadRepliesResponse> DoReplies(
      grpc::ServerContext* context, const db::v1::ListThreadRepliesRequest& request);
  absl::StatusOr<db::v1::SearchMessagesResponse> DoSearch(
      grpc::ServerContext* context, const db::v1::SearchMessagesRequest& request);
  absl::StatusOr<db::v1::Attachment> DoAddAttachment(grpc::ServerContext* context,
                                                     const db::v1::AddAttachmentRequest& request);
  absl::StatusOr<db::v1::ListAttachmentsResponse> DoListAttachments(
      grpc::ServerContext* context, const db::v1::ListAttachmentsRequest& request);
  CallLimits Deadline(grpc::ServerContext* context) const;

  MessageStore* const store_;
  AttachmentStore* const attachments_;
  const PageTokenCodec* const tokens_;
  const absl::Duration max_statement_time_;
  const EndUserAuth* const end_users_;
  const std::set<std::string> storage_url_schemes_;  // STORAGE_URL_SCHEMES
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_SERVICE_MESSAGE_SERVICE_H_
