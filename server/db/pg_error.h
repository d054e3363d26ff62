// pg_error.h
//
// The one place that decides which absl::StatusCode a PostgreSQL or libpqxx
// error becomes (no other code maps SQLSTATEs). Codes follow abseil's guidance:
// retryable -> UNAVAILABLE or ABORTED, missing -> NOT_FOUND, duplicate ->
// ALREADY_EXISTS, bad input -> INVALID_ARGUMENT.
//
//   class 23 integrity:    23505 unique_violation      -> ALREADY_EXISTS
//                          23503 foreign_key_violation -> FAILED_PRECONDITION
//                          23514 check_violation, 23502 not_null_violation,
//                          23P01 exclusion_violation   -> INVALID_ARGUMENT
//                          any other 23xxx             -> FAILED_PRECONDITION
//   class 22 data:                                      -> INVALID_ARGUMENT
//   class 40 rollback:     40001 serialization, 40P01 deadlock, and any
//                          other 40xxx                  -> ABORTED
//   55P03 lock_not_available (lock_timeout)             -> ABORTED
//   57014 query_canceled (statement_timeout, cancel)    -> DEADLINE_EXCEEDED
//   class 08 connection, 57P01..57P03 shutdown/crash    -> UNAVAILABLE
//   25006 read_only_sql_transaction (the host is a standby
//         or read-only now: a failover)               -> UNAVAILABLE
//   53xxx insufficient resources                        -> RESOURCE_EXHAUSTED
//   42501 insufficient_privilege                        -> PERMISSION_DENIED
//   anything else (syntax errors, bugs)                 -> INTERNAL
//
// When libpqxx throws without a SQLSTATE (6.4 does for some paths, and its
// serialization_failure/deadlock_detected are not sql_errors), the
// exception's class stands in for the state.
#ifndef CHATGENIUS_SERVER_DB_PG_ERROR_H_
#define CHATGENIUS_SERVER_DB_PG_ERROR_H_

#include <exception>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace chatgenius {

// StatusCodeForSqlState maps a five-character SQLSTATE to a status code
// following the table above.
absl::StatusCode StatusCodeForSqlState(absl::string_view sqlstate);

// ConstraintMessages maps a constraint or index name to the message a
// caller should see when it is violated, e.g.
// {"users_email_key", "user.email: already in use"}. Stores own theirs.
using ConstraintMessages = std::map<std::string, std::string, std::less<>>;

// StatusFromException converts an exception thrown by libpqxx into a
// status: pqxx::sql_error by SQLSTATE (the message names the violated
// constraint's friendly text when `messages` knows it), broken connections
// to UNAVAILABLE, pqxx::in_doubt_error to UNKNOWN (the commit may or may not
// have happened), anything else to INTERNAL. Messages never contain the
// connection string.
absl::Status StatusFromException(const std::exception& e,
                                 const ConstraintMessages* messages = nullptr);

// IsConnectionLoss reports whether `status` came from a lost connection
// (the connection it ran on must be discarded). Every UNAVAILABLE from
// StatusFromException is one, 25006 included: a connection to a host that
// turned read-only is replaced, and a multi-host conninfo with
// target_session_attrs=read-write then finds the new primary.
bool IsConnectionLoss(const absl::Status& status);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_DB_PG_ERROR_H_
