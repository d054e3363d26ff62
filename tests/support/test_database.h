// test_database.h
//
// TestDatabase: a fresh, empty PostgreSQL database for one test, created on
// the server named by TEST_POSTGRES_HOST / TEST_POSTGRES_PORT /
// TEST_POSTGRES_USER / TEST_POSTGRES_PASSWORD (scripts/test.sh starts a
// throwaway server and passes these to Bazel) and dropped afterwards.
// Tests never share state, so they can run in any order and in parallel.
//
// Example:
//   TestDatabase db;                 // fails the test if no server
//   ConnectionPool pool({db.conninfo()});
#ifndef CHATGENIUS_TESTS_SUPPORT_TEST_DATABASE_H_
#define CHATGENIUS_TESTS_SUPPORT_TEST_DATABASE_H_

#include <string>

#include "absl/time/time.h"

#include "server/app/config.h"

namespace chatgenius::testing {

class TestDatabase {
 public:
  // Creates the database; ADD_FAILURE()s with the reason if it cannot.
  TestDatabase();
  // Drops the database, terminating connections still open to it.
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  // conninfo of the test database (libpq format).
  const std::string& conninfo() const { return conninfo_; }
  const std::string& name() const { return name_; }

  // config returns a server Config pointing at this database, listening on
  // 127.0.0.1 with a free port, with short probe intervals for tests.
  Config config() const;

  // AdminExec runs `sql` on the server's maintenance database (e.g.
  // pg_terminate_backend) and returns the first column of the first row, or
  // "" when there is none.
  std::string AdminExec(const std::string& sql) const;

  // Query runs `sql` on the test database itself; same result rule.
  std::string Query(const std::string& sql) const;

  // LockWaiters counts the sessions of this database (not of other tests
  // sharing the cluster) that wait for a lock.
  int LockWaiters() const;
  // WaitForLockWaiters polls LockWaiters every 10 ms until it is `n` or
  // `timeout` has passed, and returns the last count.
  int WaitForLockWaiters(int n, absl::Duration timeout) const;

  // LatestEventPosition waits (up to `timeout`) until every committed event
  // has its position — the server's sequencer stamps them just after
  // commit — and returns the highest position: the cursor of "everything
  // so far".
  int64_t LatestEventPosition(absl::Duration timeout = absl::Seconds(10)) const;

 private:
  std::string Exec(const std::string& db, const std::string& sql) const;

  std::string host_;
  int port_ = 0;
  std::string user_;
  std::string password_;
  std::string name_;
  std::string conninfo_;
};

}  // namespace chatgenius::testing

#endif  // CHATGENIUS_TESTS_SUPPORT_TEST_DATABASE_H_
