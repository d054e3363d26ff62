#include "server/store/channel_store.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/status_macros.h"
#include "server/common/ulid.h"
#include "server/db/statement.h"
#include "server/db/transaction.h"
#include "server/store/event_store.h"
#include "server/store/member_store.h"
#include "server/store/row_conversion.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

const char* TypeToSql(v1::ChannelType type) {
  switch (type) {
    case v1::CHANNEL_TYPE_PRIVATE:
      return "private";
    case v1::CHANNEL_TYPE_DIRECT:
      return "dm";
    default:
      return "public";
  }
}

// Columns of a channel (alias c), read by ChannelFromRow.
const std::string& ChannelColumns() {
  static const auto* cols = new std::string(absl::StrCat(
      "c.id, coalesce(c.name, ''), c.description, c.type, c.created_by, ",
      MicrosSql("c.created_at"), ", ", MicrosSql("c.updated_at"), ", ", MicrosSql("c.archived_at"),
      ", coalesce(c.archived_by, ''), "
      "(SELECT count(*) FROM channel_members cm JOIN users cu ON cu.id = cm.user_id "
      "WHERE cm.channel_id = c.id AND cu.deleted_at IS NULL)"));
  return *cols;
}
constexpr int kChannelColumnCount = 10;

v1::Channel ChannelFromRow(const pqxx::row& r) {
  v1::Channel c;
  c.set_id(r[0].as<std::string>());
  c.set_name(r[1].as<std::string>());
  c.set_description(r[2].as<std::string>());
  c.set_type(ChannelTypeFromSql(r[3].as<std::string>()));
  c.set_created_by(r[4].as<std::string>());
  SetTimestamp(r[5], c.mutable_create_time());
  SetTimestamp(r[6], c.mutable_update_time());
  if (auto t = OptionalTimestamp(r[7])) *c.mutable_archive_time() = *t;
  c.set_archived_by(r[8].as<std::string>());
  c.set_member_count(r[9].as<int>());
  return c;
}

// Unread = top-level messages by others after the member's marker (alias m).
// Unread counts stop at kUnreadCountCap (channel_service.proto): a member
// of a huge channel without a read marker would otherwise make every
// ListChannels count all of it (900,000 rows in the bench dataset).
const std::string& UnreadCountSql() {
  static const auto* sql = new std::string(absl::StrCat(
      "(SELECT count(*) FROM (SELECT 1 FROM messages x WHERE x.channel_id = m.channel_id "
      "AND x.thread_parent_id IS NULL AND x.deleted_at IS NULL AND x.user_id <> m.user_id "
      "AND x.id > coalesce(m.last_read_message_id, '') LIMIT ",
      kUnreadCountCap, ") unread)"));
  return *sql;
}

const Statement kChannelInsert("channel_insert",
                               "INSERT INTO channels (id, name, description, type, created_by) "
                               "VALUES ($1, $2, $3, $4, $5)");

const Statement kChannelGet("channel_get", absl::StrCat("SELECT ", ChannelColumns(),
                                                        " FROM channels c WHERE c.id = $1 "
                                                        "AND c.deleted_at IS NULL"));

const Statement kChannelUpdate("channel_update",
                               "UPDATE channels SET name = CASE WHEN $2 THEN $3 ELSE name END, "
                               "description = CASE WHEN $4 THEN $5 ELSE description END "
                               "WHERE id = $1");

const Statement kChannelArchive("channel_archive",
                                "UPDATE channels SET archived_at = now(), archived_by = $2 "
                                "WHERE id = $1 AND archived_at IS NULL");

const Statement kChannelUnarchive("channel_unarchive",
                                  "UPDATE channels SET archived_at = NULL, archived_by = NULL "
                                  "WHERE id = $1 AND archived_at IS NOT NULL");

const Statement kChannelDelete("channel_delete",
                               "UPDATE channels SET deleted_at = now() WHERE id = $1");

const Statement kChannelListMember("channel_list_member", ChannelStore::ListForMemberSql());

const Statement kChannelListPublic(
    "channel_list_public",
    absl::StrCat("SELECT ", ChannelColumns(),
                 " FROM channels c WHERE c.type = 'public' AND c.deleted_at IS NULL "
                 "AND ($1 OR c.archived_at IS NULL) AND (c.name, c.id) > ($2::text, $3::text) "
                 "AND ",
                 LiveUserSql("$5"), " ORDER BY c.name, c.id LIMIT $4"));

const Statement kDmInsert("dm_insert",
                          "INSERT INTO channels (id, name, type, dm_key, created_by) "
                          "VALUES ($1, NULL, 'dm', $2, $3) "
                          "ON CONFLICT (dm_key) WHERE dm_key IS NOT NULL DO NOTHING RETURNING id");

const Statement kDmFind("dm_find", "SELECT id FROM channels WHERE dm_key = $1");

const Statement kMessageInChannel("message_in_channel",
                                  "SELECT 1 FROM messages WHERE id = $1 AND channel_id = $2");

const Statement kReadMark("read_mark",
                          "UPDATE channel_members SET last_read_message_id = $3 "
                          "WHERE channel_id = $1 AND user_id = $2 AND "
                          "(last_read_message_id IS NULL OR last_read_message_id < $3::text)");

const Statement kReadState("read_state",
                           absl::StrCat("SELECT coalesce(m.last_read_message_id, ''), ",
                                        UnreadCountSql(),
                                        " FROM channel_members m WHERE m.channel_id = $1 "
                                        "AND m.user_id = $2"));

const ConstraintMessages& ChannelConstraintMessages() {
  static const auto* messages = new ConstraintMessages{
      {"channels_name_key", "channel.name: a channel with this name already exists"},
  };
  return *messages;
}

absl::StatusOr<v1::Channel> GetIn(pqxx::transaction_base& txn, const std::string& id) {
  pqxx::result r = Exec(txn, kChannelGet, id);
  if (r.empty()) return ChannelNotFound(id);
  return ChannelFromRow(r[0]);
}

v1::ReadState ReadStateFromRow(const std::string& channel_id, const std::string& user_id,
                               const pqxx::row& r) {
  v1::ReadState out;
  out.set_channel_id(channel_id);
  out.set_user_id(user_id);
  out.set_last_read_message_id(r[0].as<std::string>());
  out.set_unread_count(r[1].as<int64_t>());
  return out;
}

void AppendChannelEvent(pqxx::transaction_base& txn, v1::EventKind kind, const v1::Channel& channel,
                        const std::string& actor_id) {
  v1::Event event = NewEvent(kind, channel.id(), actor_id);
  *event.mutable_channel() = channel;
  EventStore::AppendIn(txn, event);
}

}  // namespace

std::string ChannelStore::ListForMemberSql() {
  return absl::StrCat(
      "SELECT ", ChannelColumns(), ", m.role, ", UnreadCountSql(),
      " FROM channel_members m JOIN channels c ON c.id = m.channel_id "
      "WHERE m.user_id = $1 AND c.deleted_at IS NULL AND ($2 OR c.archived_at IS NULL) AND ",
      LiveUserSql("$1"), " AND m.channel_id > $3::text ORDER BY m.channel_id LIMIT $4");
}

ChannelStore::ChannelStore(Database* db) : db_(db) {}

absl::StatusOr<v1::Channel> ChannelStore::Create(const v1::Channel& channel,
                                                 const std::string& creator_id,
                                                 const CallLimits& call) {
  return RunInTransaction(
      *db_, call,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::Channel> {
        RETURN_IF_ERROR(RequireLiveUserIn(txn, "creator_id", creator_id, /*lock=*/true));
        const std::string id = NewUlid();
        Exec(txn, kChannelInsert, id, channel.name(), channel.description(),
             TypeToSql(channel.type()), creator_id);
        MemberStore::InsertMemberIn(txn, id, creator_id, v1::MEMBER_ROLE_OWNER);
        ASSIGN_OR_RETURN(v1::Channel out, GetIn(txn, id));
        ASSIGN_OR_RETURN(v1::ChannelMember owner, MemberStore::MemberIn(txn, id, creator_id));
        MemberStore::AppendMemberEventIn(txn, v1::EVENT_KIND_MEMBER_JOINED, owner, creator_id);
        return out;
      },
      &ChannelConstraintMessages());
}

absl::StatusOr<v1::Channel> ChannelStore::Get(const std::string& id, const std::string& viewer_id,
                                              const CallLimits& call) {
  return RunReadOnly(*db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::Channel> {
    ASSIGN_OR_RETURN(ChannelAccess access,
                     AccessIn(txn, id, "viewer_id", viewer_id, AccessLock::kNone));
    RETURN_IF_ERROR(RequireReader(access, "viewer_id"));
    return GetIn(txn, id);
  });
}

absl::StatusOr<v1::Channel> ChannelStore::Update(const std::string& id, const std::string& actor_id,
                                                 const ChannelUpdate& update,
                                                 const CallLimits& call) {
  return RunInTransaction(
      *db_, call,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::Channel> {
        ASSIGN_OR_RETURN(ChannelAccess access,
                         AccessIn(txn, id, "actor_id", actor_id, AccessLock::kUpdate));
        RETURN_IF_ERROR(RequireManager(access, "update a channel"));
        RETURN_IF_ERROR(RequireNotArchived(access));
        if (access.type == v1::CHANNEL_TYPE_DIRECT && update.name.has_value()) {
          return absl::FailedPreconditionError("direct channels have no name");
        }
        Exec(txn, kChannelUpdate, id, update.name.has_value(), update.name.value_or(""),
             update.description.has_value(), update.description.value_or(""));
        ASSIGN_OR_RETURN(v1::Channel out, GetIn(txn, id));
        AppendChannelEvent(txn, v1::EVENT_KIND_CHANNEL_UPDATED, out, actor_id);
        return out;
      },
      &ChannelConstraintMessages());
}

absl::StatusOr<v1::Channel> ChannelStore::SetArchived(const std::string& id,
                                                      const std::string& actor_id, bool archived,
                                                      const CallLimits& call) {
  return RunInTransaction(
      *db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::Channel> {
        ASSIGN_OR_RETURN(ChannelAccess access,
                         AccessIn(txn, id, "actor_id", actor_id, AccessLock::kUpdate));
        RETURN_IF_ERROR(
            RequireManager(access, archived ? "archive a channel" : "unarchive a channel"));
        if (access.type == v1::CHANNEL_TYPE_DIRECT) {
          return absl::FailedPreconditionError("direct channels cannot be archived");
        }
        const bool changed =
            (archived ? Exec(txn, kChannelArchive, id, actor_id) : Exec(txn, kChannelUnarchive, id))
                .affected_rows() > 0;
        ASSIGN_OR_RETURN(v1::Channel out, GetIn(txn, id));
        if (changed) {
          AppendChannelEvent(
              txn, archived ? v1::EVENT_KIND_CHANNEL_ARCHIVED : v1::EVENT_KIND_CHANNEL_UPDATED, out,
              actor_id);
        }
        return out;
      });
}

absl::Status ChannelStore::Delete(const std::string& id, const std::string& actor_id,
                                  const CallLimits& call) {
  return RunInTransaction(*db_, call, [&](pqxx::transaction_base& txn) -> absl::Status {
    ASSIGN_OR_RETURN(ChannelAccess access,
                     AccessIn(txn, id, "actor_id", actor_id, AccessLock::kUpdate));
    if (access.type == v1::CHANNEL_TYPE_DIRECT) {
      return absl::FailedPreconditionError("direct channels cannot be deleted");
    }
    if (access.role != v1::MEMBER_ROLE_OWNER) {
      return absl::PermissionDeniedError("actor_id: only a channel owner may delete it");
    }
    ASSIGN_OR_RETURN(v1::Channel last, GetIn(txn, id));
    Exec(txn, kChannelDelete, id);
    AppendChannelEvent(txn, v1::EVENT_KIND_CHANNEL_DELETED, last, actor_id);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<v1::ChannelListEntry>> ChannelStore::ListForMember(
    const std::string& user_id, bool include_archived, const std::string& after_id, int limit,
    const CallLimits& call) {
  return RunReadOnly(
      *db_, call,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<std::vector<v1::ChannelListEntry>> {
        std::vector<v1::ChannelListEntry> out;
        for (const pqxx::row& r :
             Exec(txn, kChannelListMember, user_id, include_archived, after_id, limit)) {
          v1::ChannelListEntry e;
          *e.mutable_channel() = ChannelFromRow(r);
          e.set_role(RoleFromSql(r[kChannelColumnCount].as<std::string>()));
          e.set_unread_count(r[kChannelColumnCount + 1].as<int64_t>());
          out.push_back(std::move(e));
        }
        // The statement lists nothing for a deleted user; only then ask why.
        if (out.empty()) RETURN_IF_ERROR(RequireLiveUserIn(txn, "member_id", user_id));
        return out;
      });
}

absl::StatusOr<std::vector<v1::ChannelListEntry>> ChannelStore::ListPublic(
    const std::string& viewer_id, bool include_archived, const std::string& after_name,
    const std::string& after_id, int limit, const CallLimits& call) {
  return RunReadOnly(
      *db_, call,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<std::vector<v1::ChannelListEntry>> {
        std::vector<v1::ChannelListEntry> out;
        for (const pqxx::row& r : Exec(txn, kChannelListPublic, include_archived, after_name,
                                       after_id, limit, viewer_id)) {
          v1::ChannelListEntry e;
          *e.mutable_channel() = ChannelFromRow(r);
          out.push_back(std::move(e));
        }
        if (out.empty()) RETURN_IF_ERROR(RequireLiveUserIn(txn, "viewer_id", viewer_id));
        return out;
      });
}

absl::StatusOr<v1::Channel> ChannelStore::GetOrCreateDirect(
    const std::vector<std::string>& user_ids, const std::string& actor_id, const CallLimits& call) {
  const std::string key = absl::StrJoin(user_ids, ",");
  return RunInTransaction(
      *db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::Channel> {
        RETURN_IF_ERROR(RequireLiveUserIn(txn, "actor_id", actor_id, /*lock=*/true));
        pqxx::result existing = Exec(txn, kDmFind, key);
        if (!existing.empty()) {
          return GetIn(txn, existing[0][0].as<std::string>());
        }
        for (size_t i = 0; i < user_ids.size(); ++i) {
          RETURN_IF_ERROR(RequireLiveUserIn(txn, absl::StrCat("user_ids[", i, "]"), user_ids[i],
                                            /*lock=*/true));
        }
        // A racing call for the same set waits on the unique index, then finds
        // the winner's row (ON CONFLICT DO NOTHING returns nothing).
        pqxx::result inserted = Exec(txn, kDmInsert, NewUlid(), key, actor_id);
        if (inserted.empty()) {
          pqxx::result winner = Exec(txn, kDmFind, key);
          if (winner.empty()) return absl::AbortedError("direct channel creation raced; retry");
          return GetIn(txn, winner[0][0].as<std::string>());
        }
        const std::string id = inserted[0][0].as<std::string>();
        for (const std::string& user : user_ids)
          MemberStore::InsertMemberIn(txn, id, user, v1::MEMBER_ROLE_MEMBER);
        ASSIGN_OR_RETURN(v1::Channel out, GetIn(txn, id));
        for (const std::string& user : user_ids) {
          ASSIGN_OR_RETURN(v1::ChannelMember member, MemberStore::MemberIn(txn, id, user));
          MemberStore::AppendMemberEventIn(txn, v1::EVENT_KIND_MEMBER_JOINED, member, actor_id);
        }
        return out;
      });
}

absl::StatusOr<v1::ReadState> ChannelStore::MarkRead(const std::string& channel_id,
                                                     const std::string& user_id,
                                                     const std::string& message_id,
                                                     const CallLimits& call) {
  return RunInTransaction(
      *db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::ReadState> {
        ASSIGN_OR_RETURN(ChannelAccess access,
                         AccessIn(txn, channel_id, "user_id", user_id, AccessLock::kShare));
        RETURN_IF_ERROR(RequireMember(access, "user_id"));
        if (Exec(txn, kMessageInChannel, message_id, channel_id).empty()) {
          return absl::NotFoundError(
              absl::StrCat("message_id: message ", message_id, " not found in this channel"));
        }
        Exec(txn, kReadMark, channel_id, user_id, message_id);
        pqxx::result r = Exec(txn, kReadState, channel_id, user_id);
        return ReadStateFromRow(channel_id, user_id, r[0]);
      });
}

absl::StatusOr<v1::ReadState> ChannelStore::GetReadState(const std::string& channel_id,
                                                         const std::string& user_id,
                                                         const CallLimits& call) {
  return RunReadOnly(*db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::ReadState> {
    ASSIGN_OR_RETURN(ChannelAccess access,
                     AccessIn(txn, channel_id, "user_id", user_id, AccessLock::kNone));
    RETURN_IF_ERROR(RequireMember(access, "user_id"));
    pqxx::result r = Exec(txn, kReadState, channel_id, user_id);
    if (r.empty()) return RequireMember(ChannelAccess{}, "user_id");  // left meanwhile
    return ReadStateFromRow(channel_id, user_id, r[0]);
  });
}

}  // namespace chatgenius
