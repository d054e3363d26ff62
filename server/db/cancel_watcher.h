// cancel_watcher.h
//
// CancelWatcher: one background thread that cancels the running query of
// callers who went away. libpq blocks the calling thread for the whole
// query, so a cancelled gRPC call cannot stop its own statement; the watcher
// polls the registered callers every kPollInterval and sends PostgreSQL a
// cancel request (PQcancel, safe from another thread) for those that
// cancelled. The thread sleeps while nothing is registered.
//
// Example:
//   CancelWatcher::Registration r =
//       CancelWatcher::Global().Watch(&conn, limits.cancelled);
//   txn.exec(...);  // fails with query_canceled if the caller cancels
#ifndef CHATGENIUS_SERVER_DB_CANCEL_WATCHER_H_
#define CHATGENIUS_SERVER_DB_CANCEL_WATCHER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <thread>

#include <pqxx/pqxx>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chatgenius {

class CancelWatcher {
 public:
  // kPollInterval bounds how long a cancelled query keeps running.
  static constexpr absl::Duration kPollInterval = absl::Milliseconds(20);

  // Registration stops watching when destroyed; after its destructor
  // returns, the watcher no longer touches the connection.
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

  // Global returns the process-wide watcher (started on first use).
  static CancelWatcher& Global();

  // Watch cancels `conn`'s running query once `cancelled()` returns true,
  // and at every poll once `deadline` has passed (so a statement started
  // after the deadline is stopped too). An empty `cancelled` and an infinite
  // deadline register nothing.
  [[nodiscard]] Registration Watch(pqxx::connection* conn, std::function<bool()> cancelled,
                                   absl::Time deadline = absl::InfiniteFuture());

  // cancels_sent counts cancel requests sent, for tests and statistics.
  int64_t cancels_sent() const;

 private:
  struct Entry {
    pqxx::connection* conn;
    std::function<bool()> cancelled;
    absl::Time deadline;
    bool fired = false;
  };

  CancelWatcher();
  void Run();
  void Unregister(int64_t id);

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  std::map<int64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t cancels_sent_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_DB_CANCEL_WATCHER_H_
