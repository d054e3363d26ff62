#include "server/store/member_store.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/db/statement.h"
#include "server/db/transaction.h"
#include "server/store/channel_access.h"
#include "server/store/event_store.h"
#include "server/store/row_conversion.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

// Columns of a membership (alias m) joined with its user (alias u).
const std::string& MemberColumns() {
  static const auto* cols = new std::string(
      absl::StrCat("m.channel_id, u.id, u.username, u.display_name, u.avatar_url, u.is_bot, "
                   "m.role, ",
                   MicrosSql("m.joined_at"), ", coalesce(m.last_read_message_id, '')"));
  return *cols;
}

v1::ChannelMember MemberFromRow(const pqxx::row& r) {
  v1::ChannelMember m;
  m.set_channel_id(r[0].as<std::string>());
  v1::UserSummary* u = m.mutable_user();
  u->set_id(r[1].as<std::string>());
  u->set_username(r[2].as<std::string>());
  u->set_display_name(r[3].as<std::string>());
  u->set_avatar_url(r[4].as<std::string>());
  u->set_is_bot(r[5].as<bool>());
  m.set_role(RoleFromSql(r[6].as<std::string>()));
  SetTimestamp(r[7], m.mutable_join_time());
  m.set_last_read_message_id(r[8].as<std::string>());
  return m;
}

const Statement kMemberInsert("member_insert",
                              "INSERT INTO channel_members (channel_id, user_id, role) "
                              "VALUES ($1, $2, $3) ON CONFLICT (channel_id, user_id) DO NOTHING");

const Statement kMemberGet("member_get", absl::StrCat("SELECT ", MemberColumns(),
                                                      " FROM channel_members m JOIN users u ON "
                                                      "u.id = m.user_id WHERE m.channel_id = $1 "
                                                      "AND m.user_id = $2"));

const Statement kMemberDelete("member_delete",
                              "DELETE FROM channel_members WHERE channel_id = $1 AND user_id = $2");

const Statement kMemberSetRole("member_set_role",
                               "UPDATE channel_members SET role = $3 WHERE channel_id = $1 "
                               "AND user_id = $2");

const Statement kOwnerCount("owner_count",
                            "SELECT count(*) FROM channel_members m JOIN users u ON "
                            "u.id = m.user_id WHERE m.channel_id = $1 AND m.role = 'owner' "
                            "AND u.deleted_at IS NULL");

const Statement kMemberList("member_list", absl::StrCat("SELECT ", MemberColumns(),
                                                        " FROM channel_members m JOIN users u ON "
                                                        "u.id = m.user_id WHERE m.channel_id = $1 "
                                                        "AND m.user_id > $2::text "
                                                        "AND u.deleted_at IS NULL "
                                                        "ORDER BY m.user_id LIMIT $3"));

// Who changes a channel's membership: the actor's access, locked FOR UPDATE,
// to a channel that is not direct (`direct`: why not) and not archived.
absl::StatusOr<ChannelAccess> ManagedChannelIn(pqxx::transaction_base& txn,
                                               const std::string& channel_id,
                                               const std::string& actor_id,
                                               absl::string_view direct) {
  ASSIGN_OR_RETURN(ChannelAccess actor,
                   AccessIn(txn, channel_id, "actor_id", actor_id, AccessLock::kUpdate));
  if (actor.type == v1::CHANNEL_TYPE_DIRECT) {
    return absl::FailedPreconditionError(std::string(direct));
  }
  RETURN_IF_ERROR(RequireNotArchived(actor));
  return actor;
}

}  // namespace

const char* RoleToSql(v1::MemberRole role) {
  switch (role) {
    case v1::MEMBER_ROLE_OWNER:
      return "owner";
    case v1::MEMBER_ROLE_ADMIN:
      return "admin";
    default:
      return "member";
  }
}

absl::StatusOr<v1::ChannelMember> MemberStore::MemberIn(pqxx::transaction_base& txn,
                                                        const std::string& channel_id,
                                                        const std::string& user_id) {
  pqxx::result r = Exec(txn, kMemberGet, channel_id, user_id);
  if (r.empty()) {
    return absl::NotFoundError(
        absl::StrCat("user ", user_id, " is not a member of channel ", channel_id));
  }
  return MemberFromRow(r[0]);
}

bool MemberStore::InsertMemberIn(pqxx::transaction_base& txn, const std::string& channel_id,
                                 const std::string& user_id, v1::MemberRole role) {
  return Exec(txn, kMemberInsert, channel_id, user_id, RoleToSql(role)).affected_rows() > 0;
}

void MemberStore::AppendMemberEventIn(pqxx::transaction_base& txn, v1::EventKind kind,
                                      const v1::ChannelMember& member,
                                      const std::string& actor_id) {
  v1::Event event = NewEvent(kind, member.channel_id(), actor_id);
  *event.mutable_member() = member;
  EventStore::AppendIn(txn, event, member.user().id());
}

MemberStore::MemberStore(Database* db) : db_(db) {}

absl::StatusOr<v1::ChannelMember> MemberStore::AddMember(const std::string& channel_id,
                                                         const std::string& user_id,
                                                         v1::MemberRole role,
                                                         const std::string& actor_id,
                                                         const CallLimits& call) {
  return RunInTransaction(
      *db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::ChannelMember> {
        ASSIGN_OR_RETURN(ChannelAccess actor,
                         ManagedChannelIn(txn, channel_id, actor_id,
                                          "direct channels have a fixed set of members"));
        const bool self_join = actor_id == user_id && actor.type == v1::CHANNEL_TYPE_PUBLIC &&
                               role == v1::MEMBER_ROLE_MEMBER;
        if (!self_join) RETURN_IF_ERROR(RequireManager(actor, "add other members or set roles"));
        if (role == v1::MEMBER_ROLE_OWNER && actor.role != v1::MEMBER_ROLE_OWNER) {
          return absl::PermissionDeniedError("actor_id: only an owner may add another owner");
        }
        RETURN_IF_ERROR(RequireLiveUserIn(txn, "user_id", user_id, /*lock=*/true));
        // An existing membership stays as it is (idempotent add, no event).
        const bool joined = InsertMemberIn(txn, channel_id, user_id, role);
        ASSIGN_OR_RETURN(v1::ChannelMember out, MemberIn(txn, channel_id, user_id));
        if (joined) AppendMemberEventIn(txn, v1::EVENT_KIND_MEMBER_JOINED, out, actor_id);
        return out;
      });
}

absl::Status MemberStore::RemoveMember(const std::string& channel_id, const std::string& user_id,
                                       const std::string& actor_id, const CallLimits& call) {
  return RunInTransaction(*db_, call, [&](pqxx::transaction_base& txn) -> absl::Status {
    ASSIGN_OR_RETURN(
        ChannelAccess actor,
        ManagedChannelIn(txn, channel_id, actor_id, "direct channels have a fixed set of members"));
    ASSIGN_OR_RETURN(v1::ChannelMember target, MemberIn(txn, channel_id, user_id));
    if (actor_id != user_id) {
      RETURN_IF_ERROR(RequireManager(actor, "remove other members"));
      if (target.role() == v1::MEMBER_ROLE_OWNER && actor.role != v1::MEMBER_ROLE_OWNER) {
        return absl::PermissionDeniedError("actor_id: only an owner may remove an owner");
      }
    }
    if (target.role() == v1::MEMBER_ROLE_OWNER &&
        Exec(txn, kOwnerCount, channel_id)[0][0].as<int>() <= 1) {
      return absl::FailedPreconditionError(
          "the last owner cannot leave; make another member owner first");
    }
    Exec(txn, kMemberDelete, channel_id, user_id);
    AppendMemberEventIn(txn, v1::EVENT_KIND_MEMBER_LEFT, target, actor_id);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::ChannelMember> MemberStore::UpdateMemberRole(const std::string& channel_id,
                                                                const std::string& user_id,
                                                                v1::MemberRole role,
                                                                const std::string& actor_id,
                                                                const CallLimits& call) {
  return RunInTransaction(
      *db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::ChannelMember> {
        ASSIGN_OR_RETURN(
            ChannelAccess actor,
            ManagedChannelIn(txn, channel_id, actor_id, "direct channels have no roles to change"));
        RETURN_IF_ERROR(RequireManager(actor, "change roles"));
        ASSIGN_OR_RETURN(v1::ChannelMember target, MemberIn(txn, channel_id, user_id));
        const bool touches_owner =
            role == v1::MEMBER_ROLE_OWNER || target.role() == v1::MEMBER_ROLE_OWNER;
        if (touches_owner && actor.role != v1::MEMBER_ROLE_OWNER) {
          return absl::PermissionDeniedError(
              "actor_id: only an owner may grant or revoke ownership");
        }
        if (target.role() == v1::MEMBER_ROLE_OWNER && role != v1::MEMBER_ROLE_OWNER &&
            Exec(txn, kOwnerCount, channel_id)[0][0].as<int>() <= 1) {
          return absl::FailedPreconditionError(
              "the last owner cannot be demoted; make another member owner first");
        }
        Exec(txn, kMemberSetRole, channel_id, user_id, RoleToSql(role));
        ASSIGN_OR_RETURN(v1::ChannelMember out, MemberIn(txn, channel_id, user_id));
        if (target.role() != role) {
          AppendMemberEventIn(txn, v1::EVENT_KIND_MEMBER_ROLE_CHANGED, out, actor_id);
        }
        return out;
      });
}

absl::StatusOr<std::vector<v1::ChannelMember>> MemberStore::ListMembers(
    const std::string& channel_id, const std::string& viewer_id, const std::string& after_user_id,
    int limit, const CallLimits& call) {
  return RunReadOnly(
      *db_, call,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<std::vector<v1::ChannelMember>> {
        std::vector<v1::ChannelMember> out;
        ASSIGN_OR_RETURN(ChannelAccess access,
                         AccessIn(txn, channel_id, "viewer_id", viewer_id, AccessLock::kNone));
        RETURN_IF_ERROR(RequireReader(access, "viewer_id"));
        for (const pqxx::row& r : Exec(txn, kMemberList, channel_id, after_user_id, limit)) {
          out.push_back(MemberFromRow(r));
        }
        return out;
      });
}

}  // namespace chatgenius
