// transaction.h
//
// RunInTransaction: the one wrapper through which stores run SQL. It
// borrows a pooled connection, opens a transaction, limits it with
// `SET LOCAL statement_timeout` derived from the caller's deadline, has the
// CancelWatcher stop it if the caller cancels, runs the body, commits, and
// converts every libpqxx exception to a status through pg_error.h. A body
// that returns an error rolls back, so a failed RPC leaves nothing behind.
// Connections that broke are discarded.
//
// Example:
//   absl::Status s = RunInTransaction(pool, deadline, [&](pqxx::work& txn) {
//     pqxx::result r = txn.exec_prepared("user_get", id);
//     if (r.empty()) return absl::NotFoundError("user not found");
//     return absl::OkStatus();
//   });
#ifndef CHATGENIUS_SERVER_DB_TRANSACTION_H_
#define CHATGENIUS_SERVER_DB_TRANSACTION_H_

#include <functional>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/db/call_limits.h"
#include "server/db/connection_pool.h"
#include "server/db/pg_error.h"

namespace chatgenius {

// TransactionBody is the work done inside one transaction.
using TransactionBody = std::function<absl::Status(pqxx::work&)>;

// RunInTransaction runs `body` in a read-write transaction within `limits`.
// Returns the body's error, or the mapped database error (constraint
// violations use `messages` when given). DEADLINE_EXCEEDED if the deadline
// passes first, including while waiting for a connection; CANCELLED if the
// caller cancelled (the statement is cancelled in PostgreSQL too).
[[nodiscard]] absl::Status RunInTransaction(ConnectionPool& pool, const CallLimits& limits,
                                            const TransactionBody& body,
                                            const ConstraintMessages* messages = nullptr);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_DB_TRANSACTION_H_
