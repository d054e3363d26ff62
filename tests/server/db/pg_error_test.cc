#include "server/db/pg_error.h"

#include <pqxx/pqxx>

#include "gtest/gtest.h"

namespace chatgenius {
namespace {

TEST(PgErrorTest, SqlStateTable) {
  struct Case {
    const char* state;
    absl::StatusCode code;
  };
  for (const Case& c : std::vector<Case>{
           {"23505", absl::StatusCode::kAlreadyExists},
           {"23503", absl::StatusCode::kFailedPrecondition},
           {"23514", absl::StatusCode::kInvalidArgument},
           {"23502", absl::StatusCode::kInvalidArgument},
           {"23P01", absl::StatusCode::kInvalidArgument},     // exclusion_violation
           {"23001", absl::StatusCode::kFailedPrecondition},  // restrict_violation: class 23
           {"55P03", absl::StatusCode::kAborted},             // lock_not_available
           {"40003", absl::StatusCode::kAborted},             // class 40
           {"57P03", absl::StatusCode::kUnavailable},         // cannot_connect_now
           {"22001", absl::StatusCode::kInvalidArgument},
           {"22P02", absl::StatusCode::kInvalidArgument},
           {"40001", absl::StatusCode::kAborted},
           {"40P01", absl::StatusCode::kAborted},
           {"57014", absl::StatusCode::kDeadlineExceeded},
           {"57P01", absl::StatusCode::kUnavailable},
           {"08006", absl::StatusCode::kUnavailable},
           {"25006", absl::StatusCode::kUnavailable},  // read_only_sql_transaction
           {"25001", absl::StatusCode::kInternal},     // rest of class 25: a bug
           {"53300", absl::StatusCode::kResourceExhausted},
           {"42501", absl::StatusCode::kPermissionDenied},
           {"42601", absl::StatusCode::kInternal},
           {"", absl::StatusCode::kInternal},
       }) {
    EXPECT_EQ(StatusCodeForSqlState(c.state), c.code) << "SQLSTATE " << c.state;
  }
}

TEST(PgErrorTest, ConstraintMessagesReplaceServerText) {
  pqxx::unique_violation e(
      "ERROR:  duplicate key value violates unique constraint \"users_email_key\"\n"
      "DETAIL:  Key (lower(email))=(a@b.c) already exists.\n",
      "INSERT ...", "23505");
  ConstraintMessages messages = {{"users_email_key", "user.email: already in use"}};
  absl::Status s = StatusFromException(e, &messages);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "user.email: already in use");
  absl::Status raw = StatusFromException(e);
  EXPECT_EQ(raw.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(raw.message().find("DETAIL"), absl::string_view::npos)
      << "only the first line reaches callers: " << raw.message();
}

TEST(PgErrorTest, ConnectionLossIsUnavailableAndMarked) {
  absl::Status s = StatusFromException(pqxx::broken_connection("server closed the connection"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsConnectionLoss(s));
  absl::Status terminated = StatusFromException(
      pqxx::sql_error("FATAL:  terminating connection due to administrator command", "", "57P01"));
  EXPECT_TRUE(IsConnectionLoss(terminated));
  // A write that reached a host turned read-only (failover): the connection
  // is replaced, so the next one can find the new primary.
  absl::Status read_only = StatusFromException(pqxx::sql_error(
      "ERROR:  cannot execute INSERT in a read-only transaction", "INSERT ...", "25006"));
  EXPECT_EQ(read_only.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsConnectionLoss(read_only));
  EXPECT_FALSE(IsConnectionLoss(absl::UnavailableError("pool exhausted")));
}

TEST(PgErrorTest, ExceptionClassStandsInForAMissingSqlState) {
  // libpqxx 6.4 throws these without a SQLSTATE in some paths, and its
  // transaction_rollback family is not an sql_error at all.
  EXPECT_EQ(StatusFromException(pqxx::deadlock_detected("ERROR:  deadlock detected")).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(StatusFromException(pqxx::serialization_failure("ERROR:  could not serialize")).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(StatusFromException(pqxx::insufficient_privilege("ERROR:  must be owner")).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusFromException(pqxx::unique_violation("ERROR:  duplicate key")).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(StatusFromException(pqxx::check_violation("ERROR:  violates check")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusFromException(pqxx::sql_error("ERROR:  something else")).code(),
            absl::StatusCode::kInternal);
}

TEST(PgErrorTest, InDoubtCommitIsUnknown) {
  absl::Status s = StatusFromException(pqxx::in_doubt_error("lost during commit"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnknown);
}

}  // namespace
}  // namespace chatgenius
