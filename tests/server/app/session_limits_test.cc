// The limits every database session of the service carries (libpq options
// and TCP liveness from the POSTGRES_* settings), against a real
// PostgreSQL: a session stalled while holding a lock cannot hold up the
// service's writers beyond POSTGRES_LOCK_TIMEOUT_MS.
#include <chrono>

#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "tests/support/domain_fixture.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

class SessionLimitsTest : public testing::DomainTest {
 protected:
  SessionLimitsTest()
      : DomainTest(
            [](Config& c) {
              c.postgres_lock_timeout = absl::Milliseconds(300);
              c.postgres_idle_in_transaction_timeout = absl::Seconds(7);
            },
            {}) {}
};

TEST_F(SessionLimitsTest, EverySessionCarriesTheLimits) {
  Config c = db_.config();
  c.postgres_lock_timeout = absl::Milliseconds(300);
  c.postgres_idle_in_transaction_timeout = absl::Seconds(7);
  c.statement_timeout = absl::Seconds(11);
  pqxx::connection conn(c.ConnInfo());
  pqxx::nontransaction q(conn);
  EXPECT_EQ(q.exec1("SHOW lock_timeout")[0].as<std::string>(), "300ms");
  EXPECT_EQ(q.exec1("SHOW idle_in_transaction_session_timeout")[0].as<std::string>(), "7s");
  EXPECT_EQ(q.exec1("SHOW statement_timeout")[0].as<std::string>(), "11s");
  pqxx::connection migrating(c.MigrationConnInfo());
  pqxx::nontransaction m(migrating);
  EXPECT_EQ(m.exec1("SHOW statement_timeout")[0].as<std::string>(), "0")
      << "migrations are not cut off mid-DDL";
  EXPECT_EQ(m.exec1("SHOW lock_timeout")[0].as<std::string>(), "300ms");
}

TEST_F(SessionLimitsTest, AWriterWaitsForAStalledLockHolderNoLongerThanTheLockTimeout) {
  v1::User ada = User("ada");
  v1::Channel general = Channel(ada, "general");
  // Another session takes the channel row and then does nothing, as a
  // stalled backend or a hung client would.
  pqxx::connection holder(db_.conninfo());
  pqxx::work hold(holder);
  hold.exec("SELECT 1 FROM channels WHERE id = '" + general.id() + "' FOR UPDATE");

  v1::PostMessageRequest post;
  post.set_channel_id(general.id());
  post.set_author_id(ada.id());
  post.set_content("blocked?");
  v1::Message out;
  const absl::Time start = absl::Now();
  grpc::Status s = messages_->PostMessage(Ctx().get(), post, &out);  // a 10 s deadline
  const absl::Duration waited = absl::Now() - start;
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  EXPECT_LT(waited, absl::Seconds(5)) << "the 300 ms lock_timeout, not the caller's 10 s deadline";
  EXPECT_EQ(db_.Query("SELECT count(*) FROM messages"), "0") << "nothing written";
  hold.abort();
  EXPECT_TRUE(messages_->PostMessage(Ctx().get(), post, &out).ok()) << "and it recovers";
}

}  // namespace
}  // namespace chatgenius
