#include "server/db/connection_pool.h"

#include <optional>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/common/status_macros.h"
#include "server/db/cancel_watcher.h"
#include "server/db/pg_error.h"
#include "server/metrics/prometheus_text.h"

namespace chatgenius {

namespace {

// kCancelSettleTime: how long a release waits for a cancel request still on
// its way before discarding the connection instead (see CancelTarget).
constexpr absl::Duration kCancelSettleTime = absl::Milliseconds(100);

}  // namespace

PooledConnection::PooledConnection(PooledConnection&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      conn_(std::move(other.conn_)),
      created_(other.created_),
      broken_(other.broken_) {}

PooledConnection& PooledConnection::operator=(PooledConnection&& other) noexcept {
  if (this != &other) {
    if (pool_ != nullptr && conn_ != nullptr) pool_->Release(std::move(conn_), created_, broken_);
    pool_ = std::exchange(other.pool_, nullptr);
    conn_ = std::move(other.conn_);
    created_ = other.created_;
    broken_ = other.broken_;
  }
  return *this;
}

PooledConnection::~PooledConnection() {
  if (pool_ != nullptr && conn_ != nullptr) pool_->Release(std::move(conn_), created_, broken_);
}

ConnectionPool::ConnectionPool(PoolSettings settings) : settings_(std::move(settings)) {
  totals_.max_size = settings_.max_size;
}

ConnectionPool::~ConnectionPool() {
  std::vector<std::unique_ptr<DbConnection>> conns;
  {
    absl::MutexLock lock(&mu_);
    for (IdleConnection& c : idle_) conns.push_back(std::move(c.conn));
    idle_.clear();
  }
  CloseAll(std::move(conns));
}

CancelWatcher& ConnectionPool::cancel_watcher() const {
  return CancelWatcher::GivenOrGlobal(settings_.cancel_watcher);
}

void ConnectionPool::CloseAll(std::vector<std::unique_ptr<DbConnection>> conns) {
  for (auto& c : conns) {
    try {
      c->disconnect();
    } catch (const std::exception&) {
      // Closing a dead connection may throw; it is gone either way.
    }
  }
}

absl::StatusOr<std::unique_ptr<DbConnection>> ConnectionPool::Open() {
  try {
    return std::make_unique<DbConnection>(settings_.conninfo);
  } catch (const std::exception& e) {
    absl::Status status = StatusFromException(e);
    return absl::UnavailableError(
        absl::StrCat("cannot open a database connection: ", status.message()));
  }
}

// Acquire, as userver's pool does it, in named steps: Pop an idle
// connection (or reserve a slot to open one), Check an idle one, Lend it, or
// Drop it and try again.
absl::StatusOr<PooledConnection> ConnectionPool::Acquire(absl::Time deadline) {
  const absl::Time start = absl::Now();
  if (deadline <= start) {
    return absl::DeadlineExceededError("deadline passed before acquiring a database connection");
  }
  while (true) {
    ASSIGN_OR_RETURN(std::optional<IdleConnection> idle, Pop(start, deadline));
    if (!idle) return OpenReserved(start);
    const Verdict verdict = Check(*idle, deadline);
    if (verdict == Verdict::kLend) return Lend(std::move(idle->conn), idle->created, start);
    Drop(std::move(idle->conn), verdict == Verdict::kExpired ? &PoolStatistics::expired_total
                                                             : &PoolStatistics::broken_total);
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          "deadline passed while checking an idle database connection");
    }
    // Try the next idle connection, or open a fresh one.
  }
}

absl::StatusOr<std::optional<ConnectionPool::IdleConnection>> ConnectionPool::Pop(
    absl::Time start, absl::Time deadline) {
  const absl::Time timeout_at = start + settings_.acquire_timeout;
  const absl::Time wait_until = std::min(deadline, timeout_at);
  absl::MutexLock lock(&mu_);
  if (idle_.empty() && size_ >= settings_.max_size) {
    ++waiting_;
    while (idle_.empty() && size_ >= settings_.max_size) {
      if (available_.WaitWithDeadline(&mu_, wait_until)) break;  // timed out
    }
    --waiting_;
  }
  if (!idle_.empty()) {
    IdleConnection c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }
  if (size_ < settings_.max_size) {
    ++size_;  // the slot is reserved; OpenReserved opens outside the lock
    return std::nullopt;
  }
  ++totals_.acquire_timeouts_total;
  totals_.wait_time_total += absl::Now() - start;
  if (deadline <= timeout_at) {
    return absl::DeadlineExceededError(
        absl::StrCat("deadline passed while waiting for a database connection (all ",
                     settings_.max_size, " in use)"));
  }
  return absl::UnavailableError(absl::StrCat("database connection pool exhausted: all ",
                                             settings_.max_size, " connections in use for ",
                                             absl::FormatDuration(settings_.acquire_timeout)));
}

absl::StatusOr<PooledConnection> ConnectionPool::OpenReserved(absl::Time start) {
  absl::StatusOr<std::unique_ptr<DbConnection>> conn = Open();
  if (!conn.ok()) {
    absl::MutexLock lock(&mu_);
    totals_.wait_time_total += absl::Now() - start;
    --size_;
    available_.Signal();
    return conn.status();
  }
  {
    absl::MutexLock lock(&mu_);
    ++totals_.created_total;
  }
  return Lend(*std::move(conn), absl::Now(), start);
}

ConnectionPool::Verdict ConnectionPool::Check(IdleConnection& idle, absl::Time deadline) {
  const absl::Time now = absl::Now();
  if (now - idle.created >= settings_.max_lifetime) return Verdict::kExpired;
  if (now - idle.idle_since < settings_.idle_check_after) return Verdict::kLend;
  // Idle long enough that a firewall, failover or pg_terminate_backend may
  // have killed it: spend one round trip rather than fail the caller.
  bool alive = true;
  try {
    CancelWatcher::Registration watch =
        cancel_watcher().Watch(idle.conn->cancel_target(), nullptr, deadline);
    pqxx::nontransaction probe(*idle.conn);
    probe.exec("SELECT 1");
  } catch (const std::exception&) {
    alive = false;
  }
  absl::MutexLock lock(&mu_);
  ++totals_.health_checks_total;
  if (alive) return Verdict::kLend;
  ++totals_.health_check_failures_total;
  return Verdict::kDead;
}

PooledConnection ConnectionPool::Lend(std::unique_ptr<DbConnection> conn, absl::Time created,
                                      absl::Time start) {
  absl::MutexLock lock(&mu_);
  ++totals_.acquired_total;
  totals_.wait_time_total += absl::Now() - start;
  return PooledConnection(this, std::move(conn), created);
}

void ConnectionPool::Drop(std::unique_ptr<DbConnection> conn, int64_t PoolStatistics::*counter) {
  {
    absl::MutexLock lock(&mu_);
    --size_;
    ++(totals_.*counter);
    available_.Signal();
  }
  std::vector<std::unique_ptr<DbConnection>> dead;
  dead.push_back(std::move(conn));
  CloseAll(std::move(dead));
}

void ConnectionPool::Release(std::unique_ptr<DbConnection> conn, absl::Time created, bool broken) {
  const absl::Time now = absl::Now();
  const bool open = conn->is_open() && conn->cancel_target()->ReusableAfter(kCancelSettleTime);
  const bool expired = now - created >= settings_.max_lifetime;
  if (broken || !open) return Drop(std::move(conn), &PoolStatistics::broken_total);
  if (expired) return Drop(std::move(conn), &PoolStatistics::expired_total);
  absl::MutexLock lock(&mu_);
  idle_.push_back(IdleConnection{std::move(conn), created, now});
  available_.Signal();
}

void ConnectionPool::DiscardIdle() {
  std::vector<std::unique_ptr<DbConnection>> conns;
  {
    absl::MutexLock lock(&mu_);
    for (IdleConnection& c : idle_) conns.push_back(std::move(c.conn));
    size_ -= static_cast<int>(idle_.size());
    totals_.broken_total += static_cast<int64_t>(idle_.size());
    idle_.clear();
    available_.SignalAll();
  }
  CloseAll(std::move(conns));
}

PoolStatistics ConnectionPool::Stats() const {
  absl::MutexLock lock(&mu_);
  PoolStatistics s = totals_;
  s.max_size = settings_.max_size;
  s.size = size_;
  s.idle = static_cast<int>(idle_.size());
  s.in_use = size_ - s.idle;
  s.waiting = waiting_;
  return s;
}

void AppendPoolMetrics(const PoolStatistics& pool, std::string* out) {
  // PgBouncer's SHOW POOLS / SHOW STATS meanings: cl_waiting = callers
  // waiting for a connection, sv_active / sv_idle = server connections in
  // use / idle.
  AppendGauge(out, "chatgenius_pool_max_size", "POOL_MAX_SIZE.", pool.max_size);
  AppendGauge(out, "chatgenius_pool_sv_active", "Connections lent to a call.", pool.in_use);
  AppendGauge(out, "chatgenius_pool_sv_idle", "Idle open connections.", pool.idle);
  AppendGauge(out, "chatgenius_pool_cl_waiting", "Callers waiting for a connection.", pool.waiting);
  AppendCounter(out, "chatgenius_pool_acquired_total", "Connections handed out.",
                pool.acquired_total);
  AppendCounter(out, "chatgenius_pool_wait_seconds_total", "Time callers spent waiting.",
                absl::ToDoubleSeconds(pool.wait_time_total));
  AppendCounter(out, "chatgenius_pool_acquire_timeouts_total",
                "Callers that gave up waiting (UNAVAILABLE or DEADLINE_EXCEEDED).",
                pool.acquire_timeouts_total);
  AppendCounter(out, "chatgenius_pool_connections_created_total", "Connections opened.",
                pool.created_total);
  AppendCounter(out, "chatgenius_pool_connections_broken_total",
                "Connections found dead and replaced.", pool.broken_total);
  AppendCounter(out, "chatgenius_pool_connections_expired_total",
                "Connections retired at POOL_MAX_LIFETIME_MS.", pool.expired_total);
  AppendCounter(out, "chatgenius_pool_health_checks_total", "Idle-connection probes.",
                pool.health_checks_total);
  AppendCounter(out, "chatgenius_pool_health_check_failures_total", "Failed probes.",
                pool.health_check_failures_total);
}

}  // namespace chatgenius
