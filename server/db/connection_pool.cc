#include "server/db/connection_pool.h"

#include <optional>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/common/log.h"
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

absl::StatusOr<PooledConnection> ConnectionPool::Acquire(absl::Time deadline) {
  const absl::Time start = absl::Now();
  if (deadline <= start) {
    return absl::DeadlineExceededError("deadline passed before acquiring a database connection");
  }
  const absl::Time timeout_at = start + settings_.acquire_timeout;
  const absl::Time wait_until = std::min(deadline, timeout_at);

  while (true) {
    std::optional<IdleConnection> candidate;
    bool open_new = false;
    {
      absl::MutexLock lock(&mu_);
      if (idle_.empty() && size_ >= settings_.max_size) {
        ++waiting_;
        while (idle_.empty() && size_ >= settings_.max_size) {
          if (available_.WaitWithDeadline(&mu_, wait_until)) break;  // timed out
        }
        --waiting_;
      }
      if (!idle_.empty()) {
        candidate = std::move(idle_.back());
        idle_.pop_back();
      } else if (size_ < settings_.max_size) {
        ++size_;  // reserve the slot; the connection is opened outside the lock
        open_new = true;
      } else {
        ++totals_.acquire_timeouts_total;
        totals_.wait_time_total += absl::Now() - start;
        if (deadline <= timeout_at) {
          return absl::DeadlineExceededError(
              absl::StrCat("deadline passed while waiting for a database connection (all ",
                           settings_.max_size, " in use)"));
        }
        return absl::UnavailableError(absl::StrCat(
            "database connection pool exhausted: all ", settings_.max_size,
            " connections in use for ", absl::FormatDuration(settings_.acquire_timeout)));
      }
    }

    if (open_new) {
      absl::StatusOr<std::unique_ptr<DbConnection>> conn = Open();
      absl::MutexLock lock(&mu_);
      totals_.wait_time_total += absl::Now() - start;
      if (!conn.ok()) {
        --size_;
        available_.Signal();
        return conn.status();
      }
      ++totals_.created_total;
      ++totals_.acquired_total;
      return PooledConnection(this, std::move(*conn), absl::Now());
    }

    const absl::Time now = absl::Now();
    bool discard = false;
    bool expired = false;
    if (now - candidate->created >= settings_.max_lifetime) {
      discard = expired = true;
    } else if (now - candidate->idle_since >= settings_.idle_check_after) {
      // Idle long enough that a firewall, failover or pg_terminate_backend
      // may have killed it: spend one round trip rather than fail the caller.
      bool alive = true;
      try {
        CancelWatcher::Registration watch =
            CancelWatcher::Global().Watch(candidate->conn->cancel_target(), nullptr, deadline);
        pqxx::nontransaction probe(*candidate->conn);
        probe.exec("SELECT 1");
      } catch (const std::exception&) {
        alive = false;
      }
      absl::MutexLock lock(&mu_);
      ++totals_.health_checks_total;
      if (!alive) {
        ++totals_.health_check_failures_total;
        ++totals_.broken_total;
        discard = true;
      }
    }
    if (discard) {
      {
        absl::MutexLock lock(&mu_);
        --size_;
        if (expired) ++totals_.expired_total;
        available_.Signal();
      }
      std::vector<std::unique_ptr<DbConnection>> dead;
      dead.push_back(std::move(candidate->conn));
      CloseAll(std::move(dead));
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError(
            "deadline passed while checking an idle database connection");
      }
      continue;  // try the next idle connection or open a fresh one
    }
    absl::MutexLock lock(&mu_);
    ++totals_.acquired_total;
    totals_.wait_time_total += absl::Now() - start;
    return PooledConnection(this, std::move(candidate->conn), candidate->created);
  }
}

void ConnectionPool::Release(std::unique_ptr<DbConnection> conn, absl::Time created, bool broken) {
  const absl::Time now = absl::Now();
  bool open = conn->is_open() && conn->cancel_target()->ReusableAfter(kCancelSettleTime);
  bool expired = now - created >= settings_.max_lifetime;
  if (!broken && open && !expired) {
    absl::MutexLock lock(&mu_);
    idle_.push_back(IdleConnection{std::move(conn), created, now});
    available_.Signal();
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    --size_;
    if (broken || !open) {
      ++totals_.broken_total;
    } else {
      ++totals_.expired_total;
    }
    available_.Signal();
  }
  std::vector<std::unique_ptr<DbConnection>> dead;
  dead.push_back(std::move(conn));
  CloseAll(std::move(dead));
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
