// channel_store.h
//
// ChannelStore: all SQL about channels, memberships, direct channels and
// read markers. Permission and state rules live here too, checked inside the
// same transaction as the write they guard (a channel row is locked while
// its membership changes, so "the last owner cannot leave" holds under
// concurrency):
// - owners and admins manage a channel (update, archive, members); only
//   owners delete it, and only owners grant or revoke the owner role;
// - an archived channel refuses updates and membership changes
//   (FAILED_PRECONDITION); a deleted one is NOT_FOUND;
// - anyone may join a public channel themselves; private channels are
//   joined by invitation from an owner or admin; direct channels have fixed
//   membership.
#ifndef CHATGENIUS_SERVER_STORE_CHANNEL_STORE_H_
#define CHATGENIUS_SERVER_STORE_CHANNEL_STORE_H_

#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chatgenius/db/v1/channel_service.pb.h"
#include "server/db/call_limits.h"
#include "server/db/connection_pool.h"

namespace chatgenius {

// ChannelAccess is what a user may do in a channel, read in a transaction.
struct ChannelAccess {
  db::v1::ChannelType type = db::v1::CHANNEL_TYPE_UNSPECIFIED;
  bool archived = false;
  // Unset when the user is not a member.
  std::optional<db::v1::MemberRole> role;

  bool is_member() const { return role.has_value(); }
  bool is_manager() const {
    return role == db::v1::MEMBER_ROLE_OWNER || role == db::v1::MEMBER_ROLE_ADMIN;
  }
  // can_read: members always; anyone for public channels.
  bool can_read() const { return is_member() || type == db::v1::CHANNEL_TYPE_PUBLIC; }
};

// AccessLock says how AccessIn locks the channel row.
enum class AccessLock {
  // No lock: for reads. A concurrent writer holding the row does not block
  // them, and they write nothing (no transaction id, no tuple header).
  kNone,
  // FOR SHARE: a write that must not see the channel archived, deleted or
  // re-roled before it commits (posting, reacting, marking read).
  kShare,
  // FOR UPDATE: a write that changes the channel or its membership.
  kUpdate,
};

// ChannelNotFound is the NOT_FOUND status for an absent or deleted channel.
absl::Status ChannelNotFound(const std::string& id);

// RequireReader is PERMISSION_DENIED ("viewer_id: not a member of this
// channel") unless `can_read` (ChannelAccess::can_read, or the same rule
// computed in SQL), else OK.
absl::Status RequireReader(bool can_read);

// ChannelUpdate selects the fields Update writes.
struct ChannelUpdate {
  std::optional<std::string> name;
  std::optional<std::string> description;
};

class ChannelStore {
 public:
  // Registers the statements on `pool`, which must outlive the store.
  explicit ChannelStore(ConnectionPool* pool);

  // AccessIn reads `user_id`'s access to a live channel inside `txn`,
  // locking the channel row as `lock` says (kShare/kUpdate: its state
  // cannot change before the transaction ends). NOT_FOUND if the channel is
  // absent or deleted. For other stores' transactions too.
  [[nodiscard]] static absl::StatusOr<ChannelAccess> AccessIn(pqxx::transaction_base& txn,
                                                              const std::string& channel_id,
                                                              const std::string& user_id,
                                                              AccessLock lock);

  // RequireLiveUserIn returns NOT_FOUND naming `field` unless the user
  // exists and is not deleted.
  [[nodiscard]] static absl::Status RequireLiveUserIn(pqxx::transaction_base& txn,
                                                      const std::string& field,
                                                      const std::string& user_id);

  [[nodiscard]] absl::StatusOr<db::v1::Channel> Create(const db::v1::Channel& channel,
                                                       const std::string& creator_id,
                                                       const CallLimits& call);
  [[nodiscard]] absl::StatusOr<db::v1::Channel> Get(const std::string& id, const CallLimits& call);
  [[nodiscard]] absl::StatusOr<db::v1::Channel> Update(const std::string& id,
                                                       const std::string& actor_id,
                                                       const ChannelUpdate& update,
                                                       const CallLimits& call);
  // SetArchived archives or unarchives; repeating the current state is a
  // no-op that returns the channel.
  [[nodiscard]] absl::StatusOr<db::v1::Channel> SetArchived(const std::string& id,
                                                            const std::string& actor_id,
                                                            bool archived, const CallLimits& call);
  [[nodiscard]] absl::Status Delete(const std::string& id, const std::string& actor_id,
                                    const CallLimits& call);

  // ListForMember returns the live channels `user_id` belongs to with id >
  // `after_id`, ordered by id, with role and unread count.
  [[nodiscard]] absl::StatusOr<std::vector<db::v1::ChannelListEntry>> ListForMember(
      const std::string& user_id, bool include_archived, const std::string& after_id, int limit,
      const CallLimits& call);
  // ListPublic returns public channels after (`after_name`, `after_id`),
  // ordered by name then id.
  [[nodiscard]] absl::StatusOr<std::vector<db::v1::ChannelListEntry>> ListPublic(
      bool include_archived, const std::string& after_name, const std::string& after_id, int limit,
      const CallLimits& call);

  [[nodiscard]] absl::StatusOr<db::v1::ChannelMember> AddMember(const std::string& channel_id,
                                                                const std::string& user_id,
                                                                db::v1::MemberRole role,
                                                                const std::string& actor_id,
                                                                const CallLimits& call);
  [[nodiscard]] absl::Status RemoveMember(const std::string& channel_id, const std::string& user_id,
                                          const std::string& actor_id, const CallLimits& call);
  [[nodiscard]] absl::StatusOr<db::v1::ChannelMember> UpdateMemberRole(
      const std::string& channel_id, const std::string& user_id, db::v1::MemberRole role,
      const std::string& actor_id, const CallLimits& call);
  // ListMembers returns members with user id > `after_user_id`.
  [[nodiscard]] absl::StatusOr<std::vector<db::v1::ChannelMember>> ListMembers(
      const std::string& channel_id, const std::string& after_user_id, int limit,
      const CallLimits& call);

  // GetOrCreateDirect returns the direct channel of exactly `user_ids`
  // (2..9 distinct, sorted), creating it and its memberships on first use.
  [[nodiscard]] absl::StatusOr<db::v1::Channel> GetOrCreateDirect(
      const std::vector<std::string>& user_ids, const CallLimits& call);

  // MarkRead moves the member's marker forward to `message_id` (never back).
  [[nodiscard]] absl::StatusOr<db::v1::ReadState> MarkRead(const std::string& channel_id,
                                                           const std::string& user_id,
                                                           const std::string& message_id,
                                                           const CallLimits& call);
  [[nodiscard]] absl::StatusOr<db::v1::ReadState> GetReadState(const std::string& channel_id,
                                                               const std::string& user_id,
                                                               const CallLimits& call);

 private:
  ConnectionPool* const pool_;
};

// RoleToSql and RoleFromSql convert member roles ("owner", "admin",
// "member").
const char* RoleToSql(db::v1::MemberRole role);
db::v1::MemberRole RoleFromSql(const std::string& role);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_STORE_CHANNEL_STORE_H_
