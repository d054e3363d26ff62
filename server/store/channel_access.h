// channel_access.h
//
// The one access rule for channel content. Every store that reads or
// changes a channel's messages, members, reactions, attachments or read
// state checks it through this unit, inside the transaction that reads or
// writes:
// - the acting user (viewer_id, actor_id, author_id, user_id...) is required
//   and must exist and not be deleted: NOT_FOUND naming the field otherwise
//   (a deleted user can neither read nor act);
// - a deleted channel is NOT_FOUND;
// - public channels are readable by every live user; private and direct
//   channels by their members only. Anyone else gets PERMISSION_DENIED:
//   a channel id's existence is not secret (ids are unguessable ULIDs), its
//   name, members and content are;
// - every change needs membership; which members may do what (roles,
//   authorship) is each store's rule on top.
// Writes lock the channel row and the acting user's row FOR SHARE (or the
// channel FOR UPDATE) and only then read the membership, so a concurrent
// archive, delete, removal or user deletion either commits first and is
// seen, or waits for the write.
#ifndef CHATGENIUS_SERVER_STORE_CHANNEL_ACCESS_H_
#define CHATGENIUS_SERVER_STORE_CHANNEL_ACCESS_H_

#include <optional>
#include <set>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chatgenius/db/v1/channel_service.pb.h"

namespace chatgenius {

// ChannelAccess is what a live user may do in a live channel.
struct ChannelAccess {
  db::v1::ChannelType type = db::v1::CHANNEL_TYPE_UNSPECIFIED;
  bool archived = false;
  // Unset when the user is not a member.
  std::optional<db::v1::MemberRole> role;

  bool is_member() const { return role.has_value(); }
  bool is_manager() const {
    return role == db::v1::MEMBER_ROLE_OWNER || role == db::v1::MEMBER_ROLE_ADMIN;
  }
  // can_read: members always; any live user for public channels.
  bool can_read() const { return is_member() || type == db::v1::CHANNEL_TYPE_PUBLIC; }
};

// AccessLock says how AccessIn locks the rows it reads.
enum class AccessLock {
  // No lock: for reads. A concurrent writer holding the rows does not block
  // them, and they write nothing (no transaction id, no tuple header).
  kNone,
  // FOR SHARE of the channel and the user: a write that must not see the
  // channel archived, deleted or re-roled, or its user deleted, before it
  // commits (posting, reacting, marking read).
  kShare,
  // FOR UPDATE of the channel (FOR SHARE of the user): a write that changes
  // the channel or its membership.
  kUpdate,
};

// ChannelNotFound is the NOT_FOUND status for an absent or deleted channel.
absl::Status ChannelNotFound(absl::string_view id);

// UserNotFound is the NOT_FOUND status for an absent or deleted user named
// by `field`: "field: user ID not found".
absl::Status UserNotFound(absl::string_view field, absl::string_view id);

// AccessIn reads `user_id`'s access to a live channel inside `txn`, locking
// as `lock` says. NOT_FOUND if the channel is absent or deleted, or if the
// user (the request's `user_field`) is absent or deleted.
[[nodiscard]] absl::StatusOr<ChannelAccess> AccessIn(pqxx::transaction_base& txn,
                                                     const std::string& channel_id,
                                                     absl::string_view user_field,
                                                     const std::string& user_id, AccessLock lock);

// RequireLiveUserIn returns NOT_FOUND naming `field` unless the user exists
// and is not deleted; with `lock` the user's row is share-locked until the
// transaction ends (a concurrent DeleteUser waits).
[[nodiscard]] absl::Status RequireLiveUserIn(pqxx::transaction_base& txn, absl::string_view field,
                                             const std::string& user_id, bool lock = false);

// RequireReader is PERMISSION_DENIED ("FIELD: not a member of this
// channel") unless the user may read the channel.
[[nodiscard]] absl::Status RequireReader(const ChannelAccess& access, absl::string_view field);

// RequireMember is PERMISSION_DENIED ("FIELD: not a member of this
// channel") unless the user is a member: every change needs membership.
[[nodiscard]] absl::Status RequireMember(const ChannelAccess& access, absl::string_view field);

// RequireManager is PERMISSION_DENIED ("actor_id: only a channel owner or
// admin may WHAT") unless the actor is an owner or admin.
[[nodiscard]] absl::Status RequireManager(const ChannelAccess& access, absl::string_view what);

// RequireNotArchived is FAILED_PRECONDITION ("channel is archived; unarchive
// it first") for an archived channel: it takes no changes to its content or
// membership (the one wording for every write).
[[nodiscard]] absl::Status RequireNotArchived(const ChannelAccess& access);

// LiveUserSql is the SQL condition "the user in parameter `user` (e.g. "$1")
// exists and is not deleted", for statements that apply the rule in SQL.
std::string LiveUserSql(absl::string_view user);

// ViewerAccessSql is a scalar SQL expression with the access of the viewer
// in parameter `viewer` (e.g. "$1") to the channel `channel_id_expr` (e.g.
// "m.channel_id"), for statements that read content and its access check
// in one round trip: NULL when the channel is absent or deleted, else one
// of the kViewer* codes. No row lock. RequireReaderCode interprets it.
std::string ViewerAccessSql(absl::string_view viewer, absl::string_view channel_id_expr);
inline constexpr int kViewerNotLive = 0;  // the viewer is absent or deleted
inline constexpr int kViewerDenied = 1;   // a live viewer who may not read it
inline constexpr int kViewerReader = 2;   // may read

// RequireReaderCode turns a ViewerAccessSql value into a status: NOT_FOUND
// for a deleted channel or viewer, PERMISSION_DENIED, or OK.
[[nodiscard]] absl::Status RequireReaderCode(const pqxx::field& code, absl::string_view channel_id,
                                             absl::string_view viewer_field,
                                             absl::string_view viewer_id);

// StreamAccess is what a channel-filtered event stream may deliver to its
// viewer: the requested channels that are public, and the private and
// direct ones the viewer belongs to now.
struct StreamAccess {
  std::set<std::string> public_channels;
  std::set<std::string> member_channels;
};

// StreamAccessIn checks that `viewer_id` (field "viewer_id") may read every
// channel of `channel_ids` (fields "channel_ids[i]") now: NOT_FOUND for a
// deleted viewer or channel, PERMISSION_DENIED for a private or direct
// channel the viewer does not belong to.
[[nodiscard]] absl::StatusOr<StreamAccess> StreamAccessIn(
    pqxx::transaction_base& txn, const std::string& viewer_id,
    const std::vector<std::string>& channel_ids);

// ChannelTypeFromSql converts the channels.type column ("public",
// "private", "dm").
db::v1::ChannelType ChannelTypeFromSql(const std::string& type);

// RoleFromSql converts member roles ("owner", "admin", "member").
db::v1::MemberRole RoleFromSql(const std::string& role);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_STORE_CHANNEL_ACCESS_H_
