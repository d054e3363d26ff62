#include "server/store/attachment_store.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/common/ulid.h"
#include "server/db/statement.h"
#include "server/db/transaction.h"
#include "server/metrics/limit_hits.h"
#include "server/store/channel_access.h"
#include "server/store/message_store.h"
#include "server/store/row_conversion.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

v1::Attachment AttachmentFromRow(const pqxx::row& r) {
  v1::Attachment a;
  a.set_id(r[0].as<std::string>());
  a.set_message_id(r[1].as<std::string>());
  a.set_channel_id(r[2].as<std::string>());
  a.set_uploader_id(r[3].as<std::string>());
  a.set_name(r[4].as<std::string>());
  a.set_content_type(r[5].as<std::string>());
  a.set_size_bytes(r[6].as<int64_t>());
  a.set_storage_url(r[7].as<std::string>());
  a.set_sha256(r[8].as<std::string>());
  SetTimestamp(r[9], a.mutable_create_time());
  return a;
}

const std::string& AttachmentColumns() {
  static const auto* cols = new std::string(absl::StrCat(
      "a.id, a.message_id, a.channel_id, a.uploader_id, a.name, a.content_type, a.size_bytes, "
      "a.storage_url, coalesce(a.sha256, ''), ",
      MicrosSql("a.created_at")));
  return *cols;
}

const Statement kAttInsert(
    "att_insert",
    absl::StrCat("INSERT INTO attachments AS a (id, message_id, channel_id, uploader_id, name, "
                 "content_type, size_bytes, storage_url, sha256) "
                 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
                 AttachmentColumns()));

// Live messages' attachments; the statements add which ones.
std::string AttachmentListSql(absl::string_view which) {
  return absl::StrCat(
      "SELECT ", AttachmentColumns(),
      " FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.deleted_at IS NULL ",
      which);
}

const Statement kAttListMessage(
    "att_list_message",
    AttachmentListSql("AND a.message_id = $1 AND a.id > $2::text ORDER BY a.id LIMIT $3"));

const Statement kAttListChannel(
    "att_list_channel",
    AttachmentListSql("AND a.channel_id = $1 AND a.id > $2::text ORDER BY a.id LIMIT $3"));

const Statement kAttMeta(
    "att_meta", "SELECT channel_id, uploader_id, message_id FROM attachments WHERE id = $1");

const Statement kAttDelete("att_delete", "DELETE FROM attachments WHERE id = $1");

// Attachers of one message take turns on its row (FK checks and readers
// pass), then count in a statement of its own: one that waited for the
// lock would count from its snapshot, before the others committed.
const Statement kAttMessageLock("att_message_lock",
                                "SELECT 1 FROM messages WHERE id = $1 FOR NO KEY UPDATE");

const Statement kAttCount("att_count", "SELECT count(*) FROM attachments WHERE message_id = $1");

}  // namespace

AttachmentStore::AttachmentStore(Database* db, ContentLimits limits) : db_(db), limits_(limits) {}

absl::StatusOr<v1::Attachment> AttachmentStore::Add(const v1::Attachment& a,
                                                    const CallLimits& call) {
  return RunInTransaction(
      *db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::Attachment> {
        ASSIGN_OR_RETURN(MessageMeta meta,
                         MessageStore::MetaIn(txn, a.message_id(), /*for_update=*/false,
                                              "attachment.message_id"));
        ASSIGN_OR_RETURN(ChannelAccess access,
                         AccessIn(txn, meta.channel_id, "attachment.uploader_id", a.uploader_id(),
                                  AccessLock::kShare));
        RETURN_IF_ERROR(RequireMember(access, "attachment.uploader_id"));
        if (meta.author_id != a.uploader_id()) {
          return absl::PermissionDeniedError(
              "attachment.uploader_id: only the message's author may attach files to it");
        }
        RETURN_IF_ERROR(RequireNotArchived(access));
        Exec(txn, kAttMessageLock, a.message_id());
        if (Exec(txn, kAttCount, a.message_id())[0][0].as<int>() >=
            limits_.max_attachments_per_message) {
          LimitHits::Count(Limit::kAttachmentsPerMessage);
          return absl::FailedPreconditionError(absl::StrCat(
              "attachment.message_id: the message already has ",
              limits_.max_attachments_per_message, " attachments (MAX_ATTACHMENTS_PER_MESSAGE)"));
        }
        pqxx::result r =
            Exec(txn, kAttInsert, NewUlid(), a.message_id(), meta.channel_id, a.uploader_id(),
                 a.name(), a.content_type(), a.size_bytes(), a.storage_url(), a.sha256());
        RETURN_IF_ERROR(MessageStore::AppendUpdatedIn(txn, a.message_id(), a.uploader_id()));
        return AttachmentFromRow(r[0]);
      });
}

absl::StatusOr<std::vector<v1::Attachment>> AttachmentStore::List(
    const std::string& message_id, const std::string& channel_id, const std::string& viewer_id,
    const std::string& after_id, int limit, const CallLimits& call) {
  return RunReadOnly(
      *db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<std::vector<v1::Attachment>> {
        std::string channel = channel_id;
        if (!message_id.empty()) {
          ASSIGN_OR_RETURN(
              MessageMeta meta,
              MessageStore::MetaIn(txn, message_id, /*for_update=*/false, "message_id"));
          channel = meta.channel_id;
        }
        ASSIGN_OR_RETURN(ChannelAccess access,
                         AccessIn(txn, channel, "viewer_id", viewer_id, AccessLock::kNone));
        RETURN_IF_ERROR(RequireReader(access, "viewer_id"));
        pqxx::result rows = message_id.empty()
                                ? Exec(txn, kAttListChannel, channel_id, after_id, limit)
                                : Exec(txn, kAttListMessage, message_id, after_id, limit);
        std::vector<v1::Attachment> out;
        for (const pqxx::row& r : rows) out.push_back(AttachmentFromRow(r));
        return out;
      });
}

absl::Status AttachmentStore::Delete(const std::string& id, const std::string& actor_id,
                                     const CallLimits& call) {
  return RunInTransaction(*db_, call, [&](pqxx::transaction_base& txn) -> absl::Status {
    pqxx::result r = Exec(txn, kAttMeta, id);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("attachment ", id, " not found"));
    const std::string channel_id = r[0][0].as<std::string>();
    ASSIGN_OR_RETURN(ChannelAccess access,
                     AccessIn(txn, channel_id, "actor_id", actor_id, AccessLock::kShare));
    RETURN_IF_ERROR(RequireMember(access, "actor_id"));
    if (r[0][1].as<std::string>() != actor_id && !access.is_manager()) {
      return absl::PermissionDeniedError(
          "actor_id: only the uploader or a channel owner/admin may delete an attachment");
    }
    RETURN_IF_ERROR(RequireNotArchived(access));
    Exec(txn, kAttDelete, id);
    return MessageStore::AppendUpdatedIn(txn, r[0][2].as<std::string>(), actor_id);
  });
}

}  // namespace chatgenius
