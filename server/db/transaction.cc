#include "server/db/transaction.h"

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/db/cancel_watcher.h"

namespace chatgenius {

absl::Status RunInTransaction(ConnectionPool& pool, const CallLimits& limits,
                              const TransactionBody& body, const ConstraintMessages* messages) {
  if (limits.IsCancelled()) return absl::CancelledError("the caller cancelled the call");
  const absl::Time deadline = limits.deadline;
  ASSIGN_OR_RETURN(PooledConnection conn, pool.Acquire(deadline));
  // Round up so a remaining 0.4 ms does not become "no timeout" (0).
  int64_t timeout_ms =
      absl::ToInt64Milliseconds(absl::Ceil(deadline - absl::Now(), absl::Milliseconds(1)));
  if (timeout_ms <= 0) {
    return absl::DeadlineExceededError("deadline passed before the query could start");
  }
  CancelWatcher::Registration watch = CancelWatcher::Global().Watch(&*conn, limits.cancelled);
  try {
    pqxx::work txn(*conn);
    txn.exec(absl::StrCat("SET LOCAL statement_timeout = ", timeout_ms));
    absl::Status status = body(txn);
    if (!status.ok()) {
      txn.abort();
      return status;
    }
    txn.commit();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    absl::Status status = StatusFromException(e, messages);
    if (IsConnectionLoss(status) || !conn->is_open()) conn.MarkBroken();
    if (limits.IsCancelled()) return absl::CancelledError("the caller cancelled the call");
    return status;
  }
}

}  // namespace chatgenius
