// ConnectionPool and RunInTransaction against a real PostgreSQL.
#include "server/db/connection_pool.h"

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/db/statement.h"
#include "server/db/transaction.h"
#include "tests/support/test_database.h"

namespace chatgenius {
namespace {

// Prepared on each pool connection the first time it runs there: the pool
// itself knows no statements.
const Statement kAdd("add", "SELECT $1::int + 1");

PoolSettings Settings(const testing::TestDatabase& db) {
  PoolSettings s;
  s.conninfo = db.conninfo();
  s.acquire_timeout = absl::Milliseconds(300);
  return s;
}

int BackendPid(ConnectionPool& pool) {
  int pid = 0;
  absl::Status s =
      RunInTransaction(pool, absl::Now() + absl::Seconds(5), [&](pqxx::transaction_base& txn) {
        pid = txn.exec("SELECT pg_backend_pid()")[0][0].as<int>();
        return absl::OkStatus();
      });
  EXPECT_TRUE(s.ok()) << s;
  return pid;
}

TEST(ConnectionPoolTest, EleventhAcquirerWaitsThenTimesOut) {
  testing::TestDatabase db;
  ConnectionPool pool(Settings(db));
  ASSERT_EQ(pool.max_size(), kDefaultPoolMaxSize);
  std::vector<PooledConnection> held;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<PooledConnection> c = pool.Acquire(absl::Now() + absl::Seconds(5));
    ASSERT_TRUE(c.ok()) << "connection " << i << ": " << c.status();
    held.push_back(std::move(*c));
  }
  absl::Time start = absl::Now();
  absl::StatusOr<PooledConnection> eleventh = pool.Acquire(absl::Now() + absl::Seconds(5));
  absl::Duration waited = absl::Now() - start;
  EXPECT_EQ(eleventh.status().code(), absl::StatusCode::kUnavailable)
      << "acquire timeout (300ms) before the caller's deadline -> UNAVAILABLE: "
      << eleventh.status();
  EXPECT_GE(waited, absl::Milliseconds(250)) << "it must have waited for a free connection";

  absl::StatusOr<PooledConnection> short_deadline =
      pool.Acquire(absl::Now() + absl::Milliseconds(50));
  EXPECT_EQ(short_deadline.status().code(), absl::StatusCode::kDeadlineExceeded)
      << "caller's deadline first -> DEADLINE_EXCEEDED: " << short_deadline.status();

  PoolStatistics stats = pool.Stats();
  EXPECT_EQ(stats.size, 10);
  EXPECT_EQ(stats.in_use, 10);
  EXPECT_EQ(stats.idle, 0);
  EXPECT_EQ(stats.acquire_timeouts_total, 2);
  EXPECT_EQ(stats.created_total, 10);
}

TEST(ConnectionPoolTest, WaiterGetsReleasedConnection) {
  testing::TestDatabase db;
  PoolSettings settings = Settings(db);
  settings.max_size = 1;
  settings.acquire_timeout = absl::Seconds(5);
  ConnectionPool pool(settings);
  absl::StatusOr<PooledConnection> first = pool.Acquire(absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(first.ok()) << first.status();
  std::thread releaser([&] {
    absl::SleepFor(absl::Milliseconds(100));
    PooledConnection done = std::move(*first);
  });
  absl::StatusOr<PooledConnection> second = pool.Acquire(absl::Now() + absl::Seconds(5));
  releaser.join();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(pool.Stats().created_total, 1) << "the released connection is reused, not reopened";
}

TEST(ConnectionPoolTest, PassedDeadlineFailsWithoutWaiting) {
  testing::TestDatabase db;
  ConnectionPool pool(Settings(db));
  absl::StatusOr<PooledConnection> c = pool.Acquire(absl::Now() - absl::Seconds(1));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(pool.Stats().created_total, 0) << "nothing may be opened for a dead call";
}

TEST(ConnectionPoolTest, TerminatedBackendIsReplacedOnNextUse) {
  testing::TestDatabase db;
  PoolSettings settings = Settings(db);
  settings.max_size = 1;
  settings.idle_check_after = absl::ZeroDuration();  // probe every reuse
  ConnectionPool pool(settings);
  int pid = BackendPid(pool);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(db.AdminExec(absl::StrCat("SELECT pg_terminate_backend(", pid, ")")), "t");
  absl::SleepFor(absl::Milliseconds(100));

  int new_pid = BackendPid(pool);
  EXPECT_GT(new_pid, 0) << "the call after the kill must succeed";
  EXPECT_NE(new_pid, pid) << "a new backend replaces the killed one";
  PoolStatistics stats = pool.Stats();
  EXPECT_EQ(stats.broken_total, 1);
  EXPECT_EQ(stats.health_check_failures_total, 1);
  EXPECT_EQ(stats.created_total, 2);
  EXPECT_EQ(stats.size, 1);
}

TEST(ConnectionPoolTest, BrokenConnectionFailsOneCallThenIsDiscarded) {
  testing::TestDatabase db;
  PoolSettings settings = Settings(db);
  settings.max_size = 1;
  settings.idle_check_after = absl::Hours(1);  // no probe: the query finds it dead
  ConnectionPool pool(settings);
  int pid = BackendPid(pool);
  db.AdminExec(absl::StrCat("SELECT pg_terminate_backend(", pid, ")"));
  absl::SleepFor(absl::Milliseconds(100));

  absl::Status failed =
      RunInTransaction(pool, absl::Now() + absl::Seconds(5), [](pqxx::transaction_base& txn) {
        txn.exec("SELECT 1");
        return absl::OkStatus();
      });
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable) << failed;
  EXPECT_EQ(pool.Stats().size, 0) << "the broken connection must not return to the pool";
  int new_pid = BackendPid(pool);
  EXPECT_NE(new_pid, pid);
  EXPECT_GT(new_pid, 0);
  EXPECT_EQ(pool.Stats().broken_total, 1);
}

TEST(ConnectionPoolTest, StatementTimeoutFollowsDeadline) {
  testing::TestDatabase db;
  ConnectionPool pool(Settings(db));
  absl::Status s = RunInTransaction(pool, absl::Now() + absl::Milliseconds(200),
                                    [](pqxx::transaction_base& txn) {
                                      txn.exec("SELECT pg_sleep(5)");
                                      return absl::OkStatus();
                                    });
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  PoolStatistics stats = pool.Stats();
  EXPECT_EQ(stats.in_use, 0) << "a timed-out query holds no connection afterwards";
  EXPECT_EQ(stats.idle, 1) << "the connection stays usable";
  EXPECT_GT(BackendPid(pool), 0);
}

// RunReadOnly: autocommit statements under the same deadline. Past the
// deadline every statement is cancelled, also one started after the first
// was (the body below swallows the first cancellation).
TEST(ConnectionPoolTest, ReadOnlyStatementsStopAtTheDeadline) {
  testing::TestDatabase db;
  ConnectionPool pool(Settings(db));
  const absl::Time start = absl::Now();
  absl::Status s =
      RunReadOnly(pool, start + absl::Milliseconds(200), [](pqxx::transaction_base& statements) {
        try {
          statements.exec("SELECT pg_sleep(5)");
        } catch (const pqxx::sql_error&) {
        }
        statements.exec("SELECT pg_sleep(5)");
        return absl::OkStatus();
      });
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_LT(absl::Now() - start, absl::Seconds(3)) << "the second statement was cancelled too";
  EXPECT_EQ(pool.Stats().in_use, 0);
  EXPECT_GT(BackendPid(pool), 0) << "the connection stays usable";

  absl::Status ok =
      RunReadOnly(pool, absl::Now() + absl::Seconds(5), [](pqxx::transaction_base& statements) {
        return statements.exec1("SELECT 1")[0].as<int>() == 1 ? absl::OkStatus()
                                                              : absl::InternalError("not 1");
      });
  EXPECT_TRUE(ok.ok()) << ok;
}

TEST(ConnectionPoolTest, BodyErrorRollsBack) {
  testing::TestDatabase db;
  ConnectionPool pool(Settings(db));
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  ASSERT_TRUE(RunInTransaction(pool, deadline, [](pqxx::transaction_base& txn) {
                txn.exec("CREATE TABLE t (x int)");
                return absl::OkStatus();
              }).ok());
  absl::Status s = RunInTransaction(pool, deadline, [](pqxx::transaction_base& txn) {
    txn.exec("INSERT INTO t VALUES (1)");
    return absl::FailedPreconditionError("changed my mind");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  int count = -1;
  ASSERT_TRUE(RunInTransaction(pool, deadline, [&](pqxx::transaction_base& txn) {
                count = txn.exec("SELECT count(*) FROM t")[0][0].as<int>();
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(count, 0) << "a failed body must leave nothing behind";
}

// A body that outlives the deadline without a statement to cancel (its
// statements finished in time) is rolled back rather than committed: the
// caller has been told the call failed.
TEST(ConnectionPoolTest, BodyFinishingAfterTheDeadlineRollsBack) {
  testing::TestDatabase db;
  ConnectionPool pool(Settings(db));
  ASSERT_TRUE(
      RunInTransaction(pool, absl::Now() + absl::Seconds(5), [](pqxx::transaction_base& txn) {
        txn.exec("CREATE TABLE t (x int)");
        return absl::OkStatus();
      }).ok());
  const absl::Time deadline = absl::Now() + absl::Milliseconds(200);
  absl::Status s = RunInTransaction(pool, deadline, [&](pqxx::transaction_base& txn) {
    txn.exec("INSERT INTO t VALUES (1)");
    absl::SleepFor(deadline - absl::Now() + absl::Milliseconds(50));
    return absl::OkStatus();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_EQ(db.Query("SELECT count(*) FROM t"), "0") << "nothing committed after the deadline";
  EXPECT_EQ(pool.Stats().in_use, 0);
}

TEST(ConnectionPoolTest, StatsAddUpUnderConcurrency) {
  testing::TestDatabase db;
  PoolSettings settings = Settings(db);
  settings.max_size = 4;
  settings.acquire_timeout = absl::Seconds(10);
  ConnectionPool pool(settings);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        absl::Status s = RunInTransaction(
            pool, absl::Now() + absl::Seconds(10), [&](pqxx::transaction_base& txn) {
              int v = Exec(txn, kAdd, t * 100 + i)[0][0].as<int>();
              return v == t * 100 + i + 1 ? absl::OkStatus() : absl::InternalError("wrong result");
            });
        if (!s.ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  PoolStatistics stats = pool.Stats();
  EXPECT_EQ(stats.acquired_total, 200) << "8 threads x 25 transactions";
  EXPECT_LE(stats.created_total, 4) << "never more than max_size connections";
  EXPECT_EQ(stats.size, stats.idle + stats.in_use);
  EXPECT_EQ(stats.in_use, 0);
  EXPECT_EQ(stats.waiting, 0);
}

TEST(ConnectionPoolTest, ConnectionsPastMaxLifetimeAreRetired) {
  testing::TestDatabase db;
  PoolSettings settings = Settings(db);
  settings.max_size = 1;
  settings.max_lifetime = absl::Milliseconds(200);
  ConnectionPool pool(settings);
  int first = BackendPid(pool);
  absl::SleepFor(absl::Milliseconds(300));
  int second = BackendPid(pool);
  EXPECT_NE(first, second) << "an expired connection must be replaced, not reused";
  PoolStatistics stats = pool.Stats();
  EXPECT_EQ(stats.expired_total, 1);
  EXPECT_EQ(stats.broken_total, 0) << "retirement is not breakage";
  EXPECT_EQ(stats.created_total, 2);
}

TEST(ConnectionPoolTest, UnreachableServerIsUnavailable) {
  PoolSettings settings;
  settings.conninfo = "host=127.0.0.1 port=1 connect_timeout=2 password=hunter2";
  ConnectionPool pool(settings);
  absl::StatusOr<PooledConnection> c = pool.Acquire(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable) << c.status();
  EXPECT_EQ(c.status().message().find("hunter2"), absl::string_view::npos)
      << "errors must not leak the password";
  EXPECT_EQ(pool.Stats().size, 0) << "a failed open frees its slot";
}

// The value-returning forms: the body's value after commit; its error
// (and a rollback) otherwise.
TEST(TransactionTest, ValueFormsReturnTheBodysValueOrItsErrorAndRollBack) {
  testing::TestDatabase db;
  ConnectionPool pool(Settings(db));
  db.Query("CREATE TABLE t (x int)");
  absl::StatusOr<int> inserted = RunInTransaction(
      pool, absl::Now() + absl::Seconds(5), [](pqxx::transaction_base& txn) -> absl::StatusOr<int> {
        return txn.exec("INSERT INTO t VALUES (1), (2) RETURNING x").size();
      });
  ASSERT_TRUE(inserted.ok()) << inserted.status();
  EXPECT_EQ(*inserted, 2);
  absl::StatusOr<int> refused = RunInTransaction(
      pool, absl::Now() + absl::Seconds(5), [](pqxx::transaction_base& txn) -> absl::StatusOr<int> {
        txn.exec0("INSERT INTO t VALUES (3)");
        return absl::FailedPreconditionError("changed my mind");
      });
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<std::string> count =
      RunReadOnly(pool, absl::Now() + absl::Seconds(5), [](pqxx::transaction_base& txn) {
        return absl::StatusOr<std::string>(
            txn.exec1("SELECT count(*) FROM t")[0].as<std::string>());
      });
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, "2") << "the refused body's insert was rolled back";
  absl::StatusOr<int> broken =
      RunReadOnly(pool, absl::Now() + absl::Seconds(5), [](pqxx::transaction_base& txn) {
        return absl::StatusOr<int>(txn.exec1("SELECT 1 FROM no_such_table")[0].as<int>());
      });
  EXPECT_FALSE(broken.ok()) << "a database error comes back mapped, not as a value";
}

}  // namespace
}  // namespace chatgenius
