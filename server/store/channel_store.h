// channel_store.h
//
// ChannelStore: all SQL about channels, direct channels and read markers
// (memberships and roles: MemberStore, which this store uses for the
// memberships it creates with a channel). Rules, checked inside the
// transaction of the write they guard:
// - owners and admins update and archive a channel; only owners delete it;
// - an archived channel refuses updates (FAILED_PRECONDITION); a deleted
//   one is NOT_FOUND;
// - a channel's creator is its first owner; a direct channel's members are
//   fixed at creation;
// - who may read or act at all is channel_access.h's rule (live users;
//   members of private and direct channels); deleted users are not counted
//   as members.
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
#include "server/db/database.h"
#include "server/store/channel_access.h"

namespace chatgenius {

// Unread counts (ListChannels, GetReadState, MarkRead) stop at this many:
// a client shows "1000+". Counting on would make one listing read a whole
// channel for a member who never marked it read.
inline constexpr int kUnreadCountCap = 1000;

// ChannelUpdate selects the fields Update writes.
struct ChannelUpdate {
  std::optional<std::string> name;
  std::optional<std::string> description;
};

class ChannelStore {
 public:
  // `db` must outlive the store; its autocommit reads may run on a read
  // replica (server/db/database.h). Its statements (Statement constants in
  // the .cc) are prepared on each connection when first run there.
  explicit ChannelStore(Database* db);

  // The SQL of ListForMember's statement (user, include archived, after
  // channel id or "", limit), for benchmarks that run it directly.
  static std::string ListForMemberSql();

  [[nodiscard]] absl::StatusOr<db::v1::Channel> Create(const db::v1::Channel& channel,
                                                       const std::string& creator_id,
                                                       const CallLimits& call);
  // Get returns a live channel `viewer_id` may read.
  [[nodiscard]] absl::StatusOr<db::v1::Channel> Get(const std::string& id,
                                                    const std::string& viewer_id,
                                                    const CallLimits& call);
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
  // ordered by name then id, for the live user `viewer_id`.
  [[nodiscard]] absl::StatusOr<std::vector<db::v1::ChannelListEntry>> ListPublic(
      const std::string& viewer_id, bool include_archived, const std::string& after_name,
      const std::string& after_id, int limit, const CallLimits& call);

  // GetOrCreateDirect returns the direct channel of exactly `user_ids`
  // (2..9 distinct, sorted), creating it and its memberships on first use.
  // `actor_id`, one of them, must be live; creating needs every user live.
  [[nodiscard]] absl::StatusOr<db::v1::Channel> GetOrCreateDirect(
      const std::vector<std::string>& user_ids, const std::string& actor_id,
      const CallLimits& call);

  // MarkRead moves the member's marker forward to `message_id` (never back).
  [[nodiscard]] absl::StatusOr<db::v1::ReadState> MarkRead(const std::string& channel_id,
                                                           const std::string& user_id,
                                                           const std::string& message_id,
                                                           const CallLimits& call);
  [[nodiscard]] absl::StatusOr<db::v1::ReadState> GetReadState(const std::string& channel_id,
                                                               const std::string& user_id,
                                                               const CallLimits& call);

 private:
  Database* const db_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_STORE_CHANNEL_STORE_H_
