// event_store.h
//
// EventStore: all SQL of the realtime event log (migrations/V0002). Stores
// call AppendIn as the LAST step of a writing transaction: it takes a
// transaction-level advisory lock, so event ids are handed out in commit
// order (see the migration's comment), inserts the event and queues a
// payload-free NOTIFY, delivered at commit. Readers then simply read ids
// after their cursor.
#ifndef CHATGENIUS_SERVER_STORE_EVENT_STORE_H_
#define CHATGENIUS_SERVER_STORE_EVENT_STORE_H_

#include <cstdint>
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
  int64_t pruned_through = 0;  // highest id retention removed (0 if none)
  int64_t latest = 0;          // highest id written (0 if none ever was)
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
  // Registers the statements on `pool`.
  explicit EventStore(ConnectionPool* pool);

  // RegisterStatementsOn declares the statements AppendIn and ReadIn use on
  // `pool`; every store that appends events calls it.
  static void RegisterStatementsOn(ConnectionPool* pool);

  // AppendIn appends `event` (kind, channel_id, actor_id and payload set)
  // about `user_id` (may be empty) inside `txn`. A USER_STATUS_CHANGED
  // event records the user's channels for routing.
  static void AppendIn(pqxx::transaction_base& txn, const db::v1::Event& event,
                       const std::string& user_id = "");

  // PrepareReaderOn declares ReadIn's statement on a connection outside the
  // pool (the hub's dedicated LISTEN connection).
  static void PrepareReaderOn(pqxx::connection_base& conn);

  // ReadIn returns up to `limit` events with id > `after`, in id order,
  // inside any transaction (the hub's LISTEN connection uses its own),
  // ending with the event whose payload (JSON text) takes the batch to
  // `max_bytes` or past it — so a caller holds at most max_bytes plus one
  // event, and the first event always comes (progress).
  // `cut` (optional) says whether the byte budget ended the batch early.
  static absl::StatusOr<std::vector<StoredEvent>> ReadIn(pqxx::transaction_base& txn, int64_t after,
                                                         int limit, int64_t max_bytes,
                                                         bool* cut = nullptr);

  // Read is ReadIn on a pooled connection.
  [[nodiscard]] absl::StatusOr<std::vector<StoredEvent>> Read(int64_t after, int limit,
                                                              int64_t max_bytes,
                                                              const CallLimits& call);
  // Bounds returns what a resume cursor is checked against, in one read.
  [[nodiscard]] absl::StatusOr<EventLogBounds> Bounds(const CallLimits& call);
  // Prune deletes events older than `retention`; returns how many.
  [[nodiscard]] absl::StatusOr<int64_t> Prune(absl::Duration retention, const CallLimits& call);
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
