// member_store.h
//
// MemberStore: all SQL about channel memberships (who is in a channel, with
// which role). Rules, in the change's own transaction, with the channel
// locked FOR UPDATE (so concurrent changes serialise per channel):
// - direct channels have a fixed set of members and no roles to change;
//   archived channels take no membership changes;
// - anyone live may join a public channel as a member; adding others or
//   setting roles needs an owner or admin; only an owner adds, removes,
//   grants or revokes an owner; a channel always keeps one owner;
// - a member may leave; adding an existing member changes nothing.
// Every change appends MEMBER_JOINED / MEMBER_LEFT / MEMBER_ROLE_CHANGED.
// ChannelStore uses the *In functions for the memberships it creates with a
// channel.
#ifndef CHATGENIUS_SERVER_STORE_MEMBER_STORE_H_
#define CHATGENIUS_SERVER_STORE_MEMBER_STORE_H_

#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "chatgenius/db/v1/channel_service.pb.h"
#include "chatgenius/db/v1/event_service.pb.h"
#include "server/db/call_limits.h"
#include "server/db/database.h"

namespace chatgenius {

// RoleToSql converts member roles to the column's text ("owner", "admin",
// "member"); RoleFromSql (channel_access.h) reads them back.
const char* RoleToSql(db::v1::MemberRole role);

class MemberStore {
 public:
  // `db` must outlive the store; its autocommit reads may run on a read
  // replica (server/db/database.h).
  explicit MemberStore(Database* db);

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
  // ListMembers returns the live members with user id > `after_user_id`
  // of a channel `viewer_id` may read.
  [[nodiscard]] absl::StatusOr<std::vector<db::v1::ChannelMember>> ListMembers(
      const std::string& channel_id, const std::string& viewer_id, const std::string& after_user_id,
      int limit, const CallLimits& call);

  // Inside a caller's transaction. MemberIn reads one membership with its
  // user (NOT_FOUND if there is none); InsertMemberIn adds one unless it
  // exists and says whether it did; AppendMemberEventIn appends `kind`
  // about `member` (its user is the event's user, for routing).
  static absl::StatusOr<db::v1::ChannelMember> MemberIn(pqxx::transaction_base& txn,
                                                        const std::string& channel_id,
                                                        const std::string& user_id);
  static bool InsertMemberIn(pqxx::transaction_base& txn, const std::string& channel_id,
                             const std::string& user_id, db::v1::MemberRole role);
  static void AppendMemberEventIn(pqxx::transaction_base& txn, db::v1::EventKind kind,
                                  const db::v1::ChannelMember& member, const std::string& actor_id);

 private:
  Database* const db_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_STORE_MEMBER_STORE_H_
