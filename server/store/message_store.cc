#include "server/store/message_store.h"

#include <google/protobuf/util/json_util.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "server/common/status_macros.h"
#include "server/common/ulid.h"
#include "server/db/statement.h"
#include "server/db/transaction.h"
#include "server/metrics/limit_hits.h"
#include "server/store/channel_access.h"
#include "server/store/event_store.h"
#include "server/store/message_rows.h"
#include "server/store/row_conversion.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

// Listings state the keyset cursor as a row comparison on (channel_id, id)
// (or (thread_parent_id, id)): only the composite index can use it, so the
// planner never walks the primary key filtering out other channels' rows —
// cheap-looking for the busiest channel, ruinous for a quiet one next to it
// and for generic plans, which cannot see which channel is asked for.

// A deleted message stays visible only as the tombstone of a thread with
// live replies.
constexpr char kVisible[] = "(m.deleted_at IS NULL OR (m.thread_parent_id IS NULL AND rc.n > 0))";
// The same rule without the reply-count lateral, for choosing a page. A
// scalar subquery with LIMIT, not EXISTS: PostgreSQL may turn an EXISTS under
// OR into a hashed subplan that reads every live message to build its hash.
constexpr char kVisibleExists[] =
    "(m.deleted_at IS NULL OR (m.thread_parent_id IS NULL AND (SELECT 1 FROM messages r "
    "WHERE r.thread_parent_id = m.id AND r.deleted_at IS NULL LIMIT 1) IS NOT NULL))";

// Keyset ranges, each bounded on both sides by row comparisons only: with
// an equality on the first column as well ("channel_id = $2 AND (channel_id,
// id) < ..."), PostgreSQL starts a backward index scan at the end of the
// channel and filters its way down to the cursor (119 ms at the middle of a
// 900k-message channel, 1.3 ms this way). '' and '~' sort before and after
// every ULID.
constexpr char kOlderInChannel[] =
    "(m.channel_id, m.id) < ($2::text, $3::text) AND (m.channel_id, m.id) > ($2::text, ''::text)";
constexpr char kNewerInChannel[] =
    "(m.channel_id, m.id) > ($2::text, $3::text) AND (m.channel_id, m.id) < ($2::text, '~'::text)";
// A channel page carries its own access check: rows only when the viewer
// ($1) may read channel $2 (uncorrelated, so evaluated once per statement),
// so a page costs one round trip; List explains an empty page with AccessIn.
std::string ReadableChannelSql() {
  return absl::StrCat(ViewerAccessSql("$1", "$2::text"), " = ", kViewerReader);
}
// (messages_thread is partial: the IS NOT NULL lets the planner use it.)
constexpr char kNewerInThread[] =
    "m.thread_parent_id IS NOT NULL AND (m.thread_parent_id, m.id) > ($2::text, $3::text) "
    "AND (m.thread_parent_id, m.id) < ($2::text, '~'::text)";

constexpr char kMetaSql[] =
    "SELECT channel_id, user_id, coalesce(thread_parent_id, ''), deleted_at IS NOT NULL "
    "FROM messages WHERE id = $1";
const Statement kMsgMeta("msg_meta", kMetaSql);
const Statement kMsgMetaForUpdate("msg_meta_for_update", absl::StrCat(kMetaSql, " FOR UPDATE"));

}  // namespace

absl::StatusOr<MessageMeta> MessageStore::MetaIn(pqxx::transaction_base& txn, const std::string& id,
                                                 bool for_update, absl::string_view field) {
  pqxx::result r = Exec(txn, for_update ? kMsgMetaForUpdate : kMsgMeta, id);
  if (r.empty() || r[0][3].as<bool>()) {
    return absl::NotFoundError(absl::StrCat(field, ": message ", id, " not found"));
  }
  return MessageMeta{r[0][0].as<std::string>(), r[0][1].as<std::string>(),
                     r[0][2].as<std::string>(), r[0][3].as<bool>()};
}

namespace {

const Statement kMsgGet("msg_get", MessageStore::GetSql());

const Statement kMsgListOlder("msg_list_older", MessageStore::ListOlderSql());

const Statement kMsgListNewer("msg_list_newer",
                              PageSelect("$1",
                                         absl::StrCat("m.thread_parent_id IS NULL AND ",
                                                      kNewerInChannel, " AND ", kVisibleExists,
                                                      " AND ", ReadableChannelSql()),
                                         "m.channel_id, m.id", "$4", "$5"));

const Statement kMsgReplies("msg_replies", MessageStore::RepliesSql());

const Statement kMsgInsert(
    "msg_insert",
    "INSERT INTO messages (id, channel_id, user_id, content, thread_parent_id, client_msg_id) "
    "VALUES ($1, $2, $3, $4, $5, $6) "
    "ON CONFLICT (user_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING "
    "RETURNING id");

const Statement kMsgByClientId("msg_by_client_id",
                               "SELECT id, channel_id, coalesce(thread_parent_id, ''), content, "
                               "edited_at IS NOT NULL FROM messages WHERE user_id = $1 "
                               "AND client_msg_id = $2");

const Statement kMsgEdit("msg_edit",
                         "UPDATE messages SET content = $2, edited_at = now() WHERE id = $1");

const Statement kMsgDelete("msg_delete",
                           "UPDATE messages SET content = '', deleted_at = now() WHERE id = $1");

// The msg_get row of a visible message (its columns, then whether
// `viewer_id` may read its channel); NOT_FOUND otherwise.
absl::StatusOr<pqxx::row> VisibleRowIn(pqxx::transaction_base& txn, const std::string& id,
                                       const std::string& viewer_id) {
  pqxx::result r = Exec(txn, kMsgGet, viewer_id, id);
  if (r.empty()) return absl::NotFoundError(absl::StrCat("message ", id, " not found"));
  return r[0];
}

// The viewer's access as msg_get reports it in `row` (ViewerAccessSql).
absl::Status RequireReaderOfRow(const pqxx::row& row, const std::string& channel_id,
                                const std::string& viewer_id) {
  return RequireReaderCode(row[kMessageColumnCount], channel_id, "viewer_id", viewer_id);
}

absl::StatusOr<v1::Message> GetVisibleIn(pqxx::transaction_base& txn, const std::string& id,
                                         const std::string& viewer_id) {
  ASSIGN_OR_RETURN(pqxx::row row, VisibleRowIn(txn, id, viewer_id));
  return MessageFromRow(row);
}

const ConstraintMessages& MessageConstraintMessages() {
  static const auto* messages = new ConstraintMessages{
      {"messages_client_msg_id_key", "client_msg_id: already used for another message"},
  };
  return *messages;
}

// SearchStatementSql: full-text search over the channels $1 belongs to, in four
// bounded steps:
//   cand:   the newest $10 (SEARCH_MAX_CANDIDATES) matches — ranking and
//           sorting never see more, however common the word;
//   ranked: ts_rank of those only;
//   top:    the next $9 by (rank, id) after the cursor ($7, $8);
//   page:   cut where content passes $11 bytes (MAX_RESPONSE_BYTES), as in
//           PageSelect, `fetched` telling the caller whether it was cut;
// then the render-ready columns (laterals, headline) for the page's rows.
std::string SearchStatementSql() {
  const std::string size = absl::StrCat("(octet_length(mm.content) + ", kRowOverheadBytes, ")");
  // The query inline (not a CTE): a custom plan folds it to a constant and
  // estimates its selectivity, choosing the GIN index for rare words and a
  // newest-first walk for common ones.
  const std::string query = "websearch_to_tsquery('english', $2)";
  return absl::StrCat(
      "WITH cand AS (SELECT m.id, m.search_vector FROM messages m "
      "  WHERE m.search_vector @@ ",
      query,
      " AND m.deleted_at IS NULL "
      "  AND m.channel_id = ANY (ARRAY(SELECT cm.channel_id::text FROM channel_members cm "
      "    JOIN channels c ON c.id = cm.channel_id WHERE cm.user_id = $1 "
      "    AND c.deleted_at IS NULL AND ",
      LiveUserSql("$1"),
      ")) "
      "  AND (cardinality($3::text[]) = 0 OR m.channel_id = ANY($3::text[])) "
      "  AND ($4::text = '' OR m.user_id = $4::text) "
      "  AND ($5::bigint IS NULL OR m.created_at >= to_timestamp($5::bigint / 1000000.0)) "
      "  AND ($6::bigint IS NULL OR m.created_at < to_timestamp($6::bigint / 1000000.0)) "
      "  ORDER BY m.id DESC LIMIT $10), "
      "ranked AS (SELECT c.id, ts_rank(c.search_vector, ",
      query,
      ") AS rank FROM cand c), "
      "top AS (SELECT r.id, r.rank FROM ranked r "
      "  WHERE $7::real IS NULL OR (r.rank, r.id) < ($7::real, $8::text) "
      "  ORDER BY r.rank DESC, r.id DESC LIMIT $9), "
      "page AS (SELECT * FROM (SELECT mm.*, t.rank, sum",
      size,
      " OVER (ORDER BY t.rank DESC, mm.id DESC ROWS UNBOUNDED PRECEDING) AS running, "
      "  count(*) OVER () AS fetched FROM top t JOIN messages mm ON mm.id = t.id) b "
      "  WHERE b.running - ",
      absl::StrReplaceAll(size, {{"mm.", "b."}}), " < $11) ",
      MessageSelect("$1",
                    absl::StrCat(", ts_headline('english', m.content, ", query,
                                 ", 'StartSel=<b>, StopSel=</b>, MaxWords=35, MinWords=15, "
                                 "MaxFragments=2'), m.rank::text, m.fetched"),
                    "page"),
      "ORDER BY m.rank DESC, m.id DESC");
}

const Statement kMsgSearch("msg_search", SearchStatementSql());

}  // namespace

absl::Status MessageStore::AppendUpdatedIn(pqxx::transaction_base& txn, const std::string& id,
                                           const std::string& actor_id) {
  ASSIGN_OR_RETURN(v1::Message now, GetVisibleIn(txn, id, actor_id));
  v1::Event event = NewEvent(v1::EVENT_KIND_MESSAGE_UPDATED, now.channel_id(), actor_id);
  *event.mutable_message() = std::move(now);
  EventStore::AppendIn(txn, event);
  return absl::OkStatus();
}

MessageStore::MessageStore(Database* db, ContentLimits limits) : db_(db), limits_(limits) {}

std::string MessageStore::GetSql() {
  return absl::StrCat(
      MessageSelect("$1", absl::StrCat(", ", ViewerAccessSql("$1", "m.channel_id"))),
      "WHERE m.id = $2 AND ", kVisible);
}

std::string MessageStore::ListOlderSql() {
  return PageSelect("$1",
                    absl::StrCat("m.thread_parent_id IS NULL AND ", kOlderInChannel, " AND ",
                                 kVisibleExists, " AND ", ReadableChannelSql()),
                    "m.channel_id DESC, m.id DESC", "$4", "$5");
}

std::string MessageStore::RepliesSql() {
  return PageSelect("$1", absl::StrCat(kNewerInThread, " AND m.deleted_at IS NULL"),
                    "m.thread_parent_id, m.id", "$4", "$5");
}

std::string MessageStore::SearchSql() { return SearchStatementSql(); }

absl::StatusOr<v1::Message> MessageStore::Post(const NewMessage& message, const CallLimits& call) {
  return RunInTransaction(
      *db_, call,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::Message> {
        const std::string& author = message.author_id;
        const std::optional<std::string> client_id =
            message.client_msg_id.empty() ? std::nullopt
                                          : std::optional<std::string>(message.client_msg_id);
        // A retry returns what the first attempt stored.
        auto existing = [&]() -> absl::StatusOr<std::optional<v1::Message>> {
          if (!client_id) return std::optional<v1::Message>();
          pqxx::result r = Exec(txn, kMsgByClientId, author, *client_id);
          if (r.empty()) return std::optional<v1::Message>();
          // A retry repeats every field; anything else reusing the id is
          // another message (its content may have been edited since).
          const bool same = r[0][1].as<std::string>() == message.channel_id &&
                            r[0][2].as<std::string>() == message.thread_parent_id &&
                            (r[0][4].as<bool>() || r[0][3].as<std::string>() == message.content);
          if (!same) {
            return absl::AlreadyExistsError(
                "client_msg_id: already used by this author for a different message");
          }
          ASSIGN_OR_RETURN(v1::Message m, GetVisibleIn(txn, r[0][0].as<std::string>(), author));
          return std::optional<v1::Message>(std::move(m));
        };
        ASSIGN_OR_RETURN(std::optional<v1::Message> before, existing());
        if (before) return std::move(*before);

        ASSIGN_OR_RETURN(ChannelAccess access, AccessIn(txn, message.channel_id, "author_id",
                                                        author, AccessLock::kShare));
        RETURN_IF_ERROR(RequireMember(access, "author_id"));
        RETURN_IF_ERROR(RequireNotArchived(access));
        std::optional<std::string> parent;
        if (!message.thread_parent_id.empty()) {
          ASSIGN_OR_RETURN(MessageMeta p, MetaIn(txn, message.thread_parent_id,
                                                 /*for_update=*/false, "thread_parent_id"));
          if (p.channel_id != message.channel_id) {
            return absl::InvalidArgumentError("thread_parent_id: the parent is in another channel");
          }
          if (!p.thread_parent_id.empty()) {
            return absl::InvalidArgumentError(
                "thread_parent_id: replies go to the top-level message, not to a reply");
          }
          parent = message.thread_parent_id;
        }
        pqxx::result inserted = Exec(txn, kMsgInsert, NewUlid(), message.channel_id, author,
                                     message.content, parent, client_id);
        if (inserted.empty()) {
          // A concurrent retry with the same client_msg_id committed first.
          ASSIGN_OR_RETURN(std::optional<v1::Message> winner, existing());
          if (!winner) return absl::AbortedError("concurrent post with this client_msg_id; retry");
          return std::move(*winner);
        }
        ASSIGN_OR_RETURN(v1::Message out,
                         GetVisibleIn(txn, inserted[0][0].as<std::string>(), author));
        v1::Event event = NewEvent(v1::EVENT_KIND_MESSAGE_CREATED, out.channel_id(), author);
        *event.mutable_message() = out;
        EventStore::AppendIn(txn, event);
        return out;
      },
      &MessageConstraintMessages());
}

absl::StatusOr<v1::Message> MessageStore::Get(const std::string& id, const std::string& viewer_id,
                                              const CallLimits& call) {
  return RunReadOnly(*db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::Message> {
    ASSIGN_OR_RETURN(pqxx::row row, VisibleRowIn(txn, id, viewer_id));
    ASSIGN_OR_RETURN(v1::Message out, MessageFromRow(row));
    RETURN_IF_ERROR(RequireReaderOfRow(row, out.channel_id(), viewer_id));
    return out;
  });
}

absl::StatusOr<v1::Message> MessageStore::Edit(const std::string& id, const std::string& actor_id,
                                               const std::string& content, const CallLimits& call) {
  return RunInTransaction(
      *db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::Message> {
        ASSIGN_OR_RETURN(MessageMeta meta, MetaIn(txn, id, /*for_update=*/true, "message.id"));
        ASSIGN_OR_RETURN(ChannelAccess access,
                         AccessIn(txn, meta.channel_id, "actor_id", actor_id, AccessLock::kShare));
        RETURN_IF_ERROR(RequireMember(access, "actor_id"));
        if (meta.author_id != actor_id) {
          return absl::PermissionDeniedError("actor_id: only the author may edit a message");
        }
        RETURN_IF_ERROR(RequireNotArchived(access));
        Exec(txn, kMsgEdit, id, content);
        ASSIGN_OR_RETURN(v1::Message out, GetVisibleIn(txn, id, actor_id));
        v1::Event event = NewEvent(v1::EVENT_KIND_MESSAGE_UPDATED, out.channel_id(), actor_id);
        *event.mutable_message() = out;
        EventStore::AppendIn(txn, event);
        return out;
      });
}

absl::Status MessageStore::Delete(const std::string& id, const std::string& actor_id,
                                  const CallLimits& call) {
  return RunInTransaction(*db_, call, [&](pqxx::transaction_base& txn) -> absl::Status {
    ASSIGN_OR_RETURN(MessageMeta meta, MetaIn(txn, id, /*for_update=*/true));
    ASSIGN_OR_RETURN(ChannelAccess access,
                     AccessIn(txn, meta.channel_id, "actor_id", actor_id, AccessLock::kShare));
    RETURN_IF_ERROR(RequireMember(access, "actor_id"));
    if (meta.author_id != actor_id && !access.is_manager()) {
      return absl::PermissionDeniedError(
          "actor_id: only the author or a channel owner/admin may delete a message");
    }
    RETURN_IF_ERROR(RequireNotArchived(access));
    Exec(txn, kMsgDelete, id);
    v1::Event event = NewEvent(v1::EVENT_KIND_MESSAGE_DELETED, meta.channel_id, actor_id);
    v1::Message* gone = event.mutable_message();
    gone->set_id(id);
    gone->set_channel_id(meta.channel_id);
    gone->set_thread_parent_id(meta.thread_parent_id);
    gone->mutable_delete_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    EventStore::AppendIn(txn, event);
    return absl::OkStatus();
  });
}

absl::StatusOr<MessagePage> MessageStore::List(const std::string& channel_id,
                                               const std::string& viewer_id,
                                               const std::string& cursor_id, bool newer, int limit,
                                               const CallLimits& call) {
  return RunReadOnly(*db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<MessagePage> {
    // "~" sorts after every ULID character, so it starts at the newest.
    const std::string cursor = cursor_id.empty() && !newer ? "~" : cursor_id;
    pqxx::result rows = Exec(txn, newer ? kMsgListNewer : kMsgListOlder, viewer_id, channel_id,
                             cursor, limit, limits_.max_response_bytes);
    // Rows mean the viewer may read the channel (ReadableChannelSql); none
    // may mean it may not, or that the channel or viewer is gone: ask.
    if (rows.empty()) {
      ASSIGN_OR_RETURN(ChannelAccess access,
                       AccessIn(txn, channel_id, "viewer_id", viewer_id, AccessLock::kNone));
      RETURN_IF_ERROR(RequireReader(access, "viewer_id"));
    }
    return PageFromRows(rows);
  });
}

absl::StatusOr<MessagePage> MessageStore::ListReplies(const std::string& parent_id,
                                                      const std::string& viewer_id,
                                                      const std::string& after_id, int limit,
                                                      v1::Message* parent, const CallLimits& call) {
  return RunReadOnly(*db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<MessagePage> {
    ASSIGN_OR_RETURN(pqxx::row row, VisibleRowIn(txn, parent_id, viewer_id));
    ASSIGN_OR_RETURN(*parent, MessageFromRow(row));
    if (!parent->thread_parent_id().empty()) {
      return absl::InvalidArgumentError("thread_parent_id: is a reply, not a thread parent");
    }
    RETURN_IF_ERROR(RequireReaderOfRow(row, parent->channel_id(), viewer_id));
    return PageFromRows(
        Exec(txn, kMsgReplies, viewer_id, parent_id, after_id, limit, limits_.max_response_bytes));
  });
}

absl::StatusOr<SearchPage> MessageStore::Search(const SearchQuery& q, const CallLimits& call) {
  return RunReadOnly(*db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<SearchPage> {
    SearchPage out;
    // Channel ids are validated ULIDs, so the array literal needs no quoting.
    const std::string channels = absl::StrCat("{", absl::StrJoin(q.channel_ids, ","), "}");
    std::optional<std::string> after_rank = q.after_rank;
    int64_t fetched = 0;
    for (const pqxx::row& r : Exec(txn, kMsgSearch, q.user_id, q.text, channels, q.author_id,
                                   q.start_micros, q.end_micros, after_rank, q.after_id, q.limit,
                                   limits_.search_max_candidates, limits_.max_response_bytes)) {
      SearchResult result;
      ASSIGN_OR_RETURN(*result.hit.mutable_message(), MessageFromRow(r));
      result.hit.set_snippet(r[kMessageColumnCount].as<std::string>());
      result.rank_text = r[kMessageColumnCount + 1].as<std::string>();
      result.hit.set_rank(r[kMessageColumnCount + 1].as<float>());
      fetched = r[kMessageColumnCount + 2].as<int64_t>();
      out.hits.push_back(std::move(result));
    }
    out.cut_by_budget = fetched > static_cast<int64_t>(out.hits.size());
    if (out.cut_by_budget) LimitHits::Count(Limit::kResponseBytes);
    // The statement finds nothing for a deleted user; only then ask why.
    if (out.hits.empty()) RETURN_IF_ERROR(RequireLiveUserIn(txn, "user_id", q.user_id));
    return out;
  });
}

}  // namespace chatgenius
