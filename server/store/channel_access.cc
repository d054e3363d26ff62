#include "server/store/channel_access.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/substitute.h"
#include "server/db/statement.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

// One row when both the channel and the user exist (the user possibly
// deleted): the channel's type and state, the user's role if a member.
// For reads, in one statement.
constexpr char kAccessSql[] =
    "SELECT c.type, c.archived_at IS NOT NULL, m.role, u.deleted_at IS NULL "
    "FROM channels c CROSS JOIN users u "
    "LEFT JOIN channel_members m ON m.channel_id = c.id AND m.user_id = u.id "
    "WHERE c.id = $1 AND c.deleted_at IS NULL AND u.id = $2::text";
// Writes lock first and read the membership after, in a statement of its
// own: a locking statement that waited returns the locked rows' latest
// versions but everything else from its snapshot, taken before the wait,
// so a membership removed by the transaction it waited for would still
// look present.
constexpr char kLockSql[] =
    "SELECT c.type, c.archived_at IS NOT NULL, u.deleted_at IS NULL "
    "FROM channels c CROSS JOIN users u "
    "WHERE c.id = $1 AND c.deleted_at IS NULL AND u.id = $2::text ";

absl::Status NotMember(absl::string_view field) {
  return absl::PermissionDeniedError(absl::StrCat(field, ": not a member of this channel"));
}

const Statement kChannelAccess("channel_access", kAccessSql);

const Statement kChannelLockForShare("channel_lock_for_share",
                                     absl::StrCat(kLockSql, "FOR SHARE OF c, u"));

const Statement kChannelLockForUpdate("channel_lock_for_update",
                                      absl::StrCat(kLockSql, "FOR UPDATE OF c FOR SHARE OF u"));

const Statement kChannelMemberRole(
    "channel_member_role",
    "SELECT role FROM channel_members WHERE channel_id = $1 AND user_id = $2");

const Statement kChannelLive("channel_live",
                             "SELECT 1 FROM channels WHERE id = $1 AND deleted_at IS NULL");

const Statement kUserLive("user_live", "SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL");

const Statement kUserLiveForShare(
    "user_live_for_share", "SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL FOR SHARE");

const Statement kChannelStreamAccess(
    "channel_stream_access",
    "SELECT c.id, c.type, EXISTS (SELECT 1 FROM channel_members cm "
    "WHERE cm.channel_id = c.id AND cm.user_id = $1::text) "
    "FROM channels c WHERE c.id = ANY($2::text[]) AND c.deleted_at IS NULL");

}  // namespace

absl::Status ChannelNotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("channel ", id, " not found"));
}

absl::Status UserNotFound(absl::string_view field, absl::string_view id) {
  return absl::NotFoundError(absl::StrCat(field, ": user ", id, " not found"));
}

absl::StatusOr<ChannelAccess> AccessIn(pqxx::transaction_base& txn, const std::string& channel_id,
                                       absl::string_view user_field, const std::string& user_id,
                                       AccessLock lock) {
  const bool locking = lock != AccessLock::kNone;
  const Statement& check = !locking                     ? kChannelAccess
                           : lock == AccessLock::kShare ? kChannelLockForShare
                                                        : kChannelLockForUpdate;
  pqxx::result r = Exec(txn, check, channel_id, user_id);
  if (r.empty()) {
    // Only on this error path: which of the two is missing.
    if (Exec(txn, kChannelLive, channel_id).empty()) return ChannelNotFound(channel_id);
    return UserNotFound(user_field, user_id);
  }
  if (!r[0][locking ? 2 : 3].as<bool>()) return UserNotFound(user_field, user_id);
  ChannelAccess access;
  access.type = ChannelTypeFromSql(r[0][0].as<std::string>());
  access.archived = r[0][1].as<bool>();
  if (locking) {
    pqxx::result role = Exec(txn, kChannelMemberRole, channel_id, user_id);
    if (!role.empty()) access.role = RoleFromSql(role[0][0].as<std::string>());
  } else if (!r[0][2].is_null()) {
    access.role = RoleFromSql(r[0][2].as<std::string>());
  }
  return access;
}

absl::Status RequireLiveUserIn(pqxx::transaction_base& txn, absl::string_view field,
                               const std::string& user_id, bool lock) {
  if (Exec(txn, lock ? kUserLiveForShare : kUserLive, user_id).empty()) {
    return UserNotFound(field, user_id);
  }
  return absl::OkStatus();
}

absl::Status RequireReader(const ChannelAccess& access, absl::string_view field) {
  return access.can_read() ? absl::OkStatus() : NotMember(field);
}

absl::Status RequireMember(const ChannelAccess& access, absl::string_view field) {
  return access.is_member() ? absl::OkStatus() : NotMember(field);
}

absl::Status RequireManager(const ChannelAccess& access, absl::string_view what) {
  if (access.is_manager()) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("actor_id: only a channel owner or admin may ", what));
}

absl::Status RequireNotArchived(const ChannelAccess& access) {
  if (!access.archived) return absl::OkStatus();
  return absl::FailedPreconditionError("channel is archived; unarchive it first");
}

std::string LiveUserSql(absl::string_view user) {
  return absl::Substitute("EXISTS (SELECT 1 FROM users v WHERE v.id = $0 AND v.deleted_at IS NULL)",
                          user);
}

std::string ViewerAccessSql(absl::string_view viewer, absl::string_view channel_id_expr) {
  return absl::Substitute(
      "(SELECT CASE WHEN NOT $5 THEN $2 "
      "WHEN c.type = 'public' OR EXISTS (SELECT 1 FROM channel_members cm "
      "WHERE cm.channel_id = c.id AND cm.user_id = $0::text) THEN $4 ELSE $3 END "
      "FROM channels c WHERE c.id = $1 AND c.deleted_at IS NULL)",
      viewer, channel_id_expr, kViewerNotLive, kViewerDenied, kViewerReader, LiveUserSql(viewer));
}

absl::Status RequireReaderCode(const pqxx::field& code, absl::string_view channel_id,
                               absl::string_view viewer_field, absl::string_view viewer_id) {
  if (code.is_null()) return ChannelNotFound(channel_id);
  switch (code.as<int>()) {
    case kViewerReader:
      return absl::OkStatus();
    case kViewerNotLive:
      return UserNotFound(viewer_field, viewer_id);
    default:
      return NotMember(viewer_field);
  }
}

absl::StatusOr<StreamAccess> StreamAccessIn(pqxx::transaction_base& txn,
                                            const std::string& viewer_id,
                                            const std::vector<std::string>& channel_ids) {
  if (absl::Status s = RequireLiveUserIn(txn, "viewer_id", viewer_id); !s.ok()) return s;
  // Channel ids are validated ULIDs, so the array literal needs no quoting.
  const std::string ids = absl::StrCat("{", absl::StrJoin(channel_ids, ","), "}");
  StreamAccess access;
  std::set<std::string> denied;
  for (const pqxx::row& r : Exec(txn, kChannelStreamAccess, viewer_id, ids)) {
    const std::string id = r[0].as<std::string>();
    if (ChannelTypeFromSql(r[1].as<std::string>()) == v1::CHANNEL_TYPE_PUBLIC) {
      access.public_channels.insert(id);
    } else if (r[2].as<bool>()) {
      access.member_channels.insert(id);
    } else {
      denied.insert(id);
    }
  }
  for (size_t i = 0; i < channel_ids.size(); ++i) {
    const std::string& id = channel_ids[i];
    if (denied.count(id)) {
      return absl::PermissionDeniedError(
          absl::StrCat("channel_ids[", i, "]: viewer_id is not a member of channel ", id));
    }
    if (!access.public_channels.count(id) && !access.member_channels.count(id)) {
      return absl::NotFoundError(absl::StrCat("channel_ids[", i, "]: channel ", id, " not found"));
    }
  }
  return access;
}

v1::ChannelType ChannelTypeFromSql(const std::string& type) {
  if (type == "private") return v1::CHANNEL_TYPE_PRIVATE;
  if (type == "dm") return v1::CHANNEL_TYPE_DIRECT;
  return v1::CHANNEL_TYPE_PUBLIC;
}

v1::MemberRole RoleFromSql(const std::string& role) {
  if (role == "owner") return v1::MEMBER_ROLE_OWNER;
  if (role == "admin") return v1::MEMBER_ROLE_ADMIN;
  return v1::MEMBER_ROLE_MEMBER;
}

}  // namespace chatgenius
