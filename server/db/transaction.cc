#include "server/db/transaction.h"

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/db/cancel_watcher.h"

namespace chatgenius {

namespace {

// Run borrows a connection and runs `work` on it within `limits`: the
// CancelWatcher cancels the running statement when the caller cancels or
// the deadline passes (RpcLimits caps deadlines at STATEMENT_TIMEOUT_MS), so
// no per-call SET statement_timeout round trip is needed. Maps exceptions.
absl::Status Run(ConnectionPool& pool, const CallLimits& limits,
                 const std::function<absl::Status(pqxx::connection&)>& work,
                 const ConstraintMessages* messages) {
  if (limits.IsCancelled()) return absl::CancelledError("the caller cancelled the call");
  const absl::Time deadline = limits.deadline;
  ASSIGN_OR_RETURN(PooledConnection conn, pool.Acquire(deadline));
  if (absl::Now() >= deadline) {
    return absl::DeadlineExceededError("deadline passed before the query could start");
  }
  CancelWatcher::Registration watch =
      CancelWatcher::Global().Watch(&*conn, limits.cancelled, deadline);
  try {
    return work(*conn);
  } catch (const std::exception& e) {
    absl::Status status = StatusFromException(e, messages);
    if (IsConnectionLoss(status) || !conn->is_open()) conn.MarkBroken();
    if (limits.IsCancelled()) return absl::CancelledError("the caller cancelled the call");
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          "deadline passed while the statement ran; it was cancelled in PostgreSQL");
    }
    return status;
  }
}

}  // namespace

absl::Status RunInTransaction(ConnectionPool& pool, const CallLimits& limits,
                              const TransactionBody& body, const ConstraintMessages* messages) {
  return Run(
      pool, limits,
      [&](pqxx::connection& conn) {
        pqxx::work txn(conn);
        absl::Status status = body(txn);
        // A caller that gave up while the body ran was (or is about to be)
        // told so; committing now would write what it believes failed.
        if (status.ok() && limits.IsCancelled()) {
          status = absl::CancelledError("the caller cancelled the call; rolled back");
        } else if (status.ok() && absl::Now() >= limits.deadline) {
          status = absl::DeadlineExceededError("deadline passed before commit; rolled back");
        }
        if (!status.ok()) {
          txn.abort();
          return status;
        }
        txn.commit();
        return absl::OkStatus();
      },
      messages);
}

absl::Status RunReadOnly(ConnectionPool& pool, const CallLimits& limits,
                         const TransactionBody& body) {
  return Run(
      pool, limits,
      [&](pqxx::connection& conn) {
        pqxx::nontransaction statements(conn);
        return body(statements);
      },
      nullptr);
}

}  // namespace chatgenius
