// attachment_store.h
//
// AttachmentStore: all SQL about attachments (file metadata on a message;
// the bytes live in object storage). Rules, in the write's transaction:
// only the message's author attaches, and only while a member of a live,
// unarchived channel; a message holds at most
// ContentLimits::max_attachments_per_message; the uploader or a channel
// owner/admin deletes; listing needs read access to the channel. Every
// change appends MESSAGE_UPDATED (the message renders its attachments).
#ifndef CHATGENIUS_SERVER_STORE_ATTACHMENT_STORE_H_
#define CHATGENIUS_SERVER_STORE_ATTACHMENT_STORE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "chatgenius/db/v1/message_service.pb.h"
#include "server/db/call_limits.h"
#include "server/db/database.h"
#include "server/store/content_limits.h"

namespace chatgenius {

class AttachmentStore {
 public:
  // `db` must outlive the store; its autocommit reads may run on a read
  // replica (server/db/database.h).
  AttachmentStore(Database* db, ContentLimits limits);

  // Add records metadata on a live message (see the file comment).
  [[nodiscard]] absl::StatusOr<db::v1::Attachment> Add(const db::v1::Attachment& attachment,
                                                       const CallLimits& call);
  // List lists by message (message_id set) or by channel, ids after
  // `after_id`, at most `limit`.
  [[nodiscard]] absl::StatusOr<std::vector<db::v1::Attachment>> List(
      const std::string& message_id, const std::string& channel_id, const std::string& viewer_id,
      const std::string& after_id, int limit, const CallLimits& call);
  [[nodiscard]] absl::Status Delete(const std::string& id, const std::string& actor_id,
                                    const CallLimits& call);

 private:
  Database* const db_;
  const ContentLimits limits_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_STORE_ATTACHMENT_STORE_H_
