#include "server/db/transaction.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/common/log.h"
#include "server/common/status_macros.h"
#include "server/db/cancel_watcher.h"
#include "server/metrics/limit_hits.h"

namespace chatgenius {

namespace {

// The hooks of the RunInTransaction running on this thread, if any.
thread_local std::vector<std::function<void()>>* commit_hooks = nullptr;

// GaveUp is CANCELLED or DEADLINE_EXCEEDED (saying `when`) once the caller
// cancelled or its deadline passed, else OK.
absl::Status GaveUp(const CallLimits& limits, absl::string_view when) {
  if (limits.IsCancelled())
    return absl::CancelledError(absl::StrCat("the caller cancelled ", when));
  if (absl::Now() >= limits.deadline) {
    return absl::DeadlineExceededError(absl::StrCat("deadline passed ", when));
  }
  return absl::OkStatus();
}

// CountSessionLimit counts errors that mean a session limit fired.
void CountSessionLimit(const std::exception& e) {
  const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
  if (sql == nullptr) return;
  if (sql->sqlstate() == "55P03") LimitHits::Count(Limit::kLockTimeout);  // lock_not_available
  if (sql->sqlstate() == "25P03") LimitHits::Count(Limit::kIdleInTransaction);
}

// A caller served a connection within this has had no time to give up
// that the CancelWatcher would not see during its statement.
constexpr absl::Duration kNoticeableWait = absl::Milliseconds(1);

// Run borrows a connection and runs `work` on it within `limits`: the
// CancelWatcher cancels the running statement when the caller cancels or
// the deadline passes (RpcLimits caps deadlines at STATEMENT_TIMEOUT_MS), so
// no per-call SET statement_timeout round trip is needed. Maps exceptions.
// A caller that waited for its connection and gave up meanwhile gets its
// CANCELLED / DEADLINE_EXCEEDED without running anything; asking whether
// it cancelled costs a poll of its gRPC call, so a caller served at once
// is not asked (the watcher is, during the statement).
absl::Status Run(ConnectionPool& pool, const CallLimits& limits,
                 const std::function<absl::Status(DbConnection&)>& work,
                 const ConstraintMessages* messages) {
  const absl::Time asked = absl::Now();
  ASSIGN_OR_RETURN(PooledConnection conn, pool.Acquire(limits.deadline));
  const absl::Time served = absl::Now();
  if (served >= limits.deadline) {
    return absl::DeadlineExceededError("deadline passed before the query could start");
  }
  if (served - asked >= kNoticeableWait) {
    RETURN_IF_ERROR(GaveUp(limits, "before the query could start"));
  }
  CancelWatcher::Registration watch =
      pool.cancel_watcher().Watch(conn->cancel_target(), limits.cancelled, limits.deadline);
  try {
    return work(*conn);
  } catch (const std::exception& e) {
    CountSessionLimit(e);
    absl::Status status = StatusFromException(e, messages);
    if (IsConnectionLoss(status) || !conn->is_open()) conn.MarkBroken();
    RETURN_IF_ERROR(GaveUp(limits, "while the statement ran; it was cancelled in PostgreSQL"));
    return status;
  }
}

}  // namespace

void AfterCommit(std::function<void()> hook) {
  if (commit_hooks != nullptr) commit_hooks->push_back(std::move(hook));
}

absl::Status RunInTransaction(ConnectionPool& pool, const CallLimits& limits,
                              const TransactionBody& body, const ConstraintMessages* messages) {
  return RunInTransactionThen(pool, limits, body, nullptr, messages);
}

absl::Status RunInTransactionThen(ConnectionPool& pool, const CallLimits& limits,
                                  const TransactionBody& body,
                                  const std::function<void(pqxx::transaction_base&)>& then,
                                  const ConstraintMessages* messages) {
  std::vector<std::function<void()>> hooks;
  std::vector<std::function<void()>>* const outer = std::exchange(commit_hooks, &hooks);
  absl::Status status = Run(
      pool, limits,
      [&](DbConnection& conn) {
        pqxx::work txn(conn);
        absl::Status status = body(txn);
        // A caller that gave up while the body ran was (or is about to be)
        // told so; committing now would write what it believes failed.
        if (status.ok()) status = GaveUp(limits, "before commit; rolled back");
        if (!status.ok()) {
          txn.abort();
          return status;
        }
        txn.commit();
        if (then) {
          try {
            pqxx::nontransaction after(conn);
            then(after);
          } catch (const std::exception& e) {
            // A connection that closed is discarded when it is released.
            LogWarning(absl::StrCat("after commit: ", StatusFromException(e).message()));
          }
        }
        return absl::OkStatus();
      },
      messages);
  commit_hooks = outer;
  if (status.ok()) {
    for (const auto& hook : hooks) hook();
  }
  return status;
}

absl::Status RunReadOnly(ConnectionPool& pool, const CallLimits& limits,
                         const TransactionBody& body) {
  return Run(
      pool, limits,
      [&](DbConnection& conn) {
        pqxx::nontransaction statements(conn);
        return body(statements);
      },
      nullptr);
}

}  // namespace chatgenius
