// connection_pool.h
//
// ConnectionPool: a bounded pool of libpqxx connections, the only way the
// stores reach PostgreSQL. Callers borrow a connection with Acquire(deadline)
// and give it back by destroying the returned PooledConnection (RAII).
//
// What it guarantees:
// - At most `max_size` connections exist; the next acquirer waits until one
//   is returned, bounded by the caller's deadline and `acquire_timeout`.
//   Waiting ended by the caller's deadline is DEADLINE_EXCEEDED; by the
//   acquire timeout, UNAVAILABLE (retryable: the pool is saturated).
// - A connection marked broken (or found closed, cut off by the
//   CancelWatcher, or with a cancel request still on its way) is discarded
//   on release and
//   a new one is opened on demand, so a killed backend costs one failed call
//   at most.
// - A connection idle longer than `idle_check_after` is probed with a cheap
//   query before reuse, bounded by the caller's deadline (the CancelWatcher
//   cuts a probe the database does not answer); connections older than
//   `max_lifetime` are closed.
// - It knows no SQL: each statement is a Statement (statement.h) its owner
//   runs with Exec, prepared on a connection the first time it runs there.
//
// Example:
//   ConnectionPool pool(settings);
//   absl::StatusOr<PooledConnection> conn = pool.Acquire(deadline);
//   if (!conn.ok()) return conn.status();
//   pqxx::work txn(**conn);
#ifndef CHATGENIUS_SERVER_DB_CONNECTION_POOL_H_
#define CHATGENIUS_SERVER_DB_CONNECTION_POOL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/db/db_connection.h"

namespace chatgenius {

class CancelWatcher;

// kDefaultPoolMaxSize matches the seed's pool of 10 and PgBouncer's habit of
// small pools: PostgreSQL does best with few busy backends.
inline constexpr int kDefaultPoolMaxSize = 10;

// PoolSettings configures a ConnectionPool.
struct PoolSettings {
  // libpq connection string (contains the password: never log it).
  std::string conninfo;
  int max_size = kDefaultPoolMaxSize;
  absl::Duration acquire_timeout = absl::Seconds(5);
  absl::Duration idle_check_after = absl::Seconds(5);
  absl::Duration max_lifetime = absl::Hours(1);
  // Cancels statements whose caller gave up (not owned; must outlive the
  // pool). Null: CancelWatcher::Global().
  CancelWatcher* cancel_watcher = nullptr;
};

// PoolStatistics is a snapshot with PgBouncer-like meaning: gauges describe
// now, *_total counters count since the pool was created.
struct PoolStatistics {
  int max_size = 0;
  int size = 0;  // open connections, idle + in_use (+ being opened)
  int idle = 0;
  int in_use = 0;
  int waiting = 0;  // callers blocked in Acquire
  int64_t acquired_total = 0;
  absl::Duration wait_time_total;
  int64_t acquire_timeouts_total = 0;
  int64_t broken_total = 0;
  int64_t created_total = 0;
  int64_t expired_total = 0;
  int64_t health_checks_total = 0;
  int64_t health_check_failures_total = 0;
};

// AppendPoolMetrics renders `pool` in Prometheus text (chatgenius_pool_*, with
// PgBouncer's SHOW POOLS names for the gauges).
void AppendPoolMetrics(const PoolStatistics& pool, std::string* out);

class ConnectionPool;

// PooledConnection is a borrowed connection; destroying it returns the
// connection to its pool. Movable, not copyable.
class PooledConnection {
 public:
  PooledConnection(PooledConnection&& other) noexcept;
  PooledConnection& operator=(PooledConnection&& other) noexcept;
  PooledConnection(const PooledConnection&) = delete;
  PooledConnection& operator=(const PooledConnection&) = delete;
  ~PooledConnection();

  DbConnection& operator*() const { return *conn_; }
  DbConnection* operator->() const { return conn_.get(); }

  // MarkBroken tells the pool to discard this connection on release, e.g.
  // after a broken_connection error.
  void MarkBroken() { broken_ = true; }

 private:
  friend class ConnectionPool;
  PooledConnection(ConnectionPool* pool, std::unique_ptr<DbConnection> conn, absl::Time created)
      : pool_(pool), conn_(std::move(conn)), created_(created) {}

  ConnectionPool* pool_ = nullptr;
  std::unique_ptr<DbConnection> conn_;
  absl::Time created_;
  bool broken_ = false;
};

// ConnectionPool hands out connections; see the file comment. Thread-safe.
// Must outlive every PooledConnection it handed out.
class ConnectionPool {
 public:
  explicit ConnectionPool(PoolSettings settings);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Acquire returns an idle connection, opens a new one if below max_size,
  // or waits. Errors: DEADLINE_EXCEEDED if `deadline` passes (also when it
  // has already passed on entry), UNAVAILABLE if acquire_timeout passes or a
  // new connection cannot be opened.
  [[nodiscard]] absl::StatusOr<PooledConnection> Acquire(absl::Time deadline);

  // DiscardIdle closes every idle connection (e.g. after the tunnel they
  // ran through went down), so the next callers get fresh ones instead of
  // finding dead ones. Connections in use are discarded when their broken
  // state shows.
  void DiscardIdle();

  // Stats returns a consistent snapshot of the statistics.
  PoolStatistics Stats() const;

  // max_size returns the configured maximum.
  int max_size() const { return settings_.max_size; }

  // cancel_watcher is the watcher the pool's borrowers register with.
  CancelWatcher& cancel_watcher() const;

 private:
  friend class PooledConnection;

  struct IdleConnection {
    std::unique_ptr<DbConnection> conn;
    absl::Time created;
    absl::Time idle_since;
  };

  // Acquire's steps. Pop waits (until `deadline` or the acquire timeout)
  // for an idle connection, or reserves a slot for a new one (nullopt);
  // OpenReserved opens into a reserved slot; Check says whether an idle
  // connection may be lent (probing it if it idled past idle_check_after);
  // Lend hands one out; Drop closes one and frees its slot, counting it
  // under `counter`.
  enum class Verdict { kLend, kExpired, kDead };
  absl::StatusOr<std::optional<IdleConnection>> Pop(absl::Time start, absl::Time deadline);
  absl::StatusOr<PooledConnection> OpenReserved(absl::Time start);
  Verdict Check(IdleConnection& idle, absl::Time deadline);
  PooledConnection Lend(std::unique_ptr<DbConnection> conn, absl::Time created, absl::Time start);
  void Drop(std::unique_ptr<DbConnection> conn, int64_t PoolStatistics::*counter);

  void Release(std::unique_ptr<DbConnection> conn, absl::Time created, bool broken);
  absl::StatusOr<std::unique_ptr<DbConnection>> Open();
  // Destroys connections outside the lock (closing talks to the server).
  static void CloseAll(std::vector<std::unique_ptr<DbConnection>> conns);

  const PoolSettings settings_;

  mutable absl::Mutex mu_;
  absl::CondVar available_;
  std::vector<IdleConnection> idle_ ABSL_GUARDED_BY(mu_);  // LIFO: warm ones first
  int size_ ABSL_GUARDED_BY(mu_) = 0;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  PoolStatistics totals_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_DB_CONNECTION_POOL_H_
