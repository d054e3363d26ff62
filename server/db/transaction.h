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
//     pqxx::result r = Exec(txn, kUserGet, id);   // a Statement (statement.h)
//     if (r.empty()) return absl::NotFoundError("user not found");
//     return absl::OkStatus();
//   });
#ifndef CHATGENIUS_SERVER_DB_TRANSACTION_H_
#define CHATGENIUS_SERVER_DB_TRANSACTION_H_

#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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

// RunInTransactionThen is RunInTransaction whose `then` runs on the same
// connection once the transaction has committed (its statements in
// autocommit), before the connection goes back to the pool: e.g. "read
// the WAL position the commit reached" (database.h). An exception from
// `then` is logged and swallowed — the transaction stays committed and the
// call succeeds.
[[nodiscard]] absl::Status RunInTransactionThen(
    ConnectionPool& pool, const CallLimits& limits, const TransactionBody& body,
    const std::function<void(pqxx::transaction_base&)>& then,
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

// The same two for a body that returns a value: absl::StatusOr<T>
// (pqxx::transaction_base&), on a ConnectionPool or a Database
// (database.h). The result is the body's value once the
// transaction committed (RunInTransaction) or the statements ran
// (RunReadOnly), else the first error by the rules above — so a store
// method is one expression:
//
//   return RunReadOnly(*pool_, call, [&](pqxx::transaction_base& txn) {
//     return GetIn(txn, id);  // absl::StatusOr<v1::User>
//   });
namespace transaction_internal {
template <typename T>
struct IsStatusOr : std::false_type {};
template <typename T>
struct IsStatusOr<absl::StatusOr<T>> : std::true_type {};
template <typename Body>
using ResultOf = std::invoke_result_t<Body&, pqxx::transaction_base&>;

// Keeps the body's value while the status-returning form runs it.
template <typename Body, typename R = ResultOf<Body>>
absl::Status Capture(Body& body, pqxx::transaction_base& txn, std::optional<R>& out) {
  R r = body(txn);
  if (!r.ok()) return r.status();
  out.emplace(std::move(r));
  return absl::OkStatus();
}
}  // namespace transaction_internal

template <typename Hosts, typename Body, typename R = transaction_internal::ResultOf<Body>,
          typename = std::enable_if_t<transaction_internal::IsStatusOr<R>::value>>
[[nodiscard]] R RunInTransaction(Hosts& hosts, const CallLimits& limits, Body&& body,
                                 const ConstraintMessages* messages = nullptr) {
  std::optional<R> out;
  absl::Status s =
      RunInTransaction(hosts, limits, TransactionBody([&](pqxx::transaction_base& txn) {
                         return transaction_internal::Capture(body, txn, out);
                       }),
                       messages);
  if (!s.ok()) return s;
  return std::move(*out);
}

template <typename Hosts, typename Body, typename R = transaction_internal::ResultOf<Body>,
          typename = std::enable_if_t<transaction_internal::IsStatusOr<R>::value>>
[[nodiscard]] R RunReadOnly(Hosts& hosts, const CallLimits& limits, Body&& body) {
  std::optional<R> out;
  absl::Status s = RunReadOnly(hosts, limits, TransactionBody([&](pqxx::transaction_base& txn) {
                                 return transaction_internal::Capture(body, txn, out);
                               }));
  if (!s.ok()) return s;
  return std::move(*out);
}

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_DB_TRANSACTION_H_
