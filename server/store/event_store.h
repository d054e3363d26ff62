// event_store.h
//
// EventStore: all SQL of the realtime event log (migrations/V0002, V0004).
// Stores call AppendIn inside a writing transaction: it inserts the event,
// nothing more — no lock, no NOTIFY, so writers never wait for each other
// here. After commit the EventSequencer stamps each committed event with
// its position (seq), densely and in serial rounds, and NOTIFYs once per
// round; readers read positions after their cursor, which is complete as
// soon as a position is visible. Event.id and every cursor are positions.
#ifndef CHATGENIUS_SERVER_STORE_EVENT_STORE_H_
#define CHATGENIUS_SERVER_STORE_EVENT_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "chatgenius/db/v1/event_service.pb.h"
#include "server/db/call_limits.h"
#include "server/db/connection_pool.h"
#include "server/store/channel_access.h"

namespace chatgenius {

// kEventChannel is the LISTEN/NOTIFY channel that wakes event readers.
inline constexpr char kEventNotifyChannel[] = "chatgenius_events";

// StoredEvent is an event as read back, with what routing needs.
struct StoredEvent {
  db::v1::Event event;  // id and create_time filled in
  std::string user_id;  // the user a member/status event is about
  // The channels the event concerns: its channel, or for a status event
  // every channel its user belonged to.
  std::vector<std::string> channels;
  // event's serialized size, computed once for every stream's byte bound.
  size_t bytes = 0;
};

// EventLogBounds: a cursor in [pruned_through, latest] can be served.
struct EventLogBounds {
  int64_t pruned_through = 0;  // highest position retention removed (0 if none)
  int64_t latest = 0;          // highest position stamped (0 if none ever was)
};

// StampRound is what one sequencer round did, and the snapshot it saw.
struct StampRound {
  int64_t stamped = 0;   // events given a position
  int64_t last_seq = 0;  // the highest position given (0 if none)
  // The round's snapshot: every transaction with an xid below xmin had
  // ended. (Not xmax: PostgreSQL's snapshot xmax is one past the latest
  // *completed* xid, and running transactions may hold xids above it.)
  int64_t xmin = 0;
  // The round's own xid when asked for (0 otherwise): assigned during the
  // round, so above the xid of every transaction that drew an event id
  // before the round began.
  int64_t xid = 0;
};

// NewEvent starts an event of `kind` in `channel_id` caused by `actor_id`.
inline db::v1::Event NewEvent(db::v1::EventKind kind, const std::string& channel_id,
                              const std::string& actor_id) {
  db::v1::Event e;
  e.set_kind(kind);
  e.set_channel_id(channel_id);
  e.set_actor_id(actor_id);
  return e;
}

class EventStore {
 public:
  explicit EventStore(ConnectionPool* pool);

  // AppendIn appends `event` (kind, channel_id, actor_id and payload set)
  // about `user_id` (may be empty) inside `txn`. A USER_STATUS_CHANGED
  // event records the user's channels for routing.
  static void AppendIn(pqxx::transaction_base& txn, const db::v1::Event& event,
                       const std::string& user_id = "");

  // PrepareReaderOn makes a connection outside the pool (the hub's
  // dedicated LISTEN connection) plan its statements once (generic plans,
  // no JIT) and declares ReadIn's and LatestPositionIn's statements on it
  // (they would be declared on first use anyway; EXPLAIN EXECUTE needs
  // them declared).
  static void PrepareReaderOn(pqxx::connection_base& conn);

  // ReadIn returns up to `limit` events with id > `after`, in id order,
  // inside any transaction (the hub's LISTEN connection uses its own),
  // ending with the event whose stored payload (serialized Event) takes the batch to
  // `max_bytes` or past it — so a caller holds at most max_bytes plus one
  // event, and the first event always comes (progress).
  // `cut` (optional) says whether the byte budget ended the batch early.
  static absl::StatusOr<std::vector<StoredEvent>> ReadIn(pqxx::transaction_base& txn, int64_t after,
                                                         int limit, int64_t max_bytes,
                                                         bool* cut = nullptr);

  // The sequencer's statements, on its own connection (PrepareSequencerOn
  // declares them). TryLeadIn takes the leader's session lock if free;
  // IdHighWaterIn is the highest event id drawn so far (committed or not);
  // WatermarkIn reads the id below which every event is stamped or was
  // never committed; StampIn gives the next positions to up to `batch`
  // committed, unstamped events with ids in [watermark, high], in id order,
  // NOTIFYs the hubs if it stamped any, with `want_xid` gives the round an
  // xid and reports it, and stores `keep_watermark` when set. One
  // statement: run it in autocommit (a round is one round trip). The
  // session plans them once, like the reader's.
  static void PrepareSequencerOn(pqxx::connection_base& conn);
  static bool TryLeadIn(pqxx::transaction_base& txn);
  static int64_t IdHighWaterIn(pqxx::transaction_base& txn);
  static int64_t WatermarkIn(pqxx::transaction_base& txn);
  static StampRound StampIn(pqxx::transaction_base& txn, int64_t watermark, int64_t high, int batch,
                            bool want_xid, std::optional<int64_t> keep_watermark);
  // LatestPositionIn is the highest position stamped (0 if none).
  static int64_t LatestPositionIn(pqxx::transaction_base& txn);

  // AddAppendListener registers what AppendIn's transactions call once
  // they have committed (a local sequencer's Wake; it must not block), for
  // the whole process; RemoveAppendListener(id) unregisters it, after which
  // it is never called again.
  static int64_t AddAppendListener(std::function<void()> listener);
  static void RemoveAppendListener(int64_t id);

  // Read is ReadIn on a pooled connection.
  [[nodiscard]] absl::StatusOr<std::vector<StoredEvent>> Read(int64_t after, int limit,
                                                              int64_t max_bytes,
                                                              const CallLimits& call);
  // Bounds returns what a resume cursor is checked against, in one read.
  [[nodiscard]] absl::StatusOr<EventLogBounds> Bounds(const CallLimits& call);
  // LiveStart is where a live-only stream starts: the latest position once
  // every event that had committed when it was called is stamped, so a
  // caller is not sent what it already knew (its own acknowledged writes).
  // Waits for the sequencer at most `settle` (a few milliseconds when a
  // leader runs); then the latest position as it is.
  [[nodiscard]] absl::StatusOr<int64_t> LiveStart(absl::Duration settle, const CallLimits& call);
  // Prune deletes up to `batch` of the oldest events older than
  // `retention` (with their positions) in one short transaction; returns
  // how many. Call it again while it returns `batch`.
  [[nodiscard]] absl::StatusOr<int64_t> Prune(absl::Duration retention, int batch,
                                              const CallLimits& call);
  // ChannelsOf returns the channels `user_id` belongs to now (as_of_event
  // 0: live channels only), or belonged to just after event `as_of_event`
  // (a resume cursor), judged by the user's own joins and leaves since.
  // NOT_FOUND naming `user_field` if the user is absent or deleted.
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> ChannelsOf(absl::string_view user_field,
                                                                    const std::string& user_id,
                                                                    int64_t as_of_event,
                                                                    const CallLimits& call);
  // StreamAccess checks that `viewer_id` may read each of `channel_ids` now
  // (StreamAccessIn in channel_access.h).
  [[nodiscard]] absl::StatusOr<StreamAccess> StreamAccessOf(
      const std::string& viewer_id, const std::vector<std::string>& channel_ids,
      const CallLimits& call);

 private:
  ConnectionPool* const pool_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_STORE_EVENT_STORE_H_
