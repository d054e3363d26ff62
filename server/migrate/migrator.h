// migrator.h
//
// Versioned schema migrations with a history table, in the manner of
// Flyway. Migration files are named V<version>__<description>.sql
// (V0001__init.sql); each is applied in its own transaction and recorded in
// `schema_migrations` with its SHA-256 checksum, time and duration.
// Several servers starting at once serialise on a PostgreSQL advisory lock
// held by a dedicated session, so each migration runs exactly once.
//
// Example:
//   ASSIGN_OR_RETURN(std::vector<MigrationFile> files, BuiltinMigrations());
//   Migrator migrator(conninfo, &pool, files);
//   ASSIGN_OR_RETURN(MigrationReport report, migrator.Apply());
#ifndef CHATGENIUS_SERVER_MIGRATE_MIGRATOR_H_
#define CHATGENIUS_SERVER_MIGRATE_MIGRATOR_H_

#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/db/call_limits.h"
#include "server/db/connection_pool.h"
#include "server/migrate/embedded_migrations.h"

namespace chatgenius {

// MigrationFile is one parsed migration.
struct MigrationFile {
  int version = 0;
  std::string description;  // from the file name, '_' read as ' '
  std::string sql;
  std::string checksum;  // lower-case hex SHA-256 of the file contents
};

// ParseMigrations validates names (V<digits>__<description>.sql), rejects
// duplicate versions, computes checksums and sorts by version.
// INVALID_ARGUMENT naming the file on error.
[[nodiscard]] absl::StatusOr<std::vector<MigrationFile>> ParseMigrations(
    const std::vector<EmbeddedFile>& files);

// BuiltinMigrations parses the migrations compiled into this binary.
[[nodiscard]] absl::StatusOr<std::vector<MigrationFile>> BuiltinMigrations();

// MigrationState of one version, comparing the binary with the database.
enum class MigrationState {
  kApplied,           // recorded with the same checksum
  kPending,           // in the binary only
  kChecksumMismatch,  // recorded, but the file changed since
  kUnknown,           // recorded, but not in this binary (a newer binary ran)
  kFailed,            // recorded as failed (rolled back)
};

// MigrationInfo describes one version.
struct MigrationInfo {
  int version = 0;
  std::string description;
  MigrationState state = MigrationState::kPending;
  std::string checksum;          // of the file in the binary
  std::string applied_checksum;  // recorded in the database
  std::optional<absl::Time> installed_at;
  absl::Duration execution_time;
};

// MigrationReport is the status of every known version.
struct MigrationReport {
  int current_version = 0;  // highest successfully applied version
  int latest_version = 0;   // highest version in the binary
  // Nothing pending, mismatched or failed. Versions unknown to this binary
  // (applied by a newer one during a rolling upgrade) do not count: schema
  // changes are written to be backward compatible.
  bool up_to_date = false;
  std::vector<MigrationInfo> migrations;  // ordered by version
};

// kMigrationsTable is the history table's name.
inline constexpr char kMigrationsTable[] = "schema_migrations";

// Migrator reports and applies migrations. Thread-safe.
class Migrator {
 public:
  // `conninfo` opens the dedicated session that holds the advisory lock
  // while applying; `pool` serves status reads. Both must be the same
  // database.
  Migrator(std::string conninfo, ConnectionPool* pool, std::vector<MigrationFile> migrations);

  // Status compares the binary's migrations with the history table (a
  // missing table means everything is pending).
  [[nodiscard]] absl::StatusOr<MigrationReport> Status(const CallLimits& call) const;

  // StatusIn is Status inside a caller's transaction.
  [[nodiscard]] absl::StatusOr<MigrationReport> StatusIn(pqxx::transaction_base& txn) const;

  // Apply takes the advisory lock, applies every pending (or previously
  // failed) migration in version order, each in its own transaction, and
  // returns the resulting report. FAILED_PRECONDITION without applying
  // anything if an applied migration's checksum differs; on a failing
  // migration, records the failure and returns its error (earlier
  // migrations stay applied). A finite `deadline` (an ApplyMigrations
  // caller's) bounds the wait for the advisory lock (another migrator) and
  // each migration's statements: DEADLINE_EXCEEDED once it passes, the
  // migration running then rolled back.
  [[nodiscard]] absl::StatusOr<MigrationReport> Apply(
      absl::Time deadline = absl::InfiniteFuture()) const;

  const std::vector<MigrationFile>& migrations() const { return migrations_; }

 private:
  const std::string conninfo_;
  ConnectionPool* const pool_;
  const std::vector<MigrationFile> migrations_;
};

// MigrationStateName returns "applied", "pending", ... for logs and CLIs.
const char* MigrationStateName(MigrationState state);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_MIGRATE_MIGRATOR_H_
