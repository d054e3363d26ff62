// event_hub.h
//
// EventHub: the one reader of the event log in this process. A dedicated
// connection (outside the pool, through the tunnel when there is one)
// LISTENs for the sequencer's NOTIFY (one per stamping round, from whichever
// replica leads; its payload is the round's highest position); the local
// sequencer also wakes it in-process (Wake). On each wake-up — except a
// NOTIFY for positions it already has — and at least every kPollInterval,
// in case one was lost, it reads the events after the last position it
// saw, in batches, and hands
// each batch to every subscriber. If the connection breaks it reconnects
// and catches up by position, so nothing is lost; a subscriber never needs
// its own database connection for live events. A second thread prunes
// events older than the retention, in short batches, so deleting a day's
// events never holds up delivery.
//
// Subscribers receive every event and filter for themselves (see
// event_filter.h); the hub calls them on its thread in position order, so
// they must not block.
#ifndef CHATGENIUS_SERVER_REALTIME_EVENT_HUB_H_
#define CHATGENIUS_SERVER_REALTIME_EVENT_HUB_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/common/wake_pipe.h"
#include "server/store/event_store.h"

namespace chatgenius {

using EventBatch = std::vector<std::shared_ptr<const StoredEvent>>;

// EventSubscriber receives fanned-out events.
class EventSubscriber {
 public:
  virtual ~EventSubscriber() = default;
  // OnEvents gets every new event after the position Add returned, in id
  // order. Called on the hub thread: must not block.
  virtual void OnEvents(const EventBatch& batch) = 0;
  // OnHubStopped: the process is shutting down; end the stream. Called with
  // the hub's lock held, like OnEvents: must not block or call the hub.
  virtual void OnHubStopped() = 0;
};

// HubSettings configures an EventHub.
struct HubSettings {
  std::string conninfo;  // for the dedicated LISTEN connection
  int batch_size = 500;
  // Payload bytes per read (the first event always comes): bounds the
  // batch the hub holds while fanning out.
  int64_t batch_bytes = 8 << 20;
  absl::Duration retention = absl::Hours(24 * 7);
  absl::Duration prune_interval = absl::Minutes(10);
  int prune_batch = 5000;  // events deleted per statement (one short transaction)
  absl::Duration reconnect_delay = absl::Milliseconds(500);
};

// HubStatistics for operators and tests.
struct HubStatistics {
  int subscribers = 0;
  int64_t position = 0;  // last event id fanned out
  int64_t events_total = 0;
  int64_t reads_total = 0;  // queries of the log (a wake-up may need several)
  int64_t reconnects_total = 0;
  bool connected = false;
};

// AppendHubMetrics renders `hub` (chatgenius_events_listen_connected, _position,
// _fanned_out_total, _hub_reads_total).
void AppendHubMetrics(const HubStatistics& hub, std::string* out);

class EventHub {
 public:
  // kPollInterval bounds the delay if a NOTIFY is ever missed.
  static constexpr absl::Duration kPollInterval = absl::Milliseconds(500);

  // `store` (pool-backed, for pruning) must outlive the hub.
  EventHub(HubSettings settings, EventStore* store);
  ~EventHub();

  // Start launches the hub thread; it connects and retries by itself.
  void Start();
  // Stop tells every subscriber OnHubStopped, then ends the thread.
  void Stop();
  // Wake makes the hub read the log now (the local sequencer stamped
  // events); other replicas' stamps arrive by NOTIFY.
  void Wake();

  // Add registers `subscriber` and returns the id through which events
  // have already been fanned out: the subscriber replays (cursor, id] from
  // the database itself; everything after comes to OnEvents. UNAVAILABLE
  // until the hub has connected once.
  [[nodiscard]] absl::StatusOr<int64_t> Add(EventSubscriber* subscriber);
  // Remove unregisters; after it returns the hub no longer calls it.
  void Remove(EventSubscriber* subscriber);

  HubStatistics stats() const;

 private:
  class WakeUp;  // the NOTIFYs that arrived on the LISTEN connection

  // The hub thread: a LISTEN session, opened again after it breaks
  // (RunReconnecting). Connected records a (re)connection; Listen catches
  // up and waits for wake-ups until Stop, throwing when the session breaks.
  void Run();
  void Connected(pqxx::connection& conn, bool reconnect);
  void Listen(pqxx::connection& conn, WakeUp& wake);
  // Prunes every prune_interval, in batches, until Stop.
  void RunRetention();
  // Reads and fans out everything after position_ on `conn`.
  void CatchUp(pqxx::connection& conn);

  const HubSettings settings_;
  EventStore* const store_;

  mutable absl::Mutex mu_;
  std::set<EventSubscriber*> subscribers_ ABSL_GUARDED_BY(mu_);
  int64_t position_ ABSL_GUARDED_BY(mu_) = 0;
  bool initialized_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  HubStatistics stats_ ABSL_GUARDED_BY(mu_);

  WakePipe wake_;        // Stop and Wake end the hub thread's wait at once
  absl::Notification stop_;
  std::thread thread_;
  std::thread retention_thread_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_REALTIME_EVENT_HUB_H_
