#include "server/db/database.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/common/log.h"
#include "server/db/statement.h"
#include "server/metrics/prometheus_text.h"

namespace chatgenius {

namespace {

// The primary's WAL write position: the sampler's, and each write's
// read-your-writes token (read after its commit).
const Statement kWalWritePosition("wal_write_position", "SELECT pg_current_wal_lsn()::text");

absl::StatusOr<Lsn> WritePosition(pqxx::transaction_base& txn) {
  return ParseLsn(Exec1(txn, kWalWritePosition)[0].c_str());
}

// A check may take up to this long before the replica counts as down.
absl::Duration CheckDeadline(const ReplicaRouting& r) {
  return std::max(r.check_interval * 2, absl::Milliseconds(250));
}

// ReplicaCannotAnswer: the read should run again on the primary — the
// replica's connection was lost or refused (UNAVAILABLE), or recovery
// cancelled the query (a conflict with replay: SQLSTATE 40001, ABORTED).
bool ReplicaCannotAnswer(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable || s.code() == absl::StatusCode::kAborted;
}

}  // namespace

Database::Database(ConnectionPool* primary) : Database(primary, ReplicaRouting{}) {}

Database::Database(ConnectionPool* primary, ReplicaRouting routing)
    : primary_(primary),
      routing_(std::move(routing)),
      // Keeps every sample a replica within the bound could still match.
      clock_(routing_.max_staleness + CheckDeadline(routing_) * 2) {
  if (routing_.replicas.empty()) return;
  PoolSettings sampler = routing_.primary_sampler;
  sampler.max_size = 1;
  sampler_ = std::make_unique<ConnectionPool>(std::move(sampler));
  for (ReplicaSettings& r : routing_.replicas) {
    replicas_.push_back(std::make_unique<Replica>(std::move(r)));
  }
  routing_.replicas.clear();  // each Replica holds its own settings
  checkers_.emplace_back([this] { SampleLoop(); });
  for (auto& r : replicas_) checkers_.emplace_back([this, r = r.get()] { CheckLoop(r); });
}

Database::~Database() {
  stop_.Notify();
  for (std::thread& t : checkers_) t.join();
}

void Database::SampleLoop() {
  do {
    const absl::Time at = absl::Now();
    absl::StatusOr<Lsn> lsn =
        RunReadOnly(*sampler_, CallLimits(at + CheckDeadline(routing_)),
                    [](pqxx::transaction_base& txn) { return WritePosition(txn); });
    // Without a sample the replicas' bound ages, and they leave rotation
    // once it passes max_staleness: staleness is never guessed.
    if (lsn.ok()) clock_.Record(at, *lsn);
  } while (!stop_.WaitForNotificationWithTimeout(routing_.check_interval));
}

void Database::CheckLoop(Replica* replica) {
  ReplicaState was = ReplicaState::kUnchecked;
  do {
    replica->Check(clock_, absl::Now() + CheckDeadline(routing_));
    const ReplicaStatus now = replica->Status(routing_.max_staleness);
    if (now.state != was) {
      Log(now.state == ReplicaState::kStreaming ? LogLevel::kInfo : LogLevel::kWarning,
          "read replica state changed",
          {{"replica", replica->name()},
           {"state", ReplicaStateName(now.state)},
           {"error", now.last_error}});
      was = now.state;
    }
  } while (!stop_.WaitForNotificationWithTimeout(routing_.check_interval));
}

Replica* Database::ReaderFor(const CallLimits& limits) {
  if (replicas_.empty()) return nullptr;
  if (limits.min_lsn == CallLimits::kPrimaryOnly) {
    lsn_not_replayed_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  const size_t n = replicas_.size();
  const size_t start = next_.fetch_add(1, std::memory_order_relaxed) % n;
  Replica* behind = nullptr;  // in rotation, not known to hold min_lsn yet
  for (size_t i = 0; i < n; ++i) {
    Replica* r = replicas_[(start + i) % n].get();
    if (!r->InRotation(routing_.max_staleness)) continue;
    if (limits.min_lsn == 0 || r->replay_lsn() >= limits.min_lsn) return r;
    if (behind == nullptr) behind = r;
  }
  if (behind == nullptr) {
    none_in_rotation_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  if (behind->AwaitReplay(limits.min_lsn, absl::Now() + routing_.lsn_wait, limits)) return behind;
  lsn_not_replayed_.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

absl::Status RunInTransaction(Database& db, const CallLimits& limits, const TransactionBody& body,
                              const ConstraintMessages* messages) {
  if (!db.has_replicas() || !limits.committed) {
    return RunInTransaction(db.primary(), limits, body, messages);
  }
  return RunInTransactionThen(
      db.primary(), limits, body,
      [&](pqxx::transaction_base& after) {
        absl::StatusOr<Lsn> lsn = WritePosition(after);
        if (!lsn.ok()) {
          LogWarning(absl::StrCat("commit position: ", lsn.status().message()));
          return;
        }
        db.commit_positions_.fetch_add(1, std::memory_order_relaxed);
        limits.committed(*lsn);
      },
      messages);
}

absl::Status RunReadOnly(Database& db, const CallLimits& limits, const TransactionBody& body) {
  if (Replica* replica = db.ReaderFor(limits)) {
    replica->CountRead();
    absl::Status s = RunReadOnly(replica->pool(), limits, body);
    if (!ReplicaCannotAnswer(s)) return s;
    replica->Failed(s);
    db.replica_failed_.fetch_add(1, std::memory_order_relaxed);
  }
  db.primary_reads_.fetch_add(1, std::memory_order_relaxed);
  return RunReadOnly(db.primary(), limits, body);
}

std::vector<ReplicaStatus> Database::ReplicaStatuses() const {
  std::vector<ReplicaStatus> out;
  for (const auto& r : replicas_) out.push_back(r->Status(routing_.max_staleness));
  return out;
}

ReadRoutingStatistics Database::RoutingStats() const {
  ReadRoutingStatistics s;
  s.primary_reads = primary_reads_.load(std::memory_order_relaxed);
  s.fallback_none_in_rotation = none_in_rotation_.load(std::memory_order_relaxed);
  s.fallback_lsn_not_replayed = lsn_not_replayed_.load(std::memory_order_relaxed);
  s.fallback_replica_failed = replica_failed_.load(std::memory_order_relaxed);
  s.commit_positions = commit_positions_.load(std::memory_order_relaxed);
  s.primary_lsn = clock_.newest();
  return s;
}

void Database::AppendMetrics(std::string* out) const {
  AppendGauge(out, "chatgenius_db_replicas", "Read replicas configured (POSTGRES_REPLICA_HOSTS).",
              static_cast<double>(replicas_.size()));
  const ReadRoutingStatistics s = RoutingStats();
  const std::vector<ReplicaStatus> replicas = ReplicaStatuses();
  AppendFamilyHeader(out, "chatgenius_db_reads_total", "counter",
                     "Autocommit reads by the host that served them.");
  AppendSample(out, "chatgenius_db_reads_total", {{"host", "primary"}}, s.primary_reads);
  for (const ReplicaStatus& r : replicas) {
    AppendSample(out, "chatgenius_db_reads_total", {{"host", r.name}}, r.reads_total);
  }
  AppendFamilyHeader(out, "chatgenius_db_read_fallbacks_total", "counter",
                     "Reads run on the primary although replicas are configured, by reason.");
  AppendSample(out, "chatgenius_db_read_fallbacks_total", {{"reason", "none_in_rotation"}},
               s.fallback_none_in_rotation);
  AppendSample(out, "chatgenius_db_read_fallbacks_total", {{"reason", "lsn_not_replayed"}},
               s.fallback_lsn_not_replayed);
  AppendSample(out, "chatgenius_db_read_fallbacks_total", {{"reason", "replica_failed"}},
               s.fallback_replica_failed);
  AppendCounter(out, "chatgenius_db_commit_positions_total",
                "Write positions (chatgenius-commit-lsn) reported to callers.", s.commit_positions);
  if (replicas.empty()) return;
  struct Family {
    const char* name;
    const char* type;
    const char* help;
    double (*value)(const ReplicaStatus&);
  };
  static const Family kFamilies[] = {
      {"chatgenius_db_replica_in_rotation", "gauge", "1 while the replica serves reads.",
       [](const ReplicaStatus& r) { return r.in_rotation ? 1.0 : 0.0; }},
      {"chatgenius_db_replica_up", "gauge", "1 while the last check found it streaming.",
       [](const ReplicaStatus& r) { return r.state == ReplicaState::kStreaming ? 1.0 : 0.0; }},
      {"chatgenius_db_replica_staleness_seconds", "gauge",
       "Upper bound on how far behind the primary it is (+Inf: unknown).",
       [](const ReplicaStatus& r) { return absl::ToDoubleSeconds(r.staleness); }},
      {"chatgenius_db_replica_replay_lsn", "gauge", "pg_last_wal_replay_lsn() as a byte offset.",
       [](const ReplicaStatus& r) { return static_cast<double>(r.replay_lsn); }},
      {"chatgenius_db_replica_checks_failed_total", "counter", "Failed health checks.",
       [](const ReplicaStatus& r) { return static_cast<double>(r.checks_failed_total); }},
      {"chatgenius_db_replica_pool_sv_active", "gauge", "Replica connections lent to a call.",
       [](const ReplicaStatus& r) { return static_cast<double>(r.pool.in_use); }},
      {"chatgenius_db_replica_pool_sv_idle", "gauge", "Idle open replica connections.",
       [](const ReplicaStatus& r) { return static_cast<double>(r.pool.idle); }},
      {"chatgenius_db_replica_pool_cl_waiting", "gauge",
       "Callers waiting for a replica connection.",
       [](const ReplicaStatus& r) { return static_cast<double>(r.pool.waiting); }},
  };
  for (const Family& f : kFamilies) {
    AppendFamilyHeader(out, f.name, f.type, f.help);
    for (const ReplicaStatus& r : replicas)
      AppendSample(out, f.name, {{"replica", r.name}}, f.value(r));
  }
}

}  // namespace chatgenius
