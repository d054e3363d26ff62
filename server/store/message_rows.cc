#include "server/store/message_rows.h"

#include <google/protobuf/util/time_util.h>
#include <jansson.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "server/common/status_macros.h"
#include "server/metrics/limit_hits.h"
#include "server/store/content_limits.h"
#include "server/store/row_conversion.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

// The attachment object of a row's `extras` (ExtrasInto reads it back).
std::string AttachmentJsonSql(const std::string& a) {
  return absl::StrCat("json_build_object('id', ", a, ".id, 'messageId', ", a, ".message_id, ",
                      "'channelId', ", a, ".channel_id, 'uploaderId', ", a, ".uploader_id, ",
                      "'name', ", a, ".name, 'contentType', ", a, ".content_type, ",
                      "'sizeBytes', ", a, ".size_bytes, 'storageUrl', ", a, ".storage_url, ",
                      "'sha256', coalesce(", a, ".sha256, ''), 'createMicros', ",
                      MicrosSql(a + ".created_at"), ")");
}

struct JsonFree {
  void operator()(json_t* j) const { json_decref(j); }
};

// Field readers for ExtrasInto: false when `key` is missing or of another type.
bool GetString(const json_t* object, const char* key, std::string* out) {
  const json_t* v = json_object_get(object, key);
  if (!json_is_string(v)) return false;
  out->assign(json_string_value(v), json_string_length(v));
  return true;
}

bool GetInt(const json_t* object, const char* key, int64_t* out) {
  const json_t* v = json_object_get(object, key);
  if (!json_is_integer(v)) return false;
  *out = json_integer_value(v);
  return true;
}

bool ReactionFrom(const json_t* j, v1::ReactionCount* r) {
  int64_t count = 0;
  const json_t* mine = json_object_get(j, "viewerReacted");
  if (!GetString(j, "emoji", r->mutable_emoji()) || !GetInt(j, "count", &count) ||
      !json_is_boolean(mine)) {
    return false;
  }
  r->set_count(static_cast<int32_t>(count));
  r->set_viewer_reacted(json_is_true(mine));
  return true;
}

bool AttachmentFrom(const json_t* j, v1::Attachment* a) {
  int64_t size = 0, micros = 0;
  if (!GetString(j, "id", a->mutable_id()) || !GetString(j, "messageId", a->mutable_message_id()) ||
      !GetString(j, "channelId", a->mutable_channel_id()) ||
      !GetString(j, "uploaderId", a->mutable_uploader_id()) ||
      !GetString(j, "name", a->mutable_name()) ||
      !GetString(j, "contentType", a->mutable_content_type()) || !GetInt(j, "sizeBytes", &size) ||
      !GetString(j, "storageUrl", a->mutable_storage_url()) ||
      !GetString(j, "sha256", a->mutable_sha256()) || !GetInt(j, "createMicros", &micros)) {
    return false;
  }
  a->set_size_bytes(size);
  *a->mutable_create_time() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(micros);
  return true;
}

// ExtrasInto fills m's reactions and attachments from a row's `extras`
// ({"reactions": [...], "attachments": [...]}, built by MessageSelect).
// jansson, not protobuf's JSON parser: that one cost ~15 us a message with
// reactions, a fifth of the server's CPU for a page of 50 (bench/run.sh).
absl::Status ExtrasInto(absl::string_view extras, v1::Message* m) {
  json_error_t error;
  std::unique_ptr<json_t, JsonFree> root(json_loadb(extras.data(), extras.size(), 0, &error));
  if (root == nullptr) return absl::InternalError(absl::StrCat("message extras: ", error.text));
  const json_t* reactions = json_object_get(root.get(), "reactions");
  const json_t* attachments = json_object_get(root.get(), "attachments");
  if (!json_is_array(reactions) || !json_is_array(attachments)) {
    return absl::InternalError("message extras: reactions and attachments must be arrays");
  }
  for (size_t i = 0; i < json_array_size(reactions); ++i) {
    if (!ReactionFrom(json_array_get(reactions, i), m->add_reactions())) {
      return absl::InternalError("message extras: a malformed reaction");
    }
  }
  for (size_t i = 0; i < json_array_size(attachments); ++i) {
    if (!AttachmentFrom(json_array_get(attachments, i), m->add_attachments())) {
      return absl::InternalError("message extras: a malformed attachment");
    }
  }
  return absl::OkStatus();
}

// SELECT ... FROM ... of a render-ready message row (alias m) for the
// viewing user in parameter `viewer`; callers append WHERE/ORDER/LIMIT.
// Reply counts, reactions and attachments come from LATERAL subqueries that
// each use an index on the message id, so a page costs one statement.
// `extras` is '' for a message with neither reactions nor attachments (most
// of them: no JSON to build here or to parse in MessageFromRow); the
// aggregates' lateral is fenced (OFFSET 0) so each runs once per row.
}  // namespace

std::string MessageSelect(const std::string& viewer, const std::string& extra_columns,
                          const std::string& source) {
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

namespace {

// Columns reads a row left to right through one iterator. r[i] would build
// a pqxx::field each time, copying the result's two shared pointers (four
// atomic operations), for 17 columns of up to 50 rows a page; the iterator
// is a field itself and moving it only counts.
class Columns {
 public:
  explicit Columns(const pqxx::row& r) : it_(r.begin()) {}
  const pqxx::field& Peek() const { return it_; }
  std::string* Text(std::string* out) {
    out->assign(it_->c_str(), it_->size());
    ++it_;
    return out;
  }
  template <typename T>
  T As() {
    T v = it_->as<T>();
    ++it_;
    return v;
  }
  void Skip() { ++it_; }

 private:
  pqxx::row::const_iterator it_;
};

}  // namespace

absl::StatusOr<v1::Message> MessageFromRow(const pqxx::row& r) {
  v1::Message m;
  // Most messages have neither reactions nor attachments: '' (no parse).
  const absl::string_view extras(r[15].c_str(), r[15].size());
  if (!extras.empty()) RETURN_IF_ERROR(ExtrasInto(extras, &m));
  Columns c(r);
  c.Text(m.mutable_id());
  c.Text(m.mutable_channel_id());
  v1::UserSummary* author = m.mutable_author();
  c.Text(author->mutable_id());
  c.Text(author->mutable_username());
  c.Text(author->mutable_display_name());
  c.Text(author->mutable_avatar_url());
  author->set_is_bot(c.As<bool>());
  c.Text(m.mutable_content());
  c.Text(m.mutable_thread_parent_id());
  c.Text(m.mutable_client_msg_id());
  SetTimestamp(c.Peek(), m.mutable_create_time());
  c.Skip();
  if (!c.Peek().is_null()) SetTimestamp(c.Peek(), m.mutable_edit_time());
  c.Skip();
  if (!c.Peek().is_null()) SetTimestamp(c.Peek(), m.mutable_delete_time());
  c.Skip();
  m.set_reply_count(c.As<int>());
  if (!c.Peek().is_null()) SetTimestamp(c.Peek(), m.mutable_last_reply_time());
  return m;
}

absl::StatusOr<MessagePage> PageFromRows(const pqxx::result& rows) {
  MessagePage page;
  page.messages.reserve(rows.size());
  for (const pqxx::row& r : rows) {
    ASSIGN_OR_RETURN(v1::Message m, MessageFromRow(r));
    page.messages.push_back(std::move(m));
  }
  // Every row carries the count fetched before the byte budget cut.
  if (!rows.empty()) {
    page.cut_by_budget =
        rows[0][kMessageColumnCount].as<int64_t>() > static_cast<int64_t>(rows.size());
  }
  if (page.cut_by_budget) LimitHits::Count(Limit::kResponseBytes);
  return page;
}

}  // namespace chatgenius
