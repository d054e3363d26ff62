// call_limits.h
//
// CallLimits: how long one caller's database work may run and whether the
// caller has gone away. The service layer builds one per RPC from the gRPC
// deadline and ServerContext::IsCancelled; stores pass it to
// RunInTransaction unchanged. Constructible from a bare deadline, for
// callers without cancellation (tests, start-up work).
//
// With read replicas (database.h) it also carries the call's
// read-your-writes token: the WAL position its reads must see, and where
// its writes report theirs.
//
// Example:
//   store.Get(id, CallLimits(absl::Now() + absl::Seconds(5)));
#ifndef CHATGENIUS_SERVER_DB_CALL_LIMITS_H_
#define CHATGENIUS_SERVER_DB_CALL_LIMITS_H_

#include <functional>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/db/lsn.h"

namespace chatgenius {

struct CallLimits {
  // Implicit on purpose: a deadline alone is a complete limit.
  CallLimits(absl::Time deadline) : deadline(deadline) {}  // NOLINT
  CallLimits(absl::Time deadline, std::function<bool()> cancelled)
      : deadline(deadline), cancelled(std::move(cancelled)) {}

  // The work must finish by then: the CancelWatcher cancels a statement
  // still running at the deadline, and cuts its connection a grace later
  // (no per-call statement_timeout is set; the session's is the cap).
  absl::Time deadline;
  // Returns true once the caller has cancelled; may be called from any
  // thread. Empty: never cancelled. It may be costly (for a gRPC sync call
  // it polls the call's completion queue: ~10 us), so it is asked by the
  // CancelWatcher while a statement runs, and by Run only after a wait for
  // a connection or a failure — not on every call's happy path.
  std::function<bool()> cancelled;

  // Reads must see at least this WAL position (0: any replica in rotation
  // will do). kPrimaryOnly: read from the primary.
  Lsn min_lsn = 0;
  // Called with the WAL position of each transaction this call committed
  // (only when the process has replicas). Empty: nobody asks.
  std::function<void(Lsn)> committed;

  // A min_lsn no replica can hold: the read runs on the primary.
  static constexpr Lsn kPrimaryOnly = ~Lsn{0};

  bool IsCancelled() const { return cancelled && cancelled(); }
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_DB_CALL_LIMITS_H_
