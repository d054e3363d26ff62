// cancel_watcher.h
//
// CancelWatcher: one background thread that stops the running statement of
// callers who went away. libpq blocks the calling thread for the whole
// statement, so a cancelled gRPC call cannot stop its own statement; the
// watcher polls the registered callers every `poll_interval` and, for those
// that cancelled or whose deadline passed:
//   1. sends PostgreSQL a cancel request (PQcancel), once, on a short-lived
//      thread of its own, never under the watcher's lock: a silent server or
//      a frozen tunnel delays nobody else. Requests are rate-limited (a token
//      bucket, `cancels_per_second`) and at most `max_cancels_in_flight` run
//      at once, so a dead database cannot turn every deadline into a thread
//      and a connection attempt;
//   2. if the caller is still registered `cut_off_after` later (the cancel
//      went unanswered, or was not sent), cuts the session's socket
//      (CancelTarget::CutOff): libpq fails at once, the caller returns, and
//      the pool discards the connection.
// So a caller's database work ends within deadline + poll_interval +
// cut_off_after whatever the database or the tunnel does. The thread
// sleeps while nothing is registered.
//
// Each pool is given the watcher it uses (PoolSettings::cancel_watcher;
// the server owns one, tests their own), or uses the process-wide Global().
// A watcher may be destroyed once nothing it watches runs any more: it
// stops its thread, and cancel requests still on their way (PQcancel to a
// silent server may never return) keep what they need alive themselves.
//
// Example:
//   CancelWatcher::Registration r = CancelWatcher::Global().Watch(
//       conn.cancel_target(), limits.cancelled, limits.deadline);
//   txn.exec(...);  // fails with query_canceled if the caller cancels
#ifndef CHATGENIUS_SERVER_DB_CANCEL_WATCHER_H_
#define CHATGENIUS_SERVER_DB_CANCEL_WATCHER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/db/db_connection.h"

namespace chatgenius {

// CancelSettings tunes the watcher; the defaults suit production.
struct CancelSettings {
  // How long a cancelled statement may keep running before the watcher acts.
  absl::Duration poll_interval = absl::Milliseconds(20);
  // After the cancel request, how long the statement may keep its session
  // before the socket is cut (POSTGRES_CANCEL_GRACE_MS).
  absl::Duration cut_off_after = absl::Seconds(1);
  // Token bucket for cancel requests: refill rate and burst.
  double cancels_per_second = 50;
  int cancel_burst = 50;
  // Cancel requests outstanding at once; more wait for a slot (or the cut-off).
  int max_cancels_in_flight = 4;
};

// CancelStatistics counts since process start.
struct CancelStatistics {
  int64_t cancels_sent = 0;      // requests the server took
  int64_t cancels_failed = 0;    // requests that could not be delivered
  int64_t cancels_deferred = 0;  // polls that found no token or no free slot
  int64_t cut_offs = 0;          // sessions whose socket was cut
  int in_flight = 0;             // requests outstanding now
};

// AppendCancelMetrics renders `cancels` (chatgenius_db_cancels_*, _connections_cut_total).
void AppendCancelMetrics(const CancelStatistics& cancels, std::string* out);

class CancelWatcher {
 public:
  // Registration stops watching when destroyed; after its destructor
  // returns, the watcher no longer acts on the session (a cancel already on
  // its way may still arrive: see CancelTarget::CancelInFlight).
  class Registration {
   public:
    Registration() = default;
    Registration(Registration&& other) noexcept
        : watcher_(std::exchange(other.watcher_, nullptr)), id_(other.id_) {}
    Registration& operator=(Registration&&) = delete;
    ~Registration();

   private:
    friend class CancelWatcher;
    Registration(CancelWatcher* watcher, int64_t id) : watcher_(watcher), id_(id) {}
    CancelWatcher* watcher_ = nullptr;
    int64_t id_ = 0;
  };

  // Starts the watcher's thread. Every Registration must be gone before
  // the watcher is destroyed.
  explicit CancelWatcher(CancelSettings settings = CancelSettings());
  ~CancelWatcher();
  CancelWatcher(const CancelWatcher&) = delete;
  CancelWatcher& operator=(const CancelWatcher&) = delete;

  // Global returns the process-wide watcher (started on first use, never
  // destroyed): for pools not given one.
  static CancelWatcher& Global();
  // GivenOrGlobal is `*given`, or Global() for a component given none.
  static CancelWatcher& GivenOrGlobal(CancelWatcher* given) {
    return given != nullptr ? *given : Global();
  }

  // Configure replaces the settings (at start-up; takes effect at once).
  void Configure(const CancelSettings& settings);

  // Watch stops `target`'s running statement once `cancelled()` returns
  // true or `deadline` passes (a statement started after the deadline is
  // cut off too). An empty `cancelled` and an infinite deadline register
  // nothing.
  [[nodiscard]] Registration Watch(std::shared_ptr<CancelTarget> target,
                                   std::function<bool()> cancelled,
                                   absl::Time deadline = absl::InfiniteFuture());

  CancelStatistics Stats() const;

 private:
  struct State;  // shared with the thread and with cancels in flight

  void Unregister(int64_t id);

  const std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_DB_CANCEL_WATCHER_H_
