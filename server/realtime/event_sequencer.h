// event_sequencer.h
//
// EventSequencer: gives committed events their positions (seq), the order
// in which every subscriber sees them. Writers only insert their events and
// commit (EventStore::AppendIn); one sequencer per database at a time — the
// leader, whichever replica holds a session-level advisory lock that
// writers never touch — stamps them after commit:
//
//   round: H = the highest event id drawn so far (committed or not);
//          in one short transaction, stamp every committed event with
//          id >= W that has no position yet (dense positions, id order,
//          at most `batch`), NOTIFY the hubs if any, advance W (below).
//
// Rounds are serial and each commits before the next starts, so "every
// event with seq > cursor" is complete as soon as a seq is visible — the
// property the old global lock bought, without making writers wait.
//
// The watermark W (every id below it is stamped or was never committed)
// keeps rounds cheap. It advances from snapshots, never by waiting: a round
// that saw new ids drawn remembers (H, an xid it takes after reading H);
// every transaction that had drawn an id <= H had an xid below that one
// (AppendIn assigns the xid first; xids are handed out in order). Once a
// later round's snapshot has xmin above it, all of them have ended, that
// round saw every one that committed, and W moves to H+1. (Snapshot xmax
// would not do: it is one past the latest completed xid, and running
// transactions may hold larger ones.) A round is one autocommit statement;
// one that stamps nothing commits
// with no WAL to flush.
// A long or stalled transaction only holds W back (rounds look at more
// ids); the others' events are stamped as soon as they commit.
//
// Followers retry the lock every `contend_interval`; when the leader's
// session ends (crash, pg_terminate_backend, network) one of them takes
// over from the stored W. Local writers wake the leader after commit (Wake)
// so latency stays low; other replicas' events are found within
// `poll_interval`.
#ifndef CHATGENIUS_SERVER_REALTIME_EVENT_SEQUENCER_H_
#define CHATGENIUS_SERVER_REALTIME_EVENT_SEQUENCER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace chatgenius {

class CancelWatcher;
struct StampRound;

class DbConnection;

struct SequencerSettings {
  std::string conninfo;  // its own session (the lock is per session)
  int batch = 5000;      // events stamped per round at most
  absl::Duration poll_interval = absl::Milliseconds(10);  // EVENT_SEQUENCER_POLL_MS
  absl::Duration contend_interval = absl::Seconds(1);
  absl::Duration reconnect_delay = absl::Milliseconds(500);
  // A round (or a lock attempt) that takes longer is cut off (CancelWatcher)
  // and the session started again.
  absl::Duration round_timeout = absl::Seconds(10);
  // Cuts those off (not owned; must outlive the sequencer). Null:
  // CancelWatcher::Global().
  CancelWatcher* cancel_watcher = nullptr;
};

struct SequencerStatistics {
  bool leader = false;
  int64_t rounds_total = 0;
  int64_t stamped_total = 0;
  int64_t leaderships_total = 0;  // times this process became the leader
  int64_t position = 0;           // highest position this process stamped
  int64_t watermark = 0;
  absl::Duration round_time_total;  // time spent in rounds that stamped or looked
};

// AppendSequencerMetrics renders `seq` (chatgenius_events_sequencer_*, _stamped_total).
void AppendSequencerMetrics(const SequencerStatistics& seq, std::string* out);

class EventSequencer {
 public:
  // `on_stamped` runs after every round that stamped events (the local
  // hub's Wake); it must not block.
  EventSequencer(SequencerSettings settings, std::function<void()> on_stamped);
  ~EventSequencer();
  EventSequencer(const EventSequencer&) = delete;
  EventSequencer& operator=(const EventSequencer&) = delete;

  void Start();
  // Stop ends the thread; the session (and with it the lock) closes.
  void Stop();
  // Wake asks the leader for a round now (a local writer committed).
  void Wake();

  SequencerStatistics stats() const;

 private:
  CancelWatcher& Watcher() const;

  struct Pending {
    int64_t high_id;  // H of a round
    int64_t xid;      // the xid that round was given (after H was read)
  };

  void Run();
  // Lead runs rounds on `conn` while this session holds the lock.
  // Contend tries for the leader lock every contend_interval and leads
  // while it holds it, until stopping (throws when the session breaks).
  void Contend(DbConnection& conn, const std::function<bool()>& stopping,
               const std::function<void(absl::Duration)>& sleep);
  void Lead(DbConnection& conn);
  // AdvanceWatermark moves the watermark past the pairs `round`'s snapshot
  // proves settled, and records this round's (high, xid) pair if it took one.
  void AdvanceWatermark(const StampRound& round, int64_t high, bool want_xid);
  // Round stamps once; returns how many events it stamped.
  int64_t Round(DbConnection& conn);
  // WaitForWork sleeps until Wake, Stop or `timeout`.
  void WaitForWork(absl::Duration timeout);

  const SequencerSettings settings_;
  const std::function<void()> on_stamped_;

  mutable absl::Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  SequencerStatistics stats_ ABSL_GUARDED_BY(mu_);

  // Leader state, sequencer thread only.
  int64_t watermark_ = 0;
  int64_t persisted_watermark_ = 0;
  absl::Time persisted_at_ = absl::InfinitePast();
  std::deque<Pending> pending_;

  std::thread thread_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_REALTIME_EVENT_SEQUENCER_H_
