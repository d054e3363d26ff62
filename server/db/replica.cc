#include "server/db/replica.h"

#include <optional>
#include <utility>

#include "absl/time/clock.h"
#include "server/db/statement.h"
#include "server/db/transaction.h"

namespace chatgenius {

namespace {

// NULL replay position: not a standby (or one that never replayed).
const Statement kReplicaCheck("replica_check",
                              "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
                              "extract(epoch FROM pg_last_xact_replay_timestamp())::float8");
const Statement kReplicaReplayPosition("replica_replay_position",
                                       "SELECT pg_last_wal_replay_lsn()::text");

struct Observation {
  bool in_recovery = false;
  Lsn replay_lsn = 0;
  absl::Time last_replayed_commit = absl::InfinitePast();
};

absl::StatusOr<Lsn> ReplayPosition(const pqxx::field& field) {
  if (field.is_null()) return Lsn{0};
  return ParseLsn(field.c_str());
}

}  // namespace

const char* ReplicaStateName(ReplicaState state) {
  switch (state) {
    case ReplicaState::kUnchecked:
      return "unchecked";
    case ReplicaState::kStreaming:
      return "streaming";
    case ReplicaState::kDown:
      return "down";
    case ReplicaState::kPromoted:
      return "promoted";
  }
  return "unknown";
}

namespace {
PoolSettings OneConnection(PoolSettings settings) {
  settings.max_size = 1;
  return settings;
}
}  // namespace

Replica::Replica(ReplicaSettings settings)
    : settings_(std::move(settings)),
      pool_(settings_.pool),
      check_pool_(OneConnection(settings_.pool)) {}

void Replica::Check(const WalClock& clock, absl::Time deadline) {
  absl::StatusOr<Observation> seen = RunReadOnly(
      check_pool_, CallLimits(deadline),
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<Observation> {
        pqxx::row row = Exec1(txn, kReplicaCheck);
        Observation out;
        out.in_recovery = row[0].as<bool>();
        absl::StatusOr<Lsn> lsn = ReplayPosition(row[1]);
        if (!lsn.ok()) return lsn.status();
        out.replay_lsn = *lsn;
        if (!row[2].is_null()) {
          out.last_replayed_commit =
              absl::FromUnixMicros(static_cast<int64_t>(row[2].as<double>() * 1e6));
        }
        return out;
      });
  const absl::Time now = absl::Now();
  if (!seen.ok()) {
    pool_.DiscardIdle();
    check_pool_.DiscardIdle();
    absl::MutexLock lock(&mu_);
    state_ = ReplicaState::kDown;
    ForgetPositionLocked();
    checked_at_ = now;
    last_error_ = std::string(seen.status().message());
    ++checks_failed_;
    return;
  }
  const absl::Time fresh = clock.FreshAsOf(seen->replay_lsn);
  absl::MutexLock lock(&mu_);
  state_ = seen->in_recovery ? ReplicaState::kStreaming : ReplicaState::kPromoted;
  checked_at_ = now;
  last_error_.clear();
  last_replayed_commit_ = seen->last_replayed_commit;
  // What a check sees is the truth, also when it is less than before: a
  // restarted standby shows data as of where it resumed replay.
  replay_lsn_ = seen->replay_lsn;
  fresh_as_of_ = fresh;
}

void Replica::ForgetPositionLocked() {
  replay_lsn_ = 0;
  fresh_as_of_ = absl::InfinitePast();
}

bool Replica::InRotation(absl::Duration max_staleness) const {
  absl::MutexLock lock(&mu_);
  return InRotationLocked(absl::Now(), max_staleness);
}

bool Replica::InRotationLocked(absl::Time now, absl::Duration max_staleness) const {
  return state_ == ReplicaState::kStreaming && now - fresh_as_of_ <= max_staleness;
}

Lsn Replica::replay_lsn() const {
  absl::MutexLock lock(&mu_);
  return replay_lsn_;
}

void Replica::Failed(const absl::Status& error) {
  absl::MutexLock lock(&mu_);
  state_ = ReplicaState::kDown;
  ForgetPositionLocked();
  last_error_ = std::string(error.message());
}

void Replica::Replayed(Lsn lsn) {
  absl::MutexLock lock(&mu_);
  replay_lsn_ = std::max(replay_lsn_, lsn);
}

bool Replica::AwaitReplay(Lsn lsn, absl::Time until, const CallLimits& limits) {
  {
    absl::MutexLock lock(&mu_);
    if (replay_lsn_ >= lsn) return true;
  }
  until = std::min(until, limits.deadline);
  absl::StatusOr<bool> replayed = RunReadOnly(
      pool_, CallLimits(until, limits.cancelled),
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<bool> {
        while (true) {
          absl::StatusOr<Lsn> now = ReplayPosition(Exec1(txn, kReplicaReplayPosition)[0]);
          if (!now.ok()) return now.status();
          if (*now >= lsn) {
            Replayed(*now);
            return true;
          }
          if (absl::Now() + absl::Milliseconds(1) >= until || limits.IsCancelled()) {
            return false;
          }
          absl::SleepFor(absl::Milliseconds(1));
        }
      });
  return replayed.ok() && *replayed;
}

ReplicaStatus Replica::Status(absl::Duration max_staleness) const {
  ReplicaStatus out;
  out.name = settings_.name;
  out.reads_total = reads_.load(std::memory_order_relaxed);
  out.pool = pool_.Stats();
  absl::MutexLock lock(&mu_);
  out.state = state_;
  out.replay_lsn = replay_lsn_;
  const absl::Time now = absl::Now();
  out.staleness =
      fresh_as_of_ == absl::InfinitePast() ? absl::InfiniteDuration() : now - fresh_as_of_;
  out.in_rotation = InRotationLocked(now, max_staleness);
  out.last_replayed_commit = last_replayed_commit_;
  out.checked_at = checked_at_;
  out.last_error = last_error_;
  out.checks_failed_total = checks_failed_;
  return out;
}

}  // namespace chatgenius
