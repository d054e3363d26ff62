// transaction.h
//
// RunInTransaction and RunReadOnly: the wrappers through which stores run
// SQL. They borrow a pooled connection, have the CancelWatcher cancel the
// running statement when the caller cancels or the deadline passes (no
// per-call SET statement_timeout round trip), run the body, and convert
// every libpqxx exception to a status through pg_error.h. RunInTransaction
// wraps the body in BEGIN/COMMIT and a body that returns an error rolls
// back, so a failed RPC leaves nothing behind. RunReadOnly runs the body's
// statements in autocommit (each sees the latest committed data, as in a
// READ COMMITTED transaction) and saves BEGIN and COMMIT: for reads whose
// statements need no common snapshot. Connections that broke are
// discarded.
//
// Example:
//   absl::Status s = RunInTransaction(pool, deadline, [&](pqxx::transaction_base& txn) {
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

// TransactionBody is the work done inside one transaction (or, for
// RunReadOnly, one autocommit sequence of statements).
using TransactionBody = std::function<absl::Status(pqxx::transaction_base&)>;

// RunInTransaction runs `body` in a read-write transaction within `limits`.
// Returns the body's error, or the mapped database error (constraint
// violations use `messages` when given). DEADLINE_EXCEEDED if the deadline
// passes first, including while waiting for a connection; CANCELLED if the
// caller cancelled (the statement is cancelled in PostgreSQL too). A body
// that finishes after the deadline or the caller's cancel is rolled back,
// not committed: only a COMMIT already sent can outlive its caller.
[[nodiscard]] absl::Status RunInTransaction(ConnectionPool& pool, const CallLimits& limits,
                                            const TransactionBody& body,
                                            const ConstraintMessages* messages = nullptr);

// AfterCommit runs `hook` on this thread once the RunInTransaction whose
// body is calling it has committed (not if it rolls back). Outside such a
// body it does nothing. For in-process wake-ups that must not fire before
// the data is visible (e.g. "new events: stamp them").
void AfterCommit(std::function<void()> hook);

// RunReadOnly runs `body`'s statements in autocommit within `limits`; same
// error mapping and deadline/cancel rules. The body must only read.
[[nodiscard]] absl::Status RunReadOnly(ConnectionPool& pool, const CallLimits& limits,
                                       const TransactionBody& body);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_DB_TRANSACTION_H_
