// reaction_store.h
//
// ReactionStore: all SQL about emoji reactions. A user reacts at most once
// per emoji per message (the primary key); adding again is a no-op. Only
// members of the message's channel react, and not in archived channels.
#ifndef CHATGENIUS_SERVER_STORE_REACTION_STORE_H_
#define CHATGENIUS_SERVER_STORE_REACTION_STORE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chatgenius/db/v1/reaction_service.pb.h"
#include "server/db/call_limits.h"
#include "server/db/database.h"
#include "server/store/content_limits.h"

namespace chatgenius {

class ReactionStore {
 public:
  // `db` must outlive the store; its autocommit reads may run on a read
  // replica (server/db/database.h). Its statements (Statement constants in
  // the .cc) are prepared on each connection when first run there.
  explicit ReactionStore(Database* db, ContentLimits limits = {});

  // Add records the user's reaction (a repeat is a no-op). A message holds
  // at most limits.max_emoji_per_message distinct emoji and
  // limits.max_reactions_per_user_per_message per user.
  [[nodiscard]] absl::StatusOr<db::v1::Reaction> Add(const std::string& message_id,
                                                     const std::string& user_id,
                                                     const std::string& emoji,
                                                     const CallLimits& call);
  // Remove deletes the user's reaction; NOT_FOUND if there was none.
  [[nodiscard]] absl::Status Remove(const std::string& message_id, const std::string& user_id,
                                    const std::string& emoji, const CallLimits& call);
  // List groups a visible message's reactions by emoji (first reacted
  // first), users in reaction order.
  [[nodiscard]] absl::StatusOr<std::vector<db::v1::ReactionGroup>> List(
      const std::string& message_id, const std::string& viewer_id, const CallLimits& call);

 private:
  Database* const db_;
  const ContentLimits limits_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_STORE_REACTION_STORE_H_
