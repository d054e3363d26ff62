#include "server/store/event_store.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <functional>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/substitute.h"
#include "absl/synchronization/mutex.h"
#include "server/common/status_macros.h"
#include "server/db/statement.h"
#include "server/db/transaction.h"
#include "server/store/row_conversion.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

// Session advisory lock key of the sequencer leader: "cgdb" + 3. (Key 2
// was the per-write ordering lock before V0004; nothing takes it now.)
constexpr int64_t kSequencerLockKey = 0x6367646200000003;

// ReadSql: up to $2 events after $1 (the positions first, then each event
// by its key: an index walk even as a generic plan, whatever the log's
// size), ending with the one whose payload
// takes the batch to $3 bytes or past it (the first always comes, however
// large), so a reader never holds more than its budget plus one event;
// in_batch counts the rows before that cut.
const std::string& ReadSql() {
  static const auto* sql = new std::string(absl::StrCat(
      "SELECT seq, channel, user_id, channels, body, created, in_batch, is_proto FROM ("
      "  SELECT *, sum(octet_length(body)) OVER (ORDER BY seq) AS through, "
      "         count(*) OVER () AS in_batch FROM ("
      "    SELECT p.seq, coalesce(e.channel_id, '') AS channel, "
      "           coalesce(e.user_id, '') AS user_id, "
      "           coalesce(array_to_string(e.channel_ids, ','), '') AS channels, "
      // Binary protobuf; rows from before V0005 carry JSON.
      "           coalesce(e.payload_proto, convert_to(e.payload::text, 'UTF8')) "
      "             AS body, e.payload_proto IS NOT NULL AS is_proto, ",
      MicrosSql("e.created_at"),
      " AS created FROM (SELECT seq, event_id FROM event_positions "
      "      WHERE seq > $1 ORDER BY seq LIMIT $2) p "
      // OFFSET 0 keeps the lateral a per-position index probe:
      // a generic plan (the hub's session) flattened it into a
      // hash join over every event (0.5 s at 1.2M events).
      "    CROSS JOIN LATERAL (SELECT * FROM events WHERE id = p.event_id OFFSET 0) e"
      "  ) batch) sized "
      "WHERE through - octet_length(body) < $3 ORDER BY seq"));
  return *sql;
}

// The highest position ever given: the newest in event_positions, or, if
// retention removed it, what retention recorded in event_sequencer.last_seq
// before deleting (rounds never write that row: a row updated hundreds of
// times a second grows HOT chains every reader walks).
constexpr char kLatestSql[] =
    "SELECT greatest((SELECT coalesce(max(seq), 0) FROM event_positions), "
    "(SELECT last_seq FROM event_sequencer))";

// The stamping round (see EventStore::StampIn). Positions continue from
// the highest one ever given. "Not stamped yet" is a scalar subquery, one
// index probe per recent id: as NOT EXISTS the planner, with statistics
// from a smaller log, chose a merge anti-join that read the whole
// positions index (12.5 ms a round at 36k events). The range is bounded on
// both sides ([W, H]) so that stale statistics cannot make it look large.
// One statement, run in autocommit: a round is one round trip and one
// commit. It also NOTIFYs the hubs when it stamped (queued until its
// commit; the payload is the highest position given) and keeps the watermark ($5) when asked. A
// round that stamps nothing writes no WAL, so its commit waits for no flush.
const std::string& StampSql() {
  static const auto* sql =
      new std::string(absl::StrCat(R"sql(
  WITH base AS (
    SELECT greatest((SELECT coalesce(max(seq), 0) FROM event_positions),
                    (SELECT last_seq FROM event_sequencer)) AS s),
  cand AS (
    SELECT e.id FROM events e
    WHERE e.id >= $1 AND e.id <= $4
      AND (SELECT 1 FROM event_positions p WHERE p.event_id = e.id) IS NULL
    ORDER BY e.id LIMIT $2),
  ins AS (
    INSERT INTO event_positions (seq, event_id)
    SELECT base.s + row_number() OVER (ORDER BY cand.id), cand.id FROM cand CROSS JOIN base
    RETURNING seq),
  kept AS (
    UPDATE event_sequencer SET stamped_below = $5 WHERE $5::bigint IS NOT NULL RETURNING 1),
  stamped AS (SELECT count(*) AS n, coalesce(max(seq), 0) AS last FROM ins)
  SELECT stamped.n, stamped.last,
         pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
         CASE WHEN $3 THEN pg_current_xact_id()::text::bigint ELSE 0 END,
         CASE WHEN stamped.n > 0 THEN pg_notify(')sql",
                                   kEventNotifyChannel, R"sql(', stamped.last::text) END
  FROM stamped)sql"));
  return *sql;
}

// The highest event id drawn so far, committed or not.
constexpr char kHighWaterSql[] =
    "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('events', 'id')::regclass), 0)";

// The sequencer's statements (its own session).
const Statement kSeqLead("seq_lead",
                         absl::StrCat("SELECT pg_try_advisory_lock(", kSequencerLockKey, ")"));
const Statement kSeqHighWater("seq_high_water", kHighWaterSql);
const Statement kSeqWatermark("seq_watermark", "SELECT stamped_below FROM event_sequencer");
const Statement kSeqStamp("seq_stamp", StampSql());
const Statement kSeqLatest("seq_latest", kLatestSql);

// The process's append listeners (one per sequencer; tests run several).
struct AppendListeners {
  absl::Mutex mu;
  std::map<int64_t, std::function<void()>> by_id ABSL_GUARDED_BY(mu);
  int64_t next_id ABSL_GUARDED_BY(mu) = 1;
};

AppendListeners& Listeners() {
  static auto* listeners = new AppendListeners();
  return *listeners;
}

// Calls every listener (after a commit). Under the registry's lock, so a
// removed listener is never called after RemoveAppendListener returns.
void NotifyAppendListeners() {
  AppendListeners& l = Listeners();
  absl::MutexLock lock(&l.mu);
  for (const auto& [id, listener] : l.by_id) listener();
}

// A dedicated session runs a few statements hundreds of times a second:
// plan them once. Re-planning them was half of the sequencer's and of the
// hub's PostgreSQL CPU (~1 ms a round); their generic plans are index
// probes (event_plans_test holds them to that). JIT off: generic plans
// estimate from default selectivities, which crossed jit_above_cost and
// compiled the plan at every execution. Sequential scans off: a plan is
// kept until an ANALYZE of its tables, and one made while the log was a
// page or two (a fresh deployment, before autovacuum's first pass) scanned
// event_positions once per candidate event and events once per position,
// so rounds grew with the log (115 ms at 20,000 events, event_plans_test)
// and delivery latency with them; every statement here has an index to
// probe instead.
void UsePlansOnce(pqxx::connection_base& conn) {
  conn.set_variable("plan_cache_mode", "force_generic_plan");
  conn.set_variable("jit", "off");
  conn.set_variable("enable_seqscan", "off");
}

}  // namespace

int64_t EventStore::AddAppendListener(std::function<void()> listener) {
  AppendListeners& l = Listeners();
  absl::MutexLock lock(&l.mu);
  const int64_t id = l.next_id++;
  l.by_id.emplace(id, std::move(listener));
  return id;
}

void EventStore::RemoveAppendListener(int64_t id) {
  AppendListeners& l = Listeners();
  absl::MutexLock lock(&l.mu);
  l.by_id.erase(id);
}

void EventStore::PrepareSequencerOn(pqxx::connection_base& conn) {
  UsePlansOnce(conn);
  for (const Statement* st : {&kSeqLead, &kSeqHighWater, &kSeqWatermark, &kSeqStamp, &kSeqLatest}) {
    st->PrepareOn(conn);
  }
}

bool EventStore::TryLeadIn(pqxx::transaction_base& txn) {
  return Exec1(txn, kSeqLead)[0].as<bool>();
}

int64_t EventStore::IdHighWaterIn(pqxx::transaction_base& txn) {
  return Exec1(txn, kSeqHighWater)[0].as<int64_t>();
}

int64_t EventStore::WatermarkIn(pqxx::transaction_base& txn) {
  return Exec1(txn, kSeqWatermark)[0].as<int64_t>();
}

StampRound EventStore::StampIn(pqxx::transaction_base& txn, int64_t watermark, int64_t high,
                               int batch, bool want_xid, std::optional<int64_t> keep_watermark) {
  const pqxx::row r = Exec1(txn, kSeqStamp, watermark, batch, want_xid, high, keep_watermark);
  StampRound round;
  round.stamped = r[0].as<int64_t>();
  round.last_seq = r[1].as<int64_t>();
  round.xmin = r[2].as<int64_t>();
  round.xid = r[3].as<int64_t>();
  return round;
}

int64_t EventStore::LatestPositionIn(pqxx::transaction_base& txn) {
  return Exec1(txn, kSeqLatest)[0].as<int64_t>();
}

namespace {

// The appends make sure their transaction has an id (pg_current_xact_id,
// evaluated as the row source) before the event's id is drawn: the
// sequencer's watermark relies on "whoever drew an id had an xid by then"
// (EventSequencer). No lock, no NOTIFY: writers never wait for each other
// here, and commit without the notify queue's cluster-wide lock.
const Statement kEventAppend(
    "event_append",
    "INSERT INTO events (kind, channel_id, user_id, payload_proto) "
    "SELECT $1, $2, $3, $4::bytea FROM (SELECT pg_current_xact_id() AS xid) x "
    "WHERE x.xid IS NOT NULL");

const Statement kEventAppendStatus(
    "event_append_status",
    "INSERT INTO events (kind, user_id, channel_ids, payload_proto) "
    "SELECT $1::smallint, $2::text, coalesce(array_agg(m.channel_id::text), '{}'), $3::bytea "
    "FROM (SELECT pg_current_xact_id() AS xid) x CROSS JOIN channel_members m "
    "JOIN channels c ON c.id = m.channel_id "
    "WHERE x.xid IS NOT NULL AND m.user_id = $2::text AND c.deleted_at IS NULL");

const Statement kEventRead("event_read", ReadSql());

// The latest position: every smaller one settled (rounds are serial).
const Statement kEventBounds("event_bounds",
                             absl::StrCat("SELECT r.pruned_through, greatest((", kLatestSql,
                                          "), r.pruned_through) FROM event_retention r"));

const Statement kEventHighWater("event_high_water", kHighWaterSql);

const Statement kEventLiveStart(
    "event_live_start",
    absl::StrCat("SELECT NOT EXISTS (SELECT 1 FROM events e "
                 "  WHERE e.id >= (SELECT stamped_below FROM event_sequencer) AND e.id <= $1 "
                 "  AND (SELECT 1 FROM event_positions p WHERE p.event_id = e.id) IS NULL), "
                 "(",
                 kLatestSql, ")"));

// One batch of retention: the oldest `$2` events older than `$1` seconds
// that have a position (an unstamped one may be a round's candidate),
// and their positions. `kept` records the highest position first (the
// statement's snapshot predates its deletes), so positions continue past
// what is deleted.
const Statement kEventPrune(
    "event_prune",
    "WITH kept AS (UPDATE event_sequencer SET last_seq = greatest(last_seq, "
    "(SELECT coalesce(max(seq), 0) FROM event_positions)) RETURNING 1), "
    "old AS (SELECT e.id, p.seq FROM events e JOIN event_positions p ON p.event_id = e.id "
    "  WHERE e.created_at < now() - make_interval(secs => $1) ORDER BY e.created_at LIMIT $2), "
    "d AS (DELETE FROM events WHERE id IN (SELECT id FROM old) RETURNING id), "
    "dp AS (DELETE FROM event_positions WHERE event_id IN (SELECT id FROM d) RETURNING seq) "
    "UPDATE event_retention SET pruned_through = greatest(pruned_through, "
    "coalesce((SELECT max(seq) FROM dp), 0)) RETURNING (SELECT count(*) FROM d)");

const Statement kEventUserChannels(
    "event_user_channels",
    "SELECT m.channel_id FROM channel_members m JOIN channels c "
    "ON c.id = m.channel_id WHERE m.user_id = $1 AND c.deleted_at IS NULL");

// Membership as of position $2: today's, undone by the user's own joins
// and leaves after it (the first one per channel decides: a join means
// "not a member then", a leave "a member then"). "After it" includes the
// committed events not stamped yet: they will be stamped past every
// position now visible. Channels deleted since stay in: their events up
// to CHANNEL_DELETED are replayed.
const Statement kEventUserChannelsAsOf("event_user_channels_as_of",
                                       absl::Substitute(R"sql(
        WITH later AS (
          SELECT e.channel_id, e.kind, p.seq AS ord, e.id FROM event_positions p
          JOIN events e ON e.id = p.event_id
          WHERE p.seq > $$2 AND e.user_id = $$1 AND e.kind IN ($0, $1)
          UNION ALL
          SELECT e.channel_id, e.kind, 9223372036854775807, e.id FROM events e
          WHERE e.id >= (SELECT stamped_below FROM event_sequencer)
            AND e.user_id = $$1 AND e.kind IN ($0, $1)
            AND (SELECT 1 FROM event_positions p WHERE p.event_id = e.id) IS NULL),
        own AS (
          SELECT DISTINCT ON (channel_id) channel_id, kind FROM later
          ORDER BY channel_id, ord, id)
        SELECT m.channel_id FROM channel_members m
        WHERE m.user_id = $$1
          AND NOT EXISTS (SELECT 1 FROM own o WHERE o.channel_id = m.channel_id AND o.kind = $0)
        UNION
        SELECT channel_id FROM own WHERE kind = $1)sql",
                                                        v1::EVENT_KIND_MEMBER_JOINED,
                                                        v1::EVENT_KIND_MEMBER_LEFT));

}  // namespace

void EventStore::PrepareReaderOn(pqxx::connection_base& conn) {
  UsePlansOnce(conn);
  kEventRead.PrepareOn(conn);
  kSeqLatest.PrepareOn(conn);
}

EventStore::EventStore(ConnectionPool* pool) : pool_(pool) {}

void EventStore::AppendIn(pqxx::transaction_base& txn, const v1::Event& event,
                          const std::string& user_id) {
  // Once committed, the sequencer should stamp it now rather than at its
  // next poll.
  AfterCommit(NotifyAppendListeners);
  v1::Event stored = event;
  stored.clear_id();
  stored.clear_create_time();
  std::string serialized;
  stored.SerializeToString(&serialized);
  const pqxx::binarystring payload(serialized);  // sent in binary format: no escaping
  if (event.kind() == v1::EVENT_KIND_USER_STATUS_CHANGED) {
    Exec(txn, kEventAppendStatus, static_cast<int>(event.kind()), user_id, payload);
    return;
  }
  std::optional<std::string> channel;
  if (!event.channel_id().empty()) channel = event.channel_id();
  std::optional<std::string> user;
  if (!user_id.empty()) user = user_id;
  Exec(txn, kEventAppend, static_cast<int>(event.kind()), channel, user, payload);
}

absl::StatusOr<std::vector<StoredEvent>> EventStore::ReadIn(pqxx::transaction_base& txn,
                                                            int64_t after, int limit,
                                                            int64_t max_bytes, bool* cut) {
  std::vector<StoredEvent> out;
  int64_t in_batch = 0;
  for (const pqxx::row& r : Exec(txn, kEventRead, after, limit, max_bytes)) {
    in_batch = r[6].as<int64_t>();
    StoredEvent e;
    const pqxx::binarystring body(r[4]);
    if (r[7].as<bool>()) {
      if (!e.event.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
        return absl::InternalError(absl::StrCat("event ", r[0].as<int64_t>(), ": unreadable"));
      }
    } else {
      auto parsed = google::protobuf::util::JsonStringToMessage(body.str(), &e.event);
      if (!parsed.ok()) {
        return absl::InternalError(
            absl::StrCat("event ", r[0].as<int64_t>(), ": ", parsed.ToString()));
      }
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
  return RunReadOnly(*pool_, call, [&](pqxx::transaction_base& txn) {
    return ReadIn(txn, after, limit, max_bytes);
  });
}

absl::StatusOr<EventLogBounds> EventStore::Bounds(const CallLimits& call) {
  return RunReadOnly(*pool_, call, [&](pqxx::transaction_base& txn) {
    const pqxx::row r = Exec1(txn, kEventBounds);
    return absl::StatusOr<EventLogBounds>(EventLogBounds{r[0].as<int64_t>(), r[1].as<int64_t>()});
  });
}

absl::StatusOr<int64_t> EventStore::LiveStart(absl::Duration settle, const CallLimits& call) {
  return RunReadOnly(*pool_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<int64_t> {
    // Events committed by now have ids up to `high`; once none of them is
    // waiting for a position, the latest position covers them all.
    const int64_t high = Exec1(txn, kEventHighWater)[0].as<int64_t>();
    const absl::Time until = std::min(absl::Now() + settle, call.deadline);
    while (true) {
      const pqxx::row r = Exec1(txn, kEventLiveStart, high);
      if (r[0].as<bool>() || absl::Now() >= until) return r[1].as<int64_t>();
      absl::SleepFor(absl::Milliseconds(2));
    }
  });
}

absl::StatusOr<int64_t> EventStore::Prune(absl::Duration retention, int batch,
                                          const CallLimits& call) {
  return RunInTransaction(*pool_, call, [&](pqxx::transaction_base& txn) {
    return absl::StatusOr<int64_t>(
        Exec(txn, kEventPrune, absl::ToDoubleSeconds(retention), batch)[0][0].as<int64_t>());
  });
}

absl::StatusOr<std::vector<std::string>> EventStore::ChannelsOf(absl::string_view user_field,
                                                                const std::string& user_id,
                                                                int64_t as_of_event,
                                                                const CallLimits& call) {
  return RunReadOnly(
      *pool_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<std::vector<std::string>> {
        RETURN_IF_ERROR(RequireLiveUserIn(txn, user_field, user_id));
        const pqxx::result rows = as_of_event == 0
                                      ? Exec(txn, kEventUserChannels, user_id)
                                      : Exec(txn, kEventUserChannelsAsOf, user_id, as_of_event);
        std::vector<std::string> out;
        for (const pqxx::row& r : rows) out.push_back(r[0].as<std::string>());
        return out;
      });
}

absl::StatusOr<StreamAccess> EventStore::StreamAccessOf(const std::string& viewer_id,
                                                        const std::vector<std::string>& channel_ids,
                                                        const CallLimits& call) {
  return RunReadOnly(*pool_, call, [&](pqxx::transaction_base& txn) {
    return StreamAccessIn(txn, viewer_id, channel_ids);
  });
}

}  // namespace chatgenius
