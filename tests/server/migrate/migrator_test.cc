// Migrator against a real PostgreSQL: apply, re-run, edited files,
// concurrent servers, failing migrations.
#include "server/migrate/migrator.h"

#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/db/transaction.h"
#include "tests/support/test_database.h"

namespace chatgenius {
namespace {

std::vector<MigrationFile> Parse(const std::vector<EmbeddedFile>& files) {
  absl::StatusOr<std::vector<MigrationFile>> parsed = ParseMigrations(files);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : std::vector<MigrationFile>{};
}

class MigratorTest : public ::testing::Test {
 protected:
  MigratorTest() : pool_(PoolSettings{db_.conninfo()}) {}

  std::string Query(const std::string& sql) {
    std::string out;
    absl::Status s =
        RunInTransaction(pool_, absl::Now() + absl::Seconds(10), [&](pqxx::transaction_base& txn) {
          pqxx::result r = txn.exec(sql);
          out = r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
          return absl::OkStatus();
        });
    EXPECT_TRUE(s.ok()) << sql << ": " << s;
    return out;
  }

  testing::TestDatabase db_;
  ConnectionPool pool_;
};

TEST(ParseMigrationsTest, NamesVersionsAndChecksums) {
  absl::StatusOr<std::vector<MigrationFile>> parsed =
      ParseMigrations({{"V0002__add_events.sql", "SELECT 2;"}, {"V0001__init.sql", "SELECT 1;"}});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].version, 1) << "sorted by version";
  EXPECT_EQ((*parsed)[1].description, "add events");
  EXPECT_EQ((*parsed)[0].checksum,
            "17db4fd369edb9244b9f91d9aeed145c3d04ad8ba6e95d06247f07a63527d11a")
      << "hex SHA-256 of the file contents (sha256sum of 'SELECT 1;')";
  for (const std::vector<EmbeddedFile>& bad : std::vector<std::vector<EmbeddedFile>>{
           {{"0001__x.sql", ""}},
           {{"V1_x.sql", ""}},
           {{"Vx__y.sql", ""}},
           {{"V1__.sql", ""}},
           {{"V0__zero.sql", ""}},
           {{"V1__a.sql", ""}, {"V001__b.sql", ""}},
       }) {
    absl::StatusOr<std::vector<MigrationFile>> r = ParseMigrations(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << bad.back().name << " must be rejected";
  }
}

TEST(ParseMigrationsTest, BuiltinMigrationsParse) {
  absl::StatusOr<std::vector<MigrationFile>> builtin = BuiltinMigrations();
  ASSERT_TRUE(builtin.ok()) << builtin.status();
  ASSERT_FALSE(builtin->empty());
  EXPECT_EQ(builtin->front().version, 1);
  EXPECT_TRUE(absl::StrContains(builtin->front().sql, "CREATE TABLE users"));
}

TEST_F(MigratorTest, AppliesBuiltinSchemaToEmptyDatabase) {
  absl::StatusOr<std::vector<MigrationFile>> builtin = BuiltinMigrations();
  ASSERT_TRUE(builtin.ok());
  Migrator migrator(db_.conninfo(), &pool_, *builtin);

  absl::StatusOr<MigrationReport> before = migrator.Status(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_FALSE(before->up_to_date);
  EXPECT_EQ(before->current_version, 0);
  EXPECT_EQ(before->migrations.front().state, MigrationState::kPending);

  absl::StatusOr<MigrationReport> after = migrator.Apply();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->up_to_date);
  EXPECT_EQ(after->current_version, after->latest_version);
  for (const char* table : {"users", "user_status", "channels", "channel_members", "messages",
                            "reactions", "attachments"}) {
    EXPECT_EQ(Query(absl::StrCat("SELECT to_regclass('", table, "') IS NOT NULL")), "t")
        << table << " must exist";
  }
  EXPECT_EQ(Query("SELECT success FROM schema_migrations WHERE version = 1"), "t");
}

TEST_F(MigratorTest, RerunIsANoOp) {
  std::vector<MigrationFile> files =
      Parse({{"V1__t.sql", "CREATE TABLE t (x int); INSERT INTO t VALUES (1);"}});
  Migrator migrator(db_.conninfo(), &pool_, files);
  ASSERT_TRUE(migrator.Apply().ok());
  std::string installed = Query("SELECT installed_at::text FROM schema_migrations");
  absl::StatusOr<MigrationReport> again = migrator.Apply();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->up_to_date);
  EXPECT_EQ(Query("SELECT count(*) FROM t"), "1") << "the migration must not run twice";
  EXPECT_EQ(Query("SELECT installed_at::text FROM schema_migrations"), installed);
}

TEST_F(MigratorTest, EditedAppliedFileIsChecksumMismatch) {
  ASSERT_TRUE(Migrator(db_.conninfo(), &pool_, Parse({{"V1__t.sql", "CREATE TABLE t (x int);"}}))
                  .Apply()
                  .ok());
  Migrator edited(db_.conninfo(), &pool_,
                  Parse({{"V1__t.sql", "CREATE TABLE t (x bigint);"},
                         {"V2__u.sql", "CREATE TABLE u (x int);"}}));
  absl::StatusOr<MigrationReport> report = edited.Status(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->up_to_date);
  ASSERT_EQ(report->migrations.size(), 2u);
  EXPECT_EQ(report->migrations[0].state, MigrationState::kChecksumMismatch);
  EXPECT_NE(report->migrations[0].checksum, report->migrations[0].applied_checksum);

  absl::StatusOr<MigrationReport> applied = edited.Apply();
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kFailedPrecondition) << applied.status();
  EXPECT_TRUE(absl::StrContains(applied.status().message(), "V1")) << applied.status();
  EXPECT_EQ(Query("SELECT to_regclass('u') IS NOT NULL"), "f")
      << "nothing is applied while a checksum mismatches";
}

TEST_F(MigratorTest, VersionUnknownToBinaryIsReported) {
  ASSERT_TRUE(Migrator(db_.conninfo(), &pool_,
                       Parse({{"V1__t.sql", "SELECT 1;"}, {"V2__u.sql", "SELECT 2;"}}))
                  .Apply()
                  .ok());
  Migrator older(db_.conninfo(), &pool_, Parse({{"V1__t.sql", "SELECT 1;"}}));
  absl::StatusOr<MigrationReport> report = older.Status(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->migrations.size(), 2u);
  EXPECT_EQ(report->migrations[1].state, MigrationState::kUnknown);
  EXPECT_TRUE(report->up_to_date) << "a newer schema does not block an older replica";
}

TEST_F(MigratorTest, ApplyHonoursItsDeadline) {
  // Another migrator holds the lock (the key is the migrator's own).
  pqxx::connection other(db_.conninfo());
  pqxx::nontransaction(other).exec("SELECT pg_advisory_lock(" +
                                   std::to_string(0x6367646200000001LL) + ")");
  Migrator waiting(db_.conninfo(), &pool_, Parse({{"V1__t.sql", "CREATE TABLE t (x int);"}}));
  absl::Time start = absl::Now();
  absl::StatusOr<MigrationReport> blocked = waiting.Apply(absl::Now() + absl::Milliseconds(500));
  EXPECT_EQ(blocked.status().code(), absl::StatusCode::kDeadlineExceeded) << blocked.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "not the lock's own timeout or forever";
  EXPECT_EQ(Query("SELECT to_regclass('t') IS NOT NULL"), "f");
  pqxx::nontransaction(other).exec("SELECT pg_advisory_unlock_all()");

  // A migration still running at the deadline is rolled back and stays
  // pending, not failed: the next attempt applies it.
  Migrator slow(db_.conninfo(), &pool_,
                Parse({{"V1__t.sql", "CREATE TABLE t (x int); SELECT pg_sleep(5);"}}));
  start = absl::Now();
  absl::StatusOr<MigrationReport> cut = slow.Apply(absl::Now() + absl::Milliseconds(500));
  EXPECT_EQ(cut.status().code(), absl::StatusCode::kDeadlineExceeded) << cut.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
  EXPECT_EQ(Query("SELECT to_regclass('t') IS NOT NULL"), "f") << "rolled back";
  EXPECT_EQ(Query("SELECT count(*) FROM schema_migrations"), "0") << "not recorded as failed";
  EXPECT_TRUE(Migrator(db_.conninfo(), &pool_, Parse({{"V1__t.sql", "CREATE TABLE t (x int);"}}))
                  .Apply()
                  .ok());
}

TEST_F(MigratorTest, WithoutADeadlineTheLockWaitEndsAtTheSessionLockTimeout) {
  // The readiness probe applies without a deadline (a long migration must
  // finish); the session's lock_timeout (POSTGRES_LOCK_TIMEOUT_MS, carried
  // by the migration connection string) still bounds the wait for another
  // migrator's advisory lock.
  pqxx::connection other(db_.conninfo());
  pqxx::nontransaction(other).exec("SELECT pg_advisory_lock(" +
                                   std::to_string(0x6367646200000001LL) + ")");
  Migrator waiting(db_.conninfo() + " options='-c lock_timeout=300'", &pool_,
                   Parse({{"V1__t.sql", "CREATE TABLE t (x int);"}}));
  const absl::Time start = absl::Now();
  absl::StatusOr<MigrationReport> blocked = waiting.Apply();
  EXPECT_EQ(blocked.status().code(), absl::StatusCode::kAborted) << blocked.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "the 300 ms lock timeout, not forever";
  EXPECT_EQ(Query("SELECT to_regclass('t') IS NOT NULL"), "f");
}

TEST_F(MigratorTest, ThreeConcurrentMigratorsApplyOnce) {
  std::vector<MigrationFile> files = Parse({
      {"V1__counter.sql", "CREATE TABLE runs (n int);"},
      // Slow enough that the three starts overlap.
      {"V2__slow.sql", "SELECT pg_sleep(0.3); INSERT INTO runs VALUES (2);"},
      {"V3__more.sql", "INSERT INTO runs VALUES (3);"},
  });
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(3);
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      Migrator m(db_.conninfo(), &pool_, files);
      results[i] = m.Apply().status();
    });
  }
  for (auto& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(Query("SELECT count(*) FROM runs"), "2") << "V2 and V3 each ran exactly once";
  EXPECT_EQ(Query("SELECT count(*) FROM schema_migrations WHERE success"), "3");
}

TEST_F(MigratorTest, FailingMigrationRollsBackAndIsRecorded) {
  Migrator broken(db_.conninfo(), &pool_,
                  Parse({{"V1__ok.sql", "CREATE TABLE a (x int);"},
                         {"V2__bad.sql", "CREATE TABLE b (x int); SELEC oops;"}}));
  absl::StatusOr<MigrationReport> r = broken.Apply();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "V2")) << r.status();
  EXPECT_EQ(Query("SELECT to_regclass('a') IS NOT NULL"), "t") << "V1 stays applied";
  EXPECT_EQ(Query("SELECT to_regclass('b') IS NOT NULL"), "f") << "V2 rolled back entirely";
  absl::StatusOr<MigrationReport> status = broken.Status(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->migrations[1].state, MigrationState::kFailed);
  EXPECT_FALSE(status->up_to_date);

  Migrator fixed(db_.conninfo(), &pool_,
                 Parse({{"V1__ok.sql", "CREATE TABLE a (x int);"},
                        {"V2__bad.sql", "CREATE TABLE b (x int);"}}));
  absl::StatusOr<MigrationReport> after = fixed.Apply();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->up_to_date) << "a fixed migration is retried";
  EXPECT_EQ(Query("SELECT to_regclass('b') IS NOT NULL"), "t");
}

}  // namespace
}  // namespace chatgenius
