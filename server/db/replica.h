// replica.h
//
// Replica: one read replica (a PostgreSQL streaming standby) as the service
// sees it — its own connection pool and what the last check found there.
// Database (database.h) checks every replica each POSTGRES_REPLICA_CHECK_MS
// and sends reads to the ones in rotation.
//
// A replica is in rotation while its last check succeeded, it is still in
// recovery (a promoted standby is somebody's primary now, not our replica),
// and it provably holds everything the primary had written at most
// `max_staleness` ago (WalClock: its replay position against the primary's
// sampled write positions). Checks run on a connection of their own, so a
// replica busy with reads is not taken for a dead one; a replica whose
// check fails has its idle connections closed.
//
// Example:
//   Replica replica({"10.0.0.7:5432", pool_settings});
//   replica.Check(clock, absl::Now() + absl::Milliseconds(500));
//   if (replica.InRotation(absl::Seconds(1))) RunReadOnly(replica.pool(), ...);
#ifndef CHATGENIUS_SERVER_DB_REPLICA_H_
#define CHATGENIUS_SERVER_DB_REPLICA_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/db/call_limits.h"
#include "server/db/connection_pool.h"
#include "server/db/lsn.h"
#include "server/db/wal_clock.h"

namespace chatgenius {

struct ReplicaSettings {
  // How operators know it: "host:port" as configured (labels, logs,
  // AdminService). Never the connection string.
  std::string name;
  PoolSettings pool;
};

// ReplicaState is what the last check concluded.
enum class ReplicaState {
  kUnchecked,  // not checked yet: out of rotation
  kStreaming,  // in recovery and answering; in rotation unless stale
  kDown,       // the check failed (unreachable, refused, timed out)
  kPromoted,   // answered but is not in recovery: out of rotation
};

// ReplicaStateName: "unchecked", "streaming", "down", "promoted".
const char* ReplicaStateName(ReplicaState state);

// ReplicaStatus is a snapshot for AdminService and metrics.
struct ReplicaStatus {
  std::string name;
  ReplicaState state = ReplicaState::kUnchecked;
  bool in_rotation = false;
  Lsn replay_lsn = 0;
  // Upper bound on how far behind the primary it is; InfiniteDuration when
  // nothing proves a bound.
  absl::Duration staleness = absl::InfiniteDuration();
  // pg_last_xact_replay_timestamp(): the commit time of the last replayed
  // transaction (InfinitePast if none), as the replica reports it.
  absl::Time last_replayed_commit = absl::InfinitePast();
  absl::Time checked_at = absl::InfinitePast();
  std::string last_error;  // of the last failed check; "" after a good one
  int64_t reads_total = 0;
  int64_t checks_failed_total = 0;
  PoolStatistics pool;
};

class Replica {
 public:
  explicit Replica(ReplicaSettings settings);
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  const std::string& name() const { return settings_.name; }
  ConnectionPool& pool() { return pool_; }

  // Check asks the replica for its recovery state and replay position
  // (bounded by `deadline`) and records the answer; `clock` turns the
  // position into a freshness time.
  void Check(const WalClock& clock, absl::Time deadline);

  // InRotation: see the file comment; staleness is measured at now.
  bool InRotation(absl::Duration max_staleness) const;

  // AwaitReplay returns true once the replica has replayed `lsn`: at once
  // when the last check already saw it, else by asking the replica every
  // millisecond until `until` (or `limits` end). False when it did not in
  // time or cannot be asked.
  bool AwaitReplay(Lsn lsn, absl::Time until, const CallLimits& limits);

  // replay_lsn is the newest replay position seen.
  Lsn replay_lsn() const;

  // Failed takes the replica out of rotation after a read it could not
  // answer (`error`), until its next good check.
  void Failed(const absl::Status& error);

  // CountRead counts one read sent here.
  void CountRead() { reads_.fetch_add(1, std::memory_order_relaxed); }

  ReplicaStatus Status(absl::Duration max_staleness) const;

 private:
  // Replayed records a replay position seen between checks (it only moves
  // forward; the freshness bound waits for the next check, which knows the
  // primary's position).
  void Replayed(Lsn lsn);
  bool InRotationLocked(absl::Time now, absl::Duration max_staleness) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ForgetPositionLocked: a replica that failed may come back behind where
  // it was (a restart resumes replay from its last restart point), so
  // nothing it replayed before counts until a check sees it again.
  void ForgetPositionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ReplicaSettings settings_;
  ConnectionPool pool_;
  ConnectionPool check_pool_;  // one connection: Check's
  std::atomic<int64_t> reads_{0};

  mutable absl::Mutex mu_;
  ReplicaState state_ ABSL_GUARDED_BY(mu_) = ReplicaState::kUnchecked;
  Lsn replay_lsn_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time fresh_as_of_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_replayed_commit_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time checked_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  int64_t checks_failed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_DB_REPLICA_H_
