// database.h
//
// Database: the PostgreSQL hosts one process uses — the primary's pool and,
// with POSTGRES_REPLICA_HOSTS, read replicas (Replica, replica.h) — and the
// RunInTransaction / RunReadOnly forms the stores call on it. Writes and
// every transaction run on the primary; RunReadOnly's autocommit reads go to
// a replica in rotation (round robin), else to the primary.
//
// Consistency:
// - Bounded staleness: a replica serves reads only while it provably holds
//   everything the primary had written `max_staleness` ago (a checker thread
//   per replica and one sampling the primary's WAL position, every
//   `check_interval`; WalClock).
// - Read-your-writes: with replicas, every committed RunInTransaction whose
//   CallLimits has `committed` reports the primary's WAL write position
//   after the commit (pg_current_wal_lsn(): the commit record is written and
//   flushed by then, and unlike pg_current_wal_insert_lsn() it never names
//   WAL another session has yet to flush). A read whose CallLimits carries
//   `min_lsn` runs only on a replica that has replayed it — waiting up to
//   `lsn_wait` for one — else on the primary.
// - A read a replica cannot answer (connection lost, cancelled by a
//   recovery conflict, the host refusing) runs again on the primary; the
//   replica is out of rotation until its next good check.
//
// Without replicas there is no checker, no extra statement per write and
// every call goes to the primary, as before.
//
// Example:
//   Database db(&pool, routing);                    // starts the checkers
//   UserStore users(&db);
//   RunReadOnly(db, call, [&](pqxx::transaction_base& txn) { ... });
#ifndef CHATGENIUS_SERVER_DB_DATABASE_H_
#define CHATGENIUS_SERVER_DB_DATABASE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/db/call_limits.h"
#include "server/db/connection_pool.h"
#include "server/db/lsn.h"
#include "server/db/pg_error.h"
#include "server/db/replica.h"
#include "server/db/transaction.h"
#include "server/db/wal_clock.h"

namespace chatgenius {

class Database;

// RunInTransaction on the primary; with replicas and limits.committed set,
// the commit's WAL position is passed to limits.committed (a failure to
// read it is logged, not the call's: the transaction is committed).
[[nodiscard]] absl::Status RunInTransaction(Database& db, const CallLimits& limits,
                                            const TransactionBody& body,
                                            const ConstraintMessages* messages = nullptr);

// RunReadOnly on a replica in rotation that holds limits.min_lsn, else on
// the primary.
[[nodiscard]] absl::Status RunReadOnly(Database& db, const CallLimits& limits,
                                       const TransactionBody& body);

// ReplicaRouting configures the replicas of a Database.
struct ReplicaRouting {
  std::vector<ReplicaSettings> replicas;
  // The primary, for the WAL-position sampler's own one-connection pool (a
  // saturated main pool must not make replicas look stale).
  PoolSettings primary_sampler;
  absl::Duration max_staleness = absl::Seconds(1);          // POSTGRES_REPLICA_MAX_LAG_MS
  absl::Duration check_interval = absl::Milliseconds(100);  // POSTGRES_REPLICA_CHECK_MS
  absl::Duration lsn_wait = absl::Milliseconds(20);         // POSTGRES_REPLICA_WAIT_MS
};

// ReadRoutingStatistics counts where reads went (counters since start).
struct ReadRoutingStatistics {
  int64_t primary_reads = 0;
  // Reads that would have gone to a replica but ran on the primary because
  // no replica was in rotation / none replayed min_lsn within lsn_wait /
  // the replica failed the read.
  int64_t fallback_none_in_rotation = 0;
  int64_t fallback_lsn_not_replayed = 0;
  int64_t fallback_replica_failed = 0;
  int64_t commit_positions = 0;  // write positions reported to callers
  Lsn primary_lsn = 0;           // the newest sampled write position
};

class Database {
 public:
  // Primary only: every call runs on `primary` (not owned).
  explicit Database(ConnectionPool* primary);
  // With replicas: starts the checkers (when routing.replicas is not empty).
  Database(ConnectionPool* primary, ReplicaRouting routing);
  ~Database();  // stops the checkers
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  ConnectionPool& primary() { return *primary_; }
  bool has_replicas() const { return !replicas_.empty(); }

  std::vector<ReplicaStatus> ReplicaStatuses() const;
  ReadRoutingStatistics RoutingStats() const;
  absl::Duration max_staleness() const { return routing_.max_staleness; }

  // AppendMetrics renders the replicas and the routing counters
  // (chatgenius_db_replica_*{replica="host:port"}, chatgenius_db_reads_total,
  // chatgenius_db_read_fallbacks_total{reason}).
  void AppendMetrics(std::string* out) const;

  // The routed forms (see the file comment).
  friend absl::Status RunInTransaction(Database& db, const CallLimits& limits,
                                       const TransactionBody& body,
                                       const ConstraintMessages* messages);
  friend absl::Status RunReadOnly(Database& db, const CallLimits& limits,
                                  const TransactionBody& body);

 private:
  // ReaderFor picks the replica for a read within `limits`, or null for the
  // primary (counting why).
  Replica* ReaderFor(const CallLimits& limits);
  void SampleLoop();
  void CheckLoop(Replica* replica);

  ConnectionPool* const primary_;
  ReplicaRouting routing_;  // its replicas moved into replicas_
  std::vector<std::unique_ptr<Replica>> replicas_;
  std::unique_ptr<ConnectionPool> sampler_;
  WalClock clock_;
  std::atomic<uint64_t> next_{0};
  std::atomic<int64_t> primary_reads_{0};
  std::atomic<int64_t> none_in_rotation_{0};
  std::atomic<int64_t> lsn_not_replayed_{0};
  std::atomic<int64_t> replica_failed_{0};
  std::atomic<int64_t> commit_positions_{0};
  absl::Notification stop_;
  std::vector<std::thread> checkers_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_DB_DATABASE_H_
