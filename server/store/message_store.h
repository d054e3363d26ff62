// message_store.h
//
// MessageStore: all SQL about messages, threads and search (attachments:
// AttachmentStore; how a message row is selected and read: message_rows.h).
// Every read returns render-ready messages — author summary, reply count,
// last reply time, reactions summary for the viewing user, attachments —
// from one query per page (no N+1). Rules checked in the write's own
// transaction:
// - only members post; nobody posts to an archived channel;
// - a reply's parent is a live top-level message of the same channel;
// - a retried post with the same (author, client_msg_id) returns the first
//   message instead of storing a second;
// - only the author edits; the author or a channel owner/admin deletes; a
//   deleted parent that still has replies remains as a tombstone (empty
//   content, delete_time set), other deleted messages disappear;
// - private and direct channels are readable by members only.
#ifndef CHATGENIUS_SERVER_STORE_MESSAGE_STORE_H_
#define CHATGENIUS_SERVER_STORE_MESSAGE_STORE_H_

#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "chatgenius/db/v1/message_service.pb.h"
#include "server/db/call_limits.h"
#include "server/db/database.h"
#include "server/store/content_limits.h"
#include "server/store/message_rows.h"

namespace chatgenius {

// SearchQuery is a validated SearchMessages request.
struct SearchQuery {
  std::string user_id;
  std::string text;
  std::vector<std::string> channel_ids;
  std::string author_id;
  std::optional<int64_t> start_micros;  // inclusive
  std::optional<int64_t> end_micros;    // exclusive
  // Keyset cursor: the last hit's rank (as text, exact) and id.
  std::optional<std::string> after_rank;
  std::string after_id;
  int limit = 0;
};

// SearchResult is one hit plus its cursor.
struct SearchResult {
  db::v1::SearchHit hit;
  std::string rank_text;  // exact float4 text, for the page token
};

// SearchPage: the hits, and whether the byte budget
// (ContentLimits::max_response_bytes) ended them before the row limit.
struct SearchPage {
  std::vector<SearchResult> hits;
  bool cut_by_budget = false;
};

// MessageMeta is what permission checks need about one message.
struct MessageMeta {
  std::string channel_id;
  std::string author_id;
  std::string thread_parent_id;
  bool deleted = false;
};

// NewMessage: what Post stores (the service validated it).
struct NewMessage {
  std::string channel_id;
  std::string author_id;
  std::string content;
  std::string thread_parent_id;  // empty: a top-level message
  std::string client_msg_id;     // empty: no idempotency key
};

class MessageStore {
 public:
  // `db` must outlive the store; its autocommit reads may run on a read
  // replica (server/db/database.h). Its statements (Statement constants in
  // the .cc) are prepared on each connection when first run there.
  explicit MessageStore(Database* db, ContentLimits limits = {});

  // The SQL of the read statements, for benchmarks that compare the service
  // with the same statements run directly: GetSql takes (viewer, id),
  // ListOlderSql (viewer, channel, cursor id or "~", limit, byte budget),
  // RepliesSql (viewer, parent, after id or "", limit, byte budget; the
  // store first runs GetSql on the parent), SearchSql (user, query,
  // channel ids, author or "", start and end micros or NULL, after rank or
  // NULL, after id or "", limit, candidates, byte budget).
  static std::string GetSql();
  static std::string ListOlderSql();
  static std::string RepliesSql();
  static std::string SearchSql();

  // Post stores a message (see the file comment for the rules).
  [[nodiscard]] absl::StatusOr<db::v1::Message> Post(const NewMessage& message,
                                                     const CallLimits& call);
  // Get returns a visible message; `viewer_id` (optional) must be able to
  // read the channel and is whose reactions viewer_reacted reflects.
  [[nodiscard]] absl::StatusOr<db::v1::Message> Get(const std::string& id,
                                                    const std::string& viewer_id,
                                                    const CallLimits& call);
  // Edit replaces the content (author only) and sets edit_time.
  [[nodiscard]] absl::StatusOr<db::v1::Message> Edit(const std::string& id,
                                                     const std::string& actor_id,
                                                     const std::string& content,
                                                     const CallLimits& call);
  [[nodiscard]] absl::Status Delete(const std::string& id, const std::string& actor_id,
                                    const CallLimits& call);

  // List returns a channel's visible top-level messages: older than
  // `cursor_id` newest first (`newer` false; empty cursor = from the newest),
  // or newer than `cursor_id` oldest first (`newer` true); at most `limit`,
  // fewer when the byte budget ends the page. One statement, which also
  // checks that the viewer may read the channel; only an empty page costs
  // a second (AccessIn, to tell an empty channel from a refusal).
  [[nodiscard]] absl::StatusOr<MessagePage> List(const std::string& channel_id,
                                                 const std::string& viewer_id,
                                                 const std::string& cursor_id, bool newer,
                                                 int limit, const CallLimits& call);
  // ListReplies returns the live replies of `parent_id` after `after_id`,
  // oldest first; `parent` receives the parent (possibly a tombstone).
  [[nodiscard]] absl::StatusOr<MessagePage> ListReplies(const std::string& parent_id,
                                                        const std::string& viewer_id,
                                                        const std::string& after_id, int limit,
                                                        db::v1::Message* parent,
                                                        const CallLimits& call);

  // Search runs a websearch-syntax full-text query over the channels the
  // user belongs to, best rank first — among the newest
  // limits.search_max_candidates matches, so the ranking work is bounded
  // however common the words; the page stops at max_response_bytes.
  [[nodiscard]] absl::StatusOr<SearchPage> Search(const SearchQuery& query, const CallLimits& call);

  // For stores that change what a message renders (AttachmentStore), inside
  // their transaction. MetaIn reads a live message's meta (NOT_FOUND naming
  // `field` if it is absent or deleted), FOR UPDATE with `for_update`;
  // AppendUpdatedIn appends MESSAGE_UPDATED with the message as it is now,
  // rendered for `actor_id`, so a UI showing it learns of the change.
  static absl::StatusOr<MessageMeta> MetaIn(pqxx::transaction_base& txn, const std::string& id,
                                            bool for_update, absl::string_view field = "id");
  static absl::Status AppendUpdatedIn(pqxx::transaction_base& txn, const std::string& id,
                                      const std::string& actor_id);

 private:
  Database* const db_;
  const ContentLimits limits_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_STORE_MESSAGE_STORE_H_
