#include "server/db/cancel_watcher.h"

namespace chatgenius {

CancelWatcher::Registration::~Registration() {
  if (watcher_ != nullptr) watcher_->Unregister(id_);
}

CancelWatcher& CancelWatcher::Global() {
  // Never destroyed: the thread lives as long as the process.
  static CancelWatcher* watcher = new CancelWatcher();
  return *watcher;
}

CancelWatcher::CancelWatcher() {
  thread_ = std::thread([this] { Run(); });
  thread_.detach();
}

CancelWatcher::Registration CancelWatcher::Watch(pqxx::connection* conn,
                                                 std::function<bool()> cancelled,
                                                 absl::Time deadline) {
  if (!cancelled && deadline == absl::InfiniteFuture()) return Registration();
  absl::MutexLock lock(&mu_);
  int64_t id = next_id_++;
  entries_.emplace(id, Entry{conn, std::move(cancelled), deadline});
  wake_.Signal();
  return Registration(this, id);
}

void CancelWatcher::Unregister(int64_t id) {
  absl::MutexLock lock(&mu_);
  entries_.erase(id);
}

int64_t CancelWatcher::cancels_sent() const {
  absl::MutexLock lock(&mu_);
  return cancels_sent_;
}

void CancelWatcher::Run() {
  absl::MutexLock lock(&mu_);
  while (true) {
    while (entries_.empty()) wake_.Wait(&mu_);
    const absl::Time now = absl::Now();
    for (auto& [id, entry] : entries_) {
      // Past the deadline: cancel at every poll (a cancel request reaching
      // an idle connection is ignored by PostgreSQL). Cancelled by the
      // caller: once.
      const bool expired = now >= entry.deadline;
      if (!expired) {
        if (entry.fired || !entry.cancelled || !entry.cancelled()) continue;
        entry.fired = true;
      }
      // Sent under the lock so Unregister (and with it the connection's
      // release) waits until the request is out; PQcancel opens its own
      // short connection and does not touch the busy one's state.
      try {
        entry.conn->cancel_query();
        ++cancels_sent_;
      } catch (const std::exception&) {
        // The query may have finished or the connection died meanwhile.
      }
    }
    wake_.WaitWithTimeout(&mu_, kPollInterval);
  }
}

}  // namespace chatgenius
