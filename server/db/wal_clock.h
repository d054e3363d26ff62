// wal_clock.h
//
// WalClock turns a replica's replay position into a freshness bound. The
// replica checker samples the primary's WAL write position now and then
// (Record); a replica that has replayed at least the position sampled at
// time T holds every transaction committed before T (a commit returns only
// once its WAL is written and flushed), so it is at most `now - T` stale.
// FreshAsOf gives that T: the time of the newest sample at or below the
// replayed position. A sample never arrives out of order.
//
// Unlike pg_last_xact_replay_timestamp() this bound also holds on an idle
// primary (no commits: the replica replays the same position and stays
// fresh) and cannot be fooled by clock skew between hosts (one clock).
//
// Example:
//   WalClock clock(absl::Seconds(5));
//   clock.Record(absl::Now(), primary_write_lsn);
//   absl::Duration stale = absl::Now() - clock.FreshAsOf(replica_replay_lsn);
#ifndef CHATGENIUS_SERVER_DB_WAL_CLOCK_H_
#define CHATGENIUS_SERVER_DB_WAL_CLOCK_H_

#include <deque>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/db/lsn.h"

namespace chatgenius {

class WalClock {
 public:
  // Samples older than `window` are forgotten (FreshAsOf then answers
  // InfinitePast for positions only they covered): keep it above the
  // largest staleness anyone asks about.
  explicit WalClock(absl::Duration window) : window_(window) {}

  // Record notes that the primary had written up to `lsn` at `at`.
  void Record(absl::Time at, Lsn lsn);

  // FreshAsOf is the time of the newest sample whose position is at most
  // `replayed`; InfinitePast when there is none (no sample yet, or the
  // replica is behind every sample kept).
  absl::Time FreshAsOf(Lsn replayed) const;

  // newest is the last recorded position (0 before the first sample).
  Lsn newest() const;

 private:
  const absl::Duration window_;
  mutable absl::Mutex mu_;
  std::deque<std::pair<absl::Time, Lsn>> samples_ ABSL_GUARDED_BY(mu_);  // oldest first
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_DB_WAL_CLOCK_H_
