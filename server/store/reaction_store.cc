#include "server/store/reaction_store.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/db/statement.h"
#include "server/db/transaction.h"
#include "server/metrics/limit_hits.h"
#include "server/store/channel_access.h"
#include "server/store/event_store.h"
#include "server/store/row_conversion.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

const Statement kRxMessageChannel(
    "rx_message_channel", "SELECT channel_id FROM messages WHERE id = $1 AND deleted_at IS NULL");

// The caps: concurrent reactors of one message take turns on its row (FK
// checks and readers pass), and count in a statement after the lock, so
// they see each other's committed reactions.
const Statement kRxMessageLock("rx_message_lock",
                               "SELECT 1 FROM messages WHERE id = $1 FOR NO KEY UPDATE");

const Statement kRxCounts(
    "rx_counts",
    "SELECT (SELECT count(DISTINCT emoji) FROM reactions WHERE message_id = $1), "
    "(SELECT count(*) FROM reactions WHERE message_id = $1 AND user_id = $2), "
    "EXISTS (SELECT 1 FROM reactions WHERE message_id = $1 AND emoji = $3), "
    "EXISTS (SELECT 1 FROM reactions WHERE message_id = $1 AND emoji = $3 AND user_id = $2)");

const Statement kRxInsert("rx_insert",
                          "INSERT INTO reactions (message_id, user_id, emoji) VALUES ($1, $2, $3) "
                          "ON CONFLICT (message_id, user_id, emoji) DO NOTHING");

const Statement kRxGet("rx_get",
                       absl::StrCat("SELECT ", MicrosSql("created_at"),
                                    " FROM reactions WHERE message_id = $1 AND user_id = $2 "
                                    "AND emoji = $3"));

const Statement kRxDelete("rx_delete",
                          "DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 "
                          "AND emoji = $3");

const Statement kRxList(
    "rx_list",
    "SELECT r.emoji, u.id, u.username, u.display_name, u.avatar_url, u.is_bot "
    "FROM reactions r JOIN users u ON u.id = r.user_id WHERE r.message_id = $1 "
    "ORDER BY min(r.created_at) OVER (PARTITION BY r.emoji), r.emoji, r.created_at, r.user_id");

// The channel of a live message; NOT_FOUND otherwise.
absl::StatusOr<std::string> LiveMessageChannelIn(pqxx::transaction_base& txn,
                                                 const std::string& message_id) {
  pqxx::result r = Exec(txn, kRxMessageChannel, message_id);
  if (r.empty()) {
    return absl::NotFoundError(absl::StrCat("message_id: message ", message_id, " not found"));
  }
  return r[0][0].as<std::string>();
}

}  // namespace

ReactionStore::ReactionStore(Database* db, ContentLimits limits) : db_(db), limits_(limits) {}

absl::StatusOr<v1::Reaction> ReactionStore::Add(const std::string& message_id,
                                                const std::string& user_id,
                                                const std::string& emoji, const CallLimits& call) {
  return RunInTransaction(
      *db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::Reaction> {
        ASSIGN_OR_RETURN(std::string channel_id, LiveMessageChannelIn(txn, message_id));
        ASSIGN_OR_RETURN(ChannelAccess access,
                         AccessIn(txn, channel_id, "user_id", user_id, AccessLock::kShare));
        RETURN_IF_ERROR(RequireMember(access, "user_id"));
        RETURN_IF_ERROR(RequireNotArchived(access));
        Exec(txn, kRxMessageLock, message_id);
        const pqxx::row counts = Exec1(txn, kRxCounts, message_id, user_id, emoji);
        const bool repeat = counts[3].as<bool>();  // a no-op, whatever the counts
        if (!repeat && !counts[2].as<bool>() &&
            counts[0].as<int>() >= limits_.max_emoji_per_message) {
          LimitHits::Count(Limit::kEmojiPerMessage);
          return absl::FailedPreconditionError(
              absl::StrCat("emoji: the message already has ", limits_.max_emoji_per_message,
                           " different reactions (MAX_EMOJI_PER_MESSAGE)"));
        }
        if (!repeat && counts[1].as<int>() >= limits_.max_reactions_per_user_per_message) {
          LimitHits::Count(Limit::kReactionsPerUser);
          return absl::FailedPreconditionError(
              absl::StrCat("user_id: already reacted ", limits_.max_reactions_per_user_per_message,
                           " times to this message (MAX_REACTIONS_PER_USER_PER_MESSAGE)"));
        }
        const bool added = Exec(txn, kRxInsert, message_id, user_id, emoji).affected_rows() > 0;
        pqxx::result r = Exec(txn, kRxGet, message_id, user_id, emoji);
        v1::Reaction out;
        out.set_message_id(message_id);
        out.set_user_id(user_id);
        out.set_emoji(emoji);
        SetTimestamp(r[0][0], out.mutable_create_time());
        if (added) {  // repeating an existing reaction changes nothing, so says nothing
          v1::Event event = NewEvent(v1::EVENT_KIND_REACTION_ADDED, channel_id, user_id);
          *event.mutable_reaction() = out;
          EventStore::AppendIn(txn, event);
        }
        return out;
      });
}

absl::Status ReactionStore::Remove(const std::string& message_id, const std::string& user_id,
                                   const std::string& emoji, const CallLimits& call) {
  return RunInTransaction(*db_, call, [&](pqxx::transaction_base& txn) -> absl::Status {
    ASSIGN_OR_RETURN(std::string channel_id, LiveMessageChannelIn(txn, message_id));
    ASSIGN_OR_RETURN(ChannelAccess access,
                     AccessIn(txn, channel_id, "user_id", user_id, AccessLock::kShare));
    RETURN_IF_ERROR(RequireMember(access, "user_id"));
    RETURN_IF_ERROR(RequireNotArchived(access));
    if (Exec(txn, kRxDelete, message_id, user_id, emoji).affected_rows() == 0) {
      return absl::NotFoundError(absl::StrCat("no reaction ", emoji, " by this user"));
    }
    v1::Event event = NewEvent(v1::EVENT_KIND_REACTION_REMOVED, channel_id, user_id);
    v1::Reaction* gone = event.mutable_reaction();
    gone->set_message_id(message_id);
    gone->set_user_id(user_id);
    gone->set_emoji(emoji);
    EventStore::AppendIn(txn, event);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<v1::ReactionGroup>> ReactionStore::List(const std::string& message_id,
                                                                   const std::string& viewer_id,
                                                                   const CallLimits& call) {
  return RunReadOnly(
      *db_, call,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<std::vector<v1::ReactionGroup>> {
        ASSIGN_OR_RETURN(std::string channel_id, LiveMessageChannelIn(txn, message_id));
        ASSIGN_OR_RETURN(ChannelAccess access,
                         AccessIn(txn, channel_id, "viewer_id", viewer_id, AccessLock::kNone));
        RETURN_IF_ERROR(RequireReader(access, "viewer_id"));
        std::vector<v1::ReactionGroup> out;
        for (const pqxx::row& r : Exec(txn, kRxList, message_id)) {
          const std::string emoji = r[0].as<std::string>();
          if (out.empty() || out.back().emoji() != emoji) out.emplace_back().set_emoji(emoji);
          v1::UserSummary* u = out.back().add_users();
          u->set_id(r[1].as<std::string>());
          u->set_username(r[2].as<std::string>());
          u->set_display_name(r[3].as<std::string>());
          u->set_avatar_url(r[4].as<std::string>());
          u->set_is_bot(r[5].as<bool>());
          if (u->id() == viewer_id) out.back().set_viewer_reacted(true);
        }
        return out;
      });
}

}  // namespace chatgenius
