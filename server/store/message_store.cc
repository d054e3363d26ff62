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
#include "server/store/row_conversion.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

std::string IsoTimeSql(const std::string& column) {
  return absl::StrCat("to_char(", column,
                      " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
}

// The attachment object in proto JSON form (lowerCamelCase names), so one
// JSON parse fills repeated Attachment fields.
std::string AttachmentJsonSql(const std::string& a) {
  return absl::StrCat(
      "json_build_object('id', ", a, ".id, 'messageId', ", a, ".message_id, ", "'channelId', ", a,
      ".channel_id, 'uploaderId', ", a, ".uploader_id, ", "'name', ", a, ".name, 'contentType', ",
      a, ".content_type, ", "'sizeBytes', ", a, ".size_bytes, 'storageUrl', ", a, ".storage_url, ",
      "'sha256', ", a, ".sha256, 'createTime', ", IsoTimeSql(a + ".created_at"), ")");
}

// The columns of MessageSelect before its `extra_columns`.
constexpr int kMessageColumnCount = 16;

// SELECT ... FROM ... of a render-ready message row (alias m) for the
// viewing user in parameter `viewer`; callers append WHERE/ORDER/LIMIT.
// Reply counts, reactions and attachments come from LATERAL subqueries that
// each use an index on the message id, so a page costs one statement.
// `extras` is '' for a message with neither reactions nor attachments (most
// of them: no JSON to build here or to parse in MessageFromRow); the
// aggregates' lateral is fenced (OFFSET 0) so each runs once per row.
std::string MessageSelect(const std::string& viewer, const std::string& extra_columns = "",
                          const std::string& source = "messages") {
  return absl::StrCat(
      "SELECT m.id, m.channel_id, u.id, u.username, u.display_name, u.avatar_url, u.is_bot, "
      "m.content, coalesce(m.thread_parent_id, ''), coalesce(m.client_msg_id, ''), ",
      MicrosSql("m.created_at"), ", ", MicrosSql("m.edited_at"), ", ", MicrosSql("m.deleted_at"),
      ", rc.n, ", MicrosSql("rc.last_at"), ", x.extras", extra_columns, " FROM ", source,
      " m JOIN users u ON u.id = m.user_id "
      "CROSS JOIN LATERAL (SELECT count(*) AS n, max(r.created_at) AS last_at FROM messages r "
      "  WHERE r.thread_parent_id = m.id AND r.deleted_at IS NULL) rc "
      "CROSS JOIN LATERAL (SELECT "
      "  (SELECT json_agg(json_build_object('emoji', g.emoji, 'count', g.n, "
      "      'viewerReacted', g.mine) ORDER BY g.first, g.emoji) FROM (SELECT emoji, count(*) AS "
      "n, "
      "      bool_or(user_id = ",
      viewer,
      "::text) AS mine, min(created_at) AS first FROM reactions "
      "      WHERE message_id = m.id GROUP BY emoji) g) AS reactions, "
      "  (SELECT json_agg(",
      AttachmentJsonSql("a"),
      " ORDER BY a.id) FROM attachments a WHERE a.message_id = m.id) AS attachments "
      "  OFFSET 0) xa "
      "CROSS JOIN LATERAL (SELECT CASE WHEN xa.reactions IS NULL AND xa.attachments IS NULL "
      "  THEN '' ELSE json_build_object('reactions', coalesce(xa.reactions, '[]'::json), "
      "  'attachments', coalesce(xa.attachments, '[]'::json))::text END AS extras) x ");
}

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
// (messages_thread is partial: the IS NOT NULL lets the planner use it.)
constexpr char kNewerInThread[] =
    "m.thread_parent_id IS NOT NULL AND (m.thread_parent_id, m.id) > ($2::text, $3::text) "
    "AND (m.thread_parent_id, m.id) < ($2::text, '~'::text)";

// PageSelect chooses a page from `messages` alone (filter, order, limit)
// and only then joins authors and the per-message laterals to its rows.
// Written as one flat query, the planner misjudges how many rows the
// keyset range yields (the row comparison defeats its estimates) and on a
// 900k-message channel sorted all of them by author for a merge join
// before applying LIMIT: 3.7 s for the newest 50 (bench/run.sh).
//
// The page also stops at a byte budget (parameter `budget`): rows are kept
// while the content before them stays under it, so the row that crosses
// it is the last one and a page always has at least one. `fetched` (the
// rows before the cut) tells the caller whether the budget cut the page.
std::string PageSelect(const std::string& viewer, const std::string& page_where,
                       const std::string& order, const std::string& limit,
                       const std::string& budget) {
  const std::string size = absl::StrCat("(octet_length(q.content) + ", kRowOverheadBytes, ")");
  return absl::StrCat("WITH page AS (SELECT * FROM (SELECT q.*, sum", size, " OVER (ORDER BY ",
                      absl::StrReplaceAll(order, {{"m.", "q."}}),
                      " ROWS UNBOUNDED PRECEDING) AS running, count(*) OVER () AS fetched FROM "
                      "(SELECT m.* FROM messages m WHERE ",
                      page_where, " ORDER BY ", order, " LIMIT ", limit,
                      ") q) b WHERE b.running - ", absl::StrReplaceAll(size, {{"q.", "b."}}), " < ",
                      budget, ") ", MessageSelect(viewer, ", m.fetched", "page"), "ORDER BY ",
                      order);
}

absl::StatusOr<v1::Message> MessageFromRow(const pqxx::row& r) {
  v1::Message m;
  // Reactions and attachments arrive as proto JSON; parse them first, then
  // fill the scalar fields. Most messages have neither ('': no parser,
  // which cost ~15 us a row).
  const absl::string_view extras(r[15].c_str(), r[15].size());
  if (!extras.empty()) {
    google::protobuf::util::JsonParseOptions options;
    auto parsed = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(extras.data(), extras.size()), &m, options);
    if (!parsed.ok()) {
      return absl::InternalError(absl::StrCat("message extras: ", parsed.ToString()));
    }
  }
  m.set_id(r[0].as<std::string>());
  m.set_channel_id(r[1].as<std::string>());
  v1::UserSummary* author = m.mutable_author();
  author->set_id(r[2].as<std::string>());
  author->set_username(r[3].as<std::string>());
  author->set_display_name(r[4].as<std::string>());
  author->set_avatar_url(r[5].as<std::string>());
  author->set_is_bot(r[6].as<bool>());
  m.set_content(r[7].as<std::string>());
  m.set_thread_parent_id(r[8].as<std::string>());
  m.set_client_msg_id(r[9].as<std::string>());
  SetTimestamp(r[10], m.mutable_create_time());
  if (auto t = OptionalTimestamp(r[11])) *m.mutable_edit_time() = *t;
  if (auto t = OptionalTimestamp(r[12])) *m.mutable_delete_time() = *t;
  m.set_reply_count(r[13].as<int>());
  if (auto t = OptionalTimestamp(r[14])) *m.mutable_last_reply_time() = *t;
  return m;
}

// The rows of a page and whether its byte budget left rows out.
absl::StatusOr<MessagePage> PageFromRows(const pqxx::result& rows) {
  MessagePage page;
  for (const pqxx::row& r : rows) {
    ASSIGN_OR_RETURN(v1::Message m, MessageFromRow(r));
    page.cut_by_budget = r[kMessageColumnCount].as<int64_t>() > static_cast<int64_t>(rows.size());
    page.messages.push_back(std::move(m));
  }
  if (page.cut_by_budget) LimitHits::Count(Limit::kResponseBytes);
  return page;
}

v1::Attachment AttachmentFromRow(const pqxx::row& r) {
  v1::Attachment a;
  a.set_id(r[0].as<std::string>());
  a.set_message_id(r[1].as<std::string>());
  a.set_channel_id(r[2].as<std::string>());
  a.set_uploader_id(r[3].as<std::string>());
  a.set_name(r[4].as<std::string>());
  a.set_content_type(r[5].as<std::string>());
  a.set_size_bytes(r[6].as<int64_t>());
  a.set_storage_url(r[7].as<std::string>());
  a.set_sha256(r[8].as<std::string>());
  SetTimestamp(r[9], a.mutable_create_time());
  return a;
}

const std::string& AttachmentColumns() {
  static const auto* cols = new std::string(absl::StrCat(
      "a.id, a.message_id, a.channel_id, a.uploader_id, a.name, a.content_type, a.size_bytes, "
      "a.storage_url, a.sha256, ",
      MicrosSql("a.created_at")));
  return *cols;
}

// MessageMeta is what permission checks need about one message.
struct MessageMeta {
  std::string channel_id;
  std::string author_id;
  std::string thread_parent_id;
  bool deleted = false;
};

constexpr char kMetaSql[] =
    "SELECT channel_id, user_id, coalesce(thread_parent_id, ''), deleted_at IS NOT NULL "
    "FROM messages WHERE id = $1";
const Statement kMsgMeta("msg_meta", kMetaSql);
const Statement kMsgMetaForUpdate("msg_meta_for_update", absl::StrCat(kMetaSql, " FOR UPDATE"));

absl::StatusOr<MessageMeta> MetaIn(pqxx::transaction_base& txn, const std::string& id,
                                   bool for_update, absl::string_view field = "id") {
  pqxx::result r = Exec(txn, for_update ? kMsgMetaForUpdate : kMsgMeta, id);
  if (r.empty() || r[0][3].as<bool>()) {
    return absl::NotFoundError(absl::StrCat(field, ": message ", id, " not found"));
  }
  return MessageMeta{r[0][0].as<std::string>(), r[0][1].as<std::string>(),
                     r[0][2].as<std::string>(), r[0][3].as<bool>()};
}

const Statement kMsgGet("msg_get", MessageStore::GetSql());

const Statement kMsgListOlder("msg_list_older", MessageStore::ListOlderSql());

const Statement kMsgListNewer("msg_list_newer",
                              PageSelect("$1",
                                         absl::StrCat("m.thread_parent_id IS NULL AND ",
                                                      kNewerInChannel, " AND ", kVisibleExists),
                                         "m.channel_id, m.id", "$4", "$5"));

const Statement kMsgReplies("msg_replies",
                            PageSelect("$1",
                                       absl::StrCat(kNewerInThread, " AND m.deleted_at IS NULL"),
                                       "m.thread_parent_id, m.id", "$4", "$5"));

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

const Statement kAttInsert(
    "att_insert",
    absl::StrCat("INSERT INTO attachments AS a (id, message_id, channel_id, uploader_id, name, "
                 "content_type, size_bytes, storage_url, sha256) "
                 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
                 AttachmentColumns()));

// Live messages' attachments; the statements add which ones.
std::string AttachmentListSql(absl::string_view which) {
  return absl::StrCat(
      "SELECT ", AttachmentColumns(),
      " FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.deleted_at IS NULL ",
      which);
}

const Statement kAttListMessage(
    "att_list_message",
    AttachmentListSql("AND a.message_id = $1 AND a.id > $2::text ORDER BY a.id LIMIT $3"));

const Statement kAttListChannel(
    "att_list_channel",
    AttachmentListSql("AND a.channel_id = $1 AND a.id > $2::text ORDER BY a.id LIMIT $3"));

const Statement kAttMeta(
    "att_meta", "SELECT channel_id, uploader_id, message_id FROM attachments WHERE id = $1");

const Statement kAttDelete("att_delete", "DELETE FROM attachments WHERE id = $1");

// Attachers of one message take turns on its row (FK checks and readers
// pass), then count in a statement of its own: one that waited for the
// lock would count from its snapshot, before the others committed.
const Statement kAttMessageLock("att_message_lock",
                                "SELECT 1 FROM messages WHERE id = $1 FOR NO KEY UPDATE");

const Statement kAttCount("att_count", "SELECT count(*) FROM attachments WHERE message_id = $1");

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

// Appends MESSAGE_UPDATED with message `id` as it is now (its attachments
// changed): a UI showing the message learns of it.
absl::Status AppendMessageUpdatedIn(pqxx::transaction_base& txn, const std::string& id,
                                    const std::string& actor_id) {
  ASSIGN_OR_RETURN(v1::Message now, GetVisibleIn(txn, id, actor_id));
  v1::Event event = NewEvent(v1::EVENT_KIND_MESSAGE_UPDATED, now.channel_id(), actor_id);
  *event.mutable_message() = std::move(now);
  EventStore::AppendIn(txn, event);
  return absl::OkStatus();
}

const ConstraintMessages& MessageConstraintMessages() {
  static const auto* messages = new ConstraintMessages{
      {"messages_client_msg_id_key", "client_msg_id: already used for another message"},
  };
  return *messages;
}

}  // namespace

// SearchSql: full-text search over the channels $1 belongs to, in four
// bounded steps:
//   cand:   the newest $10 (SEARCH_MAX_CANDIDATES) matches — ranking and
//           sorting never see more, however common the word;
//   ranked: ts_rank of those only;
//   top:    the next $9 by (rank, id) after the cursor ($7, $8);
//   page:   cut where content passes $11 bytes (MAX_RESPONSE_BYTES), as in
//           PageSelect, `fetched` telling the caller whether it was cut;
// then the render-ready columns (laterals, headline) for the page's rows.
std::string SearchSql() {
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

const Statement kMsgSearch("msg_search", SearchSql());

namespace {}  // namespace

MessageStore::MessageStore(ConnectionPool* pool, ContentLimits limits)
    : pool_(pool), limits_(limits) {}

std::string MessageStore::GetSql() {
  return absl::StrCat(
      MessageSelect("$1", absl::StrCat(", ", ViewerAccessSql("$1", "m.channel_id"))),
      "WHERE m.id = $2 AND ", kVisible);
}

std::string MessageStore::ListOlderSql() {
  return PageSelect(
      "$1",
      absl::StrCat("m.thread_parent_id IS NULL AND ", kOlderInChannel, " AND ", kVisibleExists),
      "m.channel_id DESC, m.id DESC", "$4", "$5");
}

absl::StatusOr<v1::Message> MessageStore::Post(const NewMessage& message, const CallLimits& call) {
  return RunInTransaction(
      *pool_, call,
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
        if (access.archived) {
          return absl::FailedPreconditionError("channel is archived; it accepts no new messages");
        }
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
  return RunReadOnly(*pool_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::Message> {
    ASSIGN_OR_RETURN(pqxx::row row, VisibleRowIn(txn, id, viewer_id));
    ASSIGN_OR_RETURN(v1::Message out, MessageFromRow(row));
    RETURN_IF_ERROR(RequireReaderOfRow(row, out.channel_id(), viewer_id));
    return out;
  });
}

absl::StatusOr<v1::Message> MessageStore::Edit(const std::string& id, const std::string& actor_id,
                                               const std::string& content, const CallLimits& call) {
  return RunInTransaction(
      *pool_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::Message> {
        ASSIGN_OR_RETURN(MessageMeta meta, MetaIn(txn, id, /*for_update=*/true, "message.id"));
        ASSIGN_OR_RETURN(ChannelAccess access,
                         AccessIn(txn, meta.channel_id, "actor_id", actor_id, AccessLock::kShare));
        RETURN_IF_ERROR(RequireMember(access, "actor_id"));
        if (meta.author_id != actor_id) {
          return absl::PermissionDeniedError("actor_id: only the author may edit a message");
        }
        if (access.archived) return absl::FailedPreconditionError("channel is archived");
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
  return RunInTransaction(*pool_, call, [&](pqxx::transaction_base& txn) -> absl::Status {
    ASSIGN_OR_RETURN(MessageMeta meta, MetaIn(txn, id, /*for_update=*/true));
    ASSIGN_OR_RETURN(ChannelAccess access,
                     AccessIn(txn, meta.channel_id, "actor_id", actor_id, AccessLock::kShare));
    RETURN_IF_ERROR(RequireMember(access, "actor_id"));
    if (meta.author_id != actor_id && !access.is_manager()) {
      return absl::PermissionDeniedError(
          "actor_id: only the author or a channel owner/admin may delete a message");
    }
    if (access.archived) return absl::FailedPreconditionError("channel is archived");
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
  return RunReadOnly(*pool_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<MessagePage> {
    ASSIGN_OR_RETURN(ChannelAccess access,
                     AccessIn(txn, channel_id, "viewer_id", viewer_id, AccessLock::kNone));
    RETURN_IF_ERROR(RequireReader(access, "viewer_id"));
    // "~" sorts after every ULID character, so it starts at the newest.
    const std::string cursor = cursor_id.empty() && !newer ? "~" : cursor_id;
    return PageFromRows(Exec(txn, newer ? kMsgListNewer : kMsgListOlder, viewer_id, channel_id,
                             cursor, limit, limits_.max_response_bytes));
  });
}

absl::StatusOr<MessagePage> MessageStore::ListReplies(const std::string& parent_id,
                                                      const std::string& viewer_id,
                                                      const std::string& after_id, int limit,
                                                      v1::Message* parent, const CallLimits& call) {
  return RunReadOnly(*pool_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<MessagePage> {
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
  return RunReadOnly(*pool_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<SearchPage> {
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

absl::StatusOr<v1::Attachment> MessageStore::AddAttachment(const v1::Attachment& a,
                                                           const CallLimits& call) {
  return RunInTransaction(
      *pool_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::Attachment> {
        ASSIGN_OR_RETURN(MessageMeta meta, MetaIn(txn, a.message_id(), /*for_update=*/false,
                                                  "attachment.message_id"));
        ASSIGN_OR_RETURN(ChannelAccess access,
                         AccessIn(txn, meta.channel_id, "attachment.uploader_id", a.uploader_id(),
                                  AccessLock::kShare));
        RETURN_IF_ERROR(RequireMember(access, "attachment.uploader_id"));
        if (meta.author_id != a.uploader_id()) {
          return absl::PermissionDeniedError(
              "attachment.uploader_id: only the message's author may attach files to it");
        }
        if (access.archived) return absl::FailedPreconditionError("channel is archived");
        Exec(txn, kAttMessageLock, a.message_id());
        if (Exec(txn, kAttCount, a.message_id())[0][0].as<int>() >=
            limits_.max_attachments_per_message) {
          LimitHits::Count(Limit::kAttachmentsPerMessage);
          return absl::FailedPreconditionError(absl::StrCat(
              "attachment.message_id: the message already has ",
              limits_.max_attachments_per_message, " attachments (MAX_ATTACHMENTS_PER_MESSAGE)"));
        }
        pqxx::result r =
            Exec(txn, kAttInsert, NewUlid(), a.message_id(), meta.channel_id, a.uploader_id(),
                 a.name(), a.content_type(), a.size_bytes(), a.storage_url(), a.sha256());
        RETURN_IF_ERROR(AppendMessageUpdatedIn(txn, a.message_id(), a.uploader_id()));
        return AttachmentFromRow(r[0]);
      });
}

absl::StatusOr<std::vector<v1::Attachment>> MessageStore::ListAttachments(
    const std::string& message_id, const std::string& channel_id, const std::string& viewer_id,
    const std::string& after_id, int limit, const CallLimits& call) {
  return RunReadOnly(
      *pool_, call,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<std::vector<v1::Attachment>> {
        std::string channel = channel_id;
        if (!message_id.empty()) {
          ASSIGN_OR_RETURN(MessageMeta meta,
                           MetaIn(txn, message_id, /*for_update=*/false, "message_id"));
          channel = meta.channel_id;
        }
        ASSIGN_OR_RETURN(ChannelAccess access,
                         AccessIn(txn, channel, "viewer_id", viewer_id, AccessLock::kNone));
        RETURN_IF_ERROR(RequireReader(access, "viewer_id"));
        pqxx::result rows = message_id.empty()
                                ? Exec(txn, kAttListChannel, channel_id, after_id, limit)
                                : Exec(txn, kAttListMessage, message_id, after_id, limit);
        std::vector<v1::Attachment> out;
        for (const pqxx::row& r : rows) out.push_back(AttachmentFromRow(r));
        return out;
      });
}

absl::Status MessageStore::DeleteAttachment(const std::string& id, const std::string& actor_id,
                                            const CallLimits& call) {
  return RunInTransaction(*pool_, call, [&](pqxx::transaction_base& txn) -> absl::Status {
    pqxx::result r = Exec(txn, kAttMeta, id);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("attachment ", id, " not found"));
    const std::string channel_id = r[0][0].as<std::string>();
    ASSIGN_OR_RETURN(ChannelAccess access,
                     AccessIn(txn, channel_id, "actor_id", actor_id, AccessLock::kShare));
    RETURN_IF_ERROR(RequireMember(access, "actor_id"));
    if (r[0][1].as<std::string>() != actor_id && !access.is_manager()) {
      return absl::PermissionDeniedError(
          "actor_id: only the uploader or a channel owner/admin may delete an attachment");
    }
    if (access.archived) return absl::FailedPreconditionError("channel is archived");
    Exec(txn, kAttDelete, id);
    return AppendMessageUpdatedIn(txn, r[0][2].as<std::string>(), actor_id);
  });
}

}  // namespace chatgenius
