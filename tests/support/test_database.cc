#include "tests/support/test_database.h"

#include <cstdlib>
#include <pqxx/pqxx>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/common/ulid.h"

namespace chatgenius::testing {
namespace {

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string ConnInfo(const std::string& host, int port, const std::string& user,
                     const std::string& password, const std::string& db) {
  std::string out = absl::StrCat("host=", host, " port=", port, " user=", user, " dbname=", db,
                                 " connect_timeout=5");
  if (!password.empty()) absl::StrAppend(&out, " password=", password);
  return out;
}

}  // namespace

TestDatabase::TestDatabase() {
  host_ = Env("TEST_POSTGRES_HOST", "");
  user_ = Env("TEST_POSTGRES_USER", "postgres");
  password_ = Env("TEST_POSTGRES_PASSWORD", "");
  if (host_.empty() || !absl::SimpleAtoi(Env("TEST_POSTGRES_PORT", ""), &port_)) {
    ADD_FAILURE() << "TEST_POSTGRES_HOST and TEST_POSTGRES_PORT must name a PostgreSQL server; "
                     "run the tests through scripts/test.sh, which starts one";
    return;
  }
  name_ = absl::StrCat("cgtest_", absl::AsciiStrToLower(NewUlid()));
  conninfo_ = ConnInfo(host_, port_, user_, password_, name_);
  AdminExec(absl::StrCat("CREATE DATABASE ", name_));
}

TestDatabase::~TestDatabase() {
  if (port_ == 0) return;
  AdminExec(absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"));
}

std::string TestDatabase::Query(const std::string& sql) const { return Exec(name_, sql); }

int TestDatabase::LockWaiters() const {
  return std::stoi(
      Query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"));
}

int TestDatabase::WaitForLockWaiters(int n, absl::Duration timeout) const {
  const absl::Time until = absl::Now() + timeout;
  int waiting = LockWaiters();
  while (waiting != n && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(10));
    waiting = LockWaiters();
  }
  return waiting;
}

std::string TestDatabase::AdminExec(const std::string& sql) const { return Exec("postgres", sql); }

std::string TestDatabase::Exec(const std::string& db, const std::string& sql) const {
  try {
    pqxx::connection conn(ConnInfo(host_, port_, user_, password_, db));
    pqxx::nontransaction txn(conn);
    pqxx::result r = txn.exec(sql);
    if (r.empty() || r.columns() == 0 || r[0][0].is_null()) return "";
    return r[0][0].as<std::string>();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "SQL failed on " << db << ": " << sql << ": " << e.what();
    return "";
  }
}

Config TestDatabase::config() const {
  Config c;
  c.listen_address = "127.0.0.1:0";
  c.postgres_host = host_;
  c.postgres_port = port_;
  c.postgres_user = user_;
  c.postgres_password = password_;
  c.postgres_db = name_;
  c.postgres_sslmode = "disable";
  c.health_probe_interval = absl::Milliseconds(100);
  c.page_token_key = "test-page-token-key-0123456789";
  return c;
}

int64_t TestDatabase::LatestEventPosition(absl::Duration timeout) const {
  for (absl::Time until = absl::Now() + timeout; absl::Now() < until;) {
    if (Query("SELECT count(*) FROM events e WHERE NOT EXISTS "
              "(SELECT 1 FROM event_positions p WHERE p.event_id = e.id)") == "0") {
      break;
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  return std::stoll(
      Query("SELECT greatest((SELECT coalesce(max(seq), 0) FROM event_positions), "
            "(SELECT last_seq FROM event_sequencer))"));
}

}  // namespace chatgenius::testing
