#include "server/store/event_store.h"

#include <google/protobuf/util/json_util.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/substitute.h"
#include "server/common/status_macros.h"
#include "server/db/transaction.h"
#include "server/store/row_conversion.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

// Advisory lock key that orders event insertion: "cgdb" + 2.
constexpr int64_t kEventOrderLockKey = 0x6367646200000002;

// ReadSql: up to $2 events after $1, ending with the one whose payload
// takes the batch to $3 bytes or past it (the first always comes, however
// large), so a reader never holds more than its budget plus one event;
// in_batch counts the rows before that cut.
const std::string& ReadSql() {
  static const auto* sql = new std::string(absl::StrCat(
      "SELECT id, channel, user_id, channels, body, created, in_batch FROM ("
      "  SELECT *, sum(octet_length(body)) OVER (ORDER BY id) AS through, "
      "         count(*) OVER () AS in_batch FROM ("
      "    SELECT id, coalesce(channel_id, '') AS channel, coalesce(user_id, '') AS user_id, "
      "           coalesce(array_to_string(channel_ids, ','), '') AS channels, "
      "           payload::text AS body, ",
      MicrosSql("created_at"),
      " AS created FROM events WHERE id > $1 ORDER BY id LIMIT $2) batch) sized "
      "WHERE through - octet_length(body) < $3 ORDER BY id"));
  return *sql;
}

}  // namespace

void EventStore::RegisterStatementsOn(ConnectionPool* pool) {
  pool->RegisterStatement("event_order_lock",
                          absl::StrCat("SELECT pg_advisory_xact_lock(", kEventOrderLockKey, ")"));
  const std::string notify =
      absl::StrCat("SELECT (SELECT id FROM e), pg_notify('", kEventNotifyChannel, "', '')");
  pool->RegisterStatement(
      "event_append",
      absl::StrCat("WITH e AS (INSERT INTO events (kind, channel_id, user_id, payload) "
                   "VALUES ($1, $2, $3, $4::jsonb) RETURNING id) ",
                   notify));
  pool->RegisterStatement(
      "event_append_status",
      absl::StrCat("WITH e AS (INSERT INTO events (kind, user_id, channel_ids, payload) "
                   "SELECT $1::smallint, $2::text, coalesce(array_agg(m.channel_id::text), '{}'), "
                   "$3::jsonb FROM channel_members m JOIN channels c ON c.id = m.channel_id "
                   "WHERE m.user_id = $2::text AND c.deleted_at IS NULL RETURNING id) ",
                   notify));
  pool->RegisterStatement("event_read", ReadSql());
}

void EventStore::PrepareReaderOn(pqxx::connection_base& conn) {
  conn.prepare("event_read", ReadSql());
}

EventStore::EventStore(ConnectionPool* pool) : pool_(pool) {
  RegisterStatementsOn(pool_);
  RegisterChannelAccessStatements(pool_);
  // max(id) is a committed id with every smaller one settled (ids are handed
  // out in commit order); when retention emptied the log, the pruned id.
  pool_->RegisterStatement("event_bounds",
                           "SELECT r.pruned_through, "
                           "greatest((SELECT max(id) FROM events), r.pruned_through) "
                           "FROM event_retention r");
  pool_->RegisterStatement(
      "event_prune",
      "WITH d AS (DELETE FROM events WHERE created_at < now() - make_interval(secs => $1) "
      "RETURNING id) "
      "UPDATE event_retention SET pruned_through = greatest(pruned_through, "
      "(SELECT coalesce(max(id), 0) FROM d)) RETURNING (SELECT count(*) FROM d)");
  pool_->RegisterStatement("event_user_channels",
                           "SELECT m.channel_id FROM channel_members m JOIN channels c "
                           "ON c.id = m.channel_id WHERE m.user_id = $1 AND c.deleted_at IS NULL");
  // Membership as of event $2: today's, undone by the user's own joins and
  // leaves after it (the first one per channel decides: a join means "not
  // a member then", a leave "a member then"). Channels deleted since stay
  // in: their events up to CHANNEL_DELETED are replayed.
  pool_->RegisterStatement(
      "event_user_channels_as_of",
      absl::Substitute(R"sql(
        WITH own AS (
          SELECT DISTINCT ON (channel_id) channel_id, kind FROM events
          WHERE user_id = $$1 AND id > $$2 AND kind IN ($0, $1)
          ORDER BY channel_id, id)
        SELECT m.channel_id FROM channel_members m
        WHERE m.user_id = $$1
          AND NOT EXISTS (SELECT 1 FROM own o WHERE o.channel_id = m.channel_id AND o.kind = $0)
        UNION
        SELECT channel_id FROM own WHERE kind = $1)sql",
                       v1::EVENT_KIND_MEMBER_JOINED, v1::EVENT_KIND_MEMBER_LEFT));
}

void EventStore::AppendIn(pqxx::transaction_base& txn, const v1::Event& event,
                          const std::string& user_id) {
  // Held until commit: the next writer's events get higher ids and commit
  // after this transaction does.
  txn.exec_prepared("event_order_lock");
  v1::Event stored = event;
  stored.clear_id();
  stored.clear_create_time();
  std::string payload;
  google::protobuf::util::JsonPrintOptions options;
  (void)google::protobuf::util::MessageToJsonString(stored, &payload, options);
  if (event.kind() == v1::EVENT_KIND_USER_STATUS_CHANGED) {
    txn.exec_prepared("event_append_status", static_cast<int>(event.kind()), user_id, payload);
    return;
  }
  std::optional<std::string> channel;
  if (!event.channel_id().empty()) channel = event.channel_id();
  std::optional<std::string> user;
  if (!user_id.empty()) user = user_id;
  txn.exec_prepared("event_append", static_cast<int>(event.kind()), channel, user, payload);
}

absl::StatusOr<std::vector<StoredEvent>> EventStore::ReadIn(pqxx::transaction_base& txn,
                                                            int64_t after, int limit,
                                                            int64_t max_bytes, bool* cut) {
  std::vector<StoredEvent> out;
  int64_t in_batch = 0;
  for (const pqxx::row& r : txn.exec_prepared("event_read", after, limit, max_bytes)) {
    in_batch = r[6].as<int64_t>();
    StoredEvent e;
    auto parsed = google::protobuf::util::JsonStringToMessage(r[4].as<std::string>(), &e.event);
    if (!parsed.ok()) {
      return absl::InternalError(
          absl::StrCat("event ", r[0].as<int64_t>(), ": ", parsed.ToString()));
    }
    e.event.set_id(r[0].as<int64_t>());
    SetTimestamp(r[5], e.event.mutable_create_time());
    e.user_id = r[2].as<std::string>();
    std::string channel = r[1].as<std::string>();
    if (!channel.empty()) {
      e.channels.push_back(channel);
    } else {
      std::string list = r[3].as<std::string>();
      if (!list.empty()) e.channels = absl::StrSplit(list, ',');
    }
    e.bytes = e.event.ByteSizeLong();
    out.push_back(std::move(e));
  }
  if (cut != nullptr) *cut = in_batch > static_cast<int64_t>(out.size());
  return out;
}

absl::StatusOr<std::vector<StoredEvent>> EventStore::Read(int64_t after, int limit,
                                                          int64_t max_bytes,
                                                          const CallLimits& call) {
  std::vector<StoredEvent> out;
  RETURN_IF_ERROR(RunReadOnly(*pool_, call, [&](pqxx::transaction_base& txn) -> absl::Status {
    ASSIGN_OR_RETURN(out, ReadIn(txn, after, limit, max_bytes));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<EventLogBounds> EventStore::Bounds(const CallLimits& call) {
  EventLogBounds bounds;
  RETURN_IF_ERROR(RunReadOnly(*pool_, call, [&](pqxx::transaction_base& txn) {
    const pqxx::row r = txn.exec_prepared1("event_bounds");
    bounds.pruned_through = r[0].as<int64_t>();
    bounds.latest = r[1].as<int64_t>();
    return absl::OkStatus();
  }));
  return bounds;
}

absl::StatusOr<int64_t> EventStore::Prune(absl::Duration retention, const CallLimits& call) {
  int64_t deleted = 0;
  RETURN_IF_ERROR(RunInTransaction(*pool_, call, [&](pqxx::transaction_base& txn) {
    deleted =
        txn.exec_prepared("event_prune", absl::ToDoubleSeconds(retention))[0][0].as<int64_t>();
    return absl::OkStatus();
  }));
  return deleted;
}

absl::StatusOr<std::vector<std::string>> EventStore::ChannelsOf(absl::string_view user_field,
                                                                const std::string& user_id,
                                                                int64_t as_of_event,
                                                                const CallLimits& call) {
  std::vector<std::string> out;
  RETURN_IF_ERROR(RunReadOnly(*pool_, call, [&](pqxx::transaction_base& txn) -> absl::Status {
    RETURN_IF_ERROR(RequireLiveUserIn(txn, user_field, user_id));
    const pqxx::result rows =
        as_of_event == 0 ? txn.exec_prepared("event_user_channels", user_id)
                         : txn.exec_prepared("event_user_channels_as_of", user_id, as_of_event);
    for (const pqxx::row& r : rows) {
      out.push_back(r[0].as<std::string>());
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<StreamAccess> EventStore::StreamAccessOf(const std::string& viewer_id,
                                                        const std::vector<std::string>& channel_ids,
                                                        const CallLimits& call) {
  StreamAccess out;
  RETURN_IF_ERROR(RunReadOnly(*pool_, call, [&](pqxx::transaction_base& txn) -> absl::Status {
    ASSIGN_OR_RETURN(out, StreamAccessIn(txn, viewer_id, channel_ids));
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace chatgenius
