#include "server/migrate/migrator.h"

#include <openssl/sha.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "server/common/status_macros.h"
#include "server/db/pg_error.h"
#include "server/db/transaction.h"

namespace chatgenius {
namespace {

// Advisory lock key shared by every ChatGenius server: "cgdb" + migration.
constexpr int64_t kAdvisoryLockKey = 0x6367646200000001;

constexpr char kCreateHistoryTable[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version       integer PRIMARY KEY,
  description   text NOT NULL,
  checksum      text NOT NULL,
  installed_at  timestamptz NOT NULL DEFAULT now(),
  execution_ms  integer NOT NULL,
  success       boolean NOT NULL
))sql";

constexpr char kReadHistory[] =
    "SELECT version, description, checksum, "
    "extract(epoch FROM installed_at)::float8, execution_ms, success "
    "FROM schema_migrations ORDER BY version";

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

struct HistoryRow {
  int version;
  std::string description;
  std::string checksum;
  absl::Time installed_at;
  int execution_ms;
  bool success;
};

std::vector<HistoryRow> ReadHistory(pqxx::transaction_base& txn) {
  // to_regclass tells a missing table apart without an error that would
  // abort the surrounding transaction.
  pqxx::result exists =
      txn.exec(absl::StrCat("SELECT to_regclass('", kMigrationsTable, "') IS NOT NULL"));
  std::vector<HistoryRow> rows;
  if (!exists[0][0].as<bool>()) return rows;
  for (const pqxx::row& r : txn.exec(kReadHistory)) {
    rows.push_back(HistoryRow{r[0].as<int>(), r[1].as<std::string>(), r[2].as<std::string>(),
                              absl::FromUnixMicros(static_cast<int64_t>(r[3].as<double>() * 1e6)),
                              r[4].as<int>(), r[5].as<bool>()});
  }
  return rows;
}

MigrationReport BuildReport(const std::vector<MigrationFile>& files,
                            const std::vector<HistoryRow>& history) {
  std::map<int, MigrationInfo> by_version;
  MigrationReport report;
  for (const MigrationFile& f : files) {
    MigrationInfo info;
    info.version = f.version;
    info.description = f.description;
    info.checksum = f.checksum;
    info.state = MigrationState::kPending;
    by_version[f.version] = info;
    report.latest_version = std::max(report.latest_version, f.version);
  }
  for (const HistoryRow& h : history) {
    MigrationInfo& info = by_version[h.version];
    bool known = !info.checksum.empty();
    info.version = h.version;
    if (info.description.empty()) info.description = h.description;
    info.applied_checksum = h.checksum;
    info.installed_at = h.installed_at;
    info.execution_time = absl::Milliseconds(h.execution_ms);
    if (!h.success) {
      info.state = MigrationState::kFailed;
    } else if (!known) {
      info.state = MigrationState::kUnknown;
    } else if (h.checksum != info.checksum) {
      info.state = MigrationState::kChecksumMismatch;
    } else {
      info.state = MigrationState::kApplied;
    }
    if (h.success) report.current_version = std::max(report.current_version, h.version);
  }
  report.up_to_date = true;
  for (auto& [version, info] : by_version) {
    if (info.state == MigrationState::kPending || info.state == MigrationState::kFailed ||
        info.state == MigrationState::kChecksumMismatch) {
      report.up_to_date = false;
    }
    report.migrations.push_back(std::move(info));
  }
  return report;
}

// Releases the advisory lock (and the session) when the apply ends, also on
// errors. Closing the session would release it too; unlocking explicitly
// keeps the lock's lifetime obvious.
class AdvisoryLock {
 public:
  explicit AdvisoryLock(pqxx::connection& conn) : conn_(conn) {
    pqxx::nontransaction(conn_).exec(
        absl::StrCat("SELECT pg_advisory_lock(", kAdvisoryLockKey, ")"));
  }
  ~AdvisoryLock() {
    try {
      pqxx::nontransaction(conn_).exec(
          absl::StrCat("SELECT pg_advisory_unlock(", kAdvisoryLockKey, ")"));
    } catch (const std::exception&) {
      // The session is going away; PostgreSQL drops the lock with it.
    }
  }

 private:
  pqxx::connection& conn_;
};

}  // namespace

const char* MigrationStateName(MigrationState state) {
  switch (state) {
    case MigrationState::kApplied:
      return "applied";
    case MigrationState::kPending:
      return "pending";
    case MigrationState::kChecksumMismatch:
      return "checksum_mismatch";
    case MigrationState::kUnknown:
      return "unknown";
    case MigrationState::kFailed:
      return "failed";
  }
  return "?";
}

absl::StatusOr<std::vector<MigrationFile>> ParseMigrations(const std::vector<EmbeddedFile>& files) {
  std::vector<MigrationFile> out;
  std::set<int> versions;
  for (const EmbeddedFile& file : files) {
    absl::string_view name = file.name;
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("migration file '", file.name, "': ", why,
                       " (expected V<version>__<description>.sql, e.g. V0002__add_events.sql)"));
    };
    if (!absl::ConsumePrefix(&name, "V") || !absl::ConsumeSuffix(&name, ".sql")) {
      return bad("bad name");
    }
    size_t sep = name.find("__");
    if (sep == absl::string_view::npos || sep == 0 || sep + 2 >= name.size()) {
      return bad("bad name");
    }
    int version = 0;
    absl::string_view digits = name.substr(0, sep);
    if (!std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(digits, &version) || version <= 0) {
      return bad("version must be a positive integer");
    }
    if (!versions.insert(version).second) return bad("duplicate version");
    MigrationFile m;
    m.version = version;
    m.description = absl::StrReplaceAll(name.substr(sep + 2), {{"_", " "}});
    m.sql = file.contents;
    m.checksum = Sha256Hex(file.contents);
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const MigrationFile& a, const MigrationFile& b) { return a.version < b.version; });
  return out;
}

absl::StatusOr<std::vector<MigrationFile>> BuiltinMigrations() {
  return ParseMigrations(EmbeddedMigrationFiles());
}

Migrator::Migrator(std::string conninfo, ConnectionPool* pool,
                   std::vector<MigrationFile> migrations)
    : conninfo_(std::move(conninfo)), pool_(pool), migrations_(std::move(migrations)) {}

absl::StatusOr<MigrationReport> Migrator::StatusIn(pqxx::transaction_base& txn) const {
  return BuildReport(migrations_, ReadHistory(txn));
}

absl::StatusOr<MigrationReport> Migrator::Status(const CallLimits& call) const {
  MigrationReport report;
  // Read-only and run by the readiness probe at every interval: autocommit
  // saves BEGIN and COMMIT.
  RETURN_IF_ERROR(RunReadOnly(*pool_, call, [&](pqxx::transaction_base& txn) -> absl::Status {
    ASSIGN_OR_RETURN(report, StatusIn(txn));
    return absl::OkStatus();
  }));
  return report;
}

namespace {

// Bounds this session's lock waits and statements by `deadline` (never
// loosening a tighter lock_timeout the connection string set). False once
// the deadline has passed.
bool BoundBy(pqxx::connection& conn, absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return true;
  const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  if (ms <= 0) return false;
  pqxx::nontransaction q(conn);
  q.exec_params(
      "SELECT set_config('statement_timeout', $1 || 'ms', false), "
      "set_config('lock_timeout', CASE WHEN current_setting('lock_timeout') = '0' "
      "OR current_setting('lock_timeout')::interval > ($1 || ' ms')::interval "
      "THEN $1 || 'ms' ELSE current_setting('lock_timeout') END, false)",
      std::to_string(ms));
  return true;
}

absl::Status PastDeadline(absl::string_view what) {
  return absl::DeadlineExceededError(absl::StrCat("ApplyMigrations: the deadline passed ", what));
}

// The history row of an attempt: applied (or re-applied after a failure),
// or failed (rolled back; the file's checksum is kept only on success).
constexpr char kRecordAppliedSql[] =
    "INSERT INTO schema_migrations (version, description, checksum, execution_ms, "
    "success) VALUES ($1, $2, $3, $4, true) "
    "ON CONFLICT (version) DO UPDATE SET description = EXCLUDED.description, "
    "checksum = EXCLUDED.checksum, installed_at = now(), "
    "execution_ms = EXCLUDED.execution_ms, success = true";
constexpr char kRecordFailedSql[] =
    "INSERT INTO schema_migrations (version, description, checksum, execution_ms, "
    "success) VALUES ($1, $2, $3, $4, false) "
    "ON CONFLICT (version) DO UPDATE SET installed_at = now(), "
    "execution_ms = EXCLUDED.execution_ms, success = false";

// An applied migration whose file changed since is refused: history must
// not be rewritten.
absl::Status RequireUnedited(const MigrationReport& report) {
  for (const MigrationInfo& info : report.migrations) {
    if (info.state == MigrationState::kChecksumMismatch) {
      return absl::FailedPreconditionError(absl::StrCat(
          "migration V", info.version, " (", info.description, ") was applied with checksum ",
          info.applied_checksum, " but the file in this binary has ", info.checksum,
          "; applied migrations must not be edited — add a new migration instead"));
    }
  }
  return absl::OkStatus();
}

bool PastOrNearly(absl::Time deadline) { return absl::Now() >= deadline - absl::Milliseconds(5); }

// ApplyOne runs `m` in its own transaction and records the outcome. A
// failure cut off by the deadline is left pending (not a defect of the
// file); any other is recorded as failed and returned FAILED_PRECONDITION
// (UNAVAILABLE if the database went away). A broken connection throws.
absl::Status ApplyOne(pqxx::connection& conn, const MigrationFile& m, absl::Time deadline) {
  if (!BoundBy(conn, deadline)) return PastDeadline(absl::StrCat("before migration V", m.version));
  const absl::Time start = absl::Now();
  const auto elapsed_ms = [&] {
    return static_cast<int>(absl::ToInt64Milliseconds(absl::Now() - start));
  };
  try {
    pqxx::work txn(conn);
    txn.exec(m.sql);
    txn.exec_params(kRecordAppliedSql, m.version, m.description, m.checksum, elapsed_ms());
    txn.commit();
    return absl::OkStatus();
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const std::exception& e) {
    absl::Status cause = StatusFromException(e);
    if (PastOrNearly(deadline)) {
      return PastDeadline(absl::StrCat("during migration V", m.version, "; rolled back"));
    }
    pqxx::work record(conn);
    record.exec_params(kRecordFailedSql, m.version, m.description, m.checksum, elapsed_ms());
    record.commit();
    return absl::Status(cause.code() == absl::StatusCode::kUnavailable
                            ? cause.code()
                            : absl::StatusCode::kFailedPrecondition,
                        absl::StrCat("migration V", m.version, " (", m.description,
                                     ") failed and was rolled back: ", cause.message()));
  }
}

}  // namespace

absl::StatusOr<MigrationReport> Migrator::Apply(absl::Time deadline) const {
  try {
    pqxx::connection conn(conninfo_);
    if (!BoundBy(conn, deadline)) return PastDeadline("before it started");
    std::optional<AdvisoryLock> lock;
    try {
      lock.emplace(conn);
    } catch (const std::exception& e) {
      if (PastOrNearly(deadline)) return PastDeadline("waiting for another migrator's lock");
      throw;
    }
    pqxx::nontransaction(conn).exec(kCreateHistoryTable);
    std::vector<HistoryRow> history;
    {
      pqxx::work txn(conn);
      history = ReadHistory(txn);
      txn.commit();
    }
    const MigrationReport before = BuildReport(migrations_, history);
    RETURN_IF_ERROR(RequireUnedited(before));
    for (const MigrationFile& m : migrations_) {
      auto it = std::find_if(before.migrations.begin(), before.migrations.end(),
                             [&](const MigrationInfo& i) { return i.version == m.version; });
      if (it->state != MigrationState::kPending && it->state != MigrationState::kFailed) continue;
      RETURN_IF_ERROR(ApplyOne(conn, m, deadline));
    }
    pqxx::work txn(conn);
    MigrationReport after = BuildReport(migrations_, ReadHistory(txn));
    txn.commit();
    return after;
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

}  // namespace chatgenius
