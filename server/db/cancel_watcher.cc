#include "server/db/cancel_watcher.h"

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "server/metrics/prometheus_text.h"

namespace chatgenius {

struct CancelWatcher::State {
  struct Entry {
    std::shared_ptr<CancelTarget> target;
    std::function<bool()> cancelled;
    absl::Time deadline;
    absl::Time gave_up = absl::InfiniteFuture();  // when the caller gave up
    bool cancel_sent = false;
    bool cut = false;
  };

  // TakeToken spends one cancel token if the bucket has one and a request
  // slot is free.
  bool TakeToken(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    tokens =
        std::min<double>(settings.cancel_burst, tokens + absl::ToDoubleSeconds(now - refilled) *
                                                             settings.cancels_per_second);
    refilled = now;
    if (tokens < 1 || stats.in_flight >= settings.max_cancels_in_flight) return false;
    tokens -= 1;
    ++stats.in_flight;
    return true;
  }

  // Poll acts on every entry whose caller gave up; returns the targets to
  // send a cancel to (outside the lock).
  std::vector<std::shared_ptr<CancelTarget>> Poll(absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::vector<std::shared_ptr<CancelTarget>> to_cancel;
    for (auto& [id, entry] : entries) {
      if (entry.cut) continue;
      if (entry.gave_up == absl::InfiniteFuture() &&
          (now >= entry.deadline || (entry.cancelled && entry.cancelled()))) {
        entry.gave_up = now;
      }
      if (entry.gave_up == absl::InfiniteFuture()) continue;
      if (!entry.cancel_sent) {
        if (TakeToken(now)) {
          entry.cancel_sent = true;
          entry.target->BeginCancel();  // registered: the borrower still holds it
          to_cancel.push_back(entry.target);
        } else {
          ++stats.cancels_deferred;
        }
      }
      // Cut under the lock: while the entry is registered the borrower
      // holds the connection, so the socket is still its session's.
      if (now - entry.gave_up >= settings.cut_off_after) {
        entry.cut = true;
        if (entry.target->CutOff()) ++stats.cut_offs;
      }
    }
    return to_cancel;
  }

  // Send asks for the cancel on a thread per request, detached: PQcancel
  // has no timeout, and one that never returns (a stopped server) must hold
  // nothing but its slot — and the state it reports to, which it shares.
  static void Send(std::shared_ptr<State> state, std::shared_ptr<CancelTarget> target) {
    std::thread([state = std::move(state), target = std::move(target)] {
      std::string error;
      const bool sent = target->SendCancel(&error);
      absl::MutexLock lock(&state->mu);
      --state->stats.in_flight;
      ++(sent ? state->stats.cancels_sent : state->stats.cancels_failed);
    }).detach();
  }

  absl::Mutex mu;
  absl::CondVar wake;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  CancelSettings settings ABSL_GUARDED_BY(mu);
  std::map<int64_t, Entry> entries ABSL_GUARDED_BY(mu);
  int64_t next_id ABSL_GUARDED_BY(mu) = 1;
  double tokens ABSL_GUARDED_BY(mu) = 0;
  absl::Time refilled ABSL_GUARDED_BY(mu);
  CancelStatistics stats ABSL_GUARDED_BY(mu);
};

CancelWatcher::Registration::~Registration() {
  if (watcher_ != nullptr) watcher_->Unregister(id_);
}

CancelWatcher& CancelWatcher::Global() {
  // Never destroyed: pools without a watcher of their own use it for the
  // whole process.
  static CancelWatcher* watcher = new CancelWatcher();
  return *watcher;
}

CancelWatcher::CancelWatcher(CancelSettings settings) : state_(std::make_shared<State>()) {
  {
    absl::MutexLock lock(&state_->mu);
    state_->settings = settings;
    state_->tokens = settings.cancel_burst;
    state_->refilled = absl::Now();
  }
  thread_ = std::thread([state = state_] {
    absl::MutexLock lock(&state->mu);
    while (true) {
      while (state->entries.empty() && !state->stopping) state->wake.Wait(&state->mu);
      if (state->stopping) return;
      std::vector<std::shared_ptr<CancelTarget>> to_cancel = state->Poll(absl::Now());
      const absl::Duration poll = state->settings.poll_interval;
      // Outside the lock (Send only starts a thread): Watch and Unregister
      // never wait for the database.
      state->mu.Unlock();
      for (auto& target : to_cancel) State::Send(state, std::move(target));
      state->mu.Lock();
      if (!state->stopping) state->wake.WaitWithTimeout(&state->mu, poll);
    }
  });
}

CancelWatcher::~CancelWatcher() {
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopping = true;
    state_->wake.Signal();
  }
  thread_.join();
}

void CancelWatcher::Configure(const CancelSettings& settings) {
  absl::MutexLock lock(&state_->mu);
  state_->settings = settings;
  state_->tokens = std::min<double>(state_->tokens, settings.cancel_burst);
  state_->wake.Signal();
}

CancelWatcher::Registration CancelWatcher::Watch(std::shared_ptr<CancelTarget> target,
                                                 std::function<bool()> cancelled,
                                                 absl::Time deadline) {
  if (!cancelled && deadline == absl::InfiniteFuture()) return Registration();
  absl::MutexLock lock(&state_->mu);
  const int64_t id = state_->next_id++;
  // Only an idle watcher sleeps without a timeout; a busy one looks at the
  // new entry within poll_interval anyway. (Waking it for every call cost
  // two context switches per query on a 2-core machine.)
  if (state_->entries.empty()) state_->wake.Signal();
  state_->entries.emplace(id, State::Entry{std::move(target), std::move(cancelled), deadline});
  return Registration(this, id);
}

void CancelWatcher::Unregister(int64_t id) {
  absl::MutexLock lock(&state_->mu);
  state_->entries.erase(id);
}

CancelStatistics CancelWatcher::Stats() const {
  absl::MutexLock lock(&state_->mu);
  return state_->stats;
}

void AppendCancelMetrics(const CancelStatistics& cancels, std::string* out) {
  AppendCounter(out, "chatgenius_db_cancels_sent_total",
                "Cancel requests PostgreSQL took (the caller gave up).", cancels.cancels_sent);
  AppendCounter(out, "chatgenius_db_cancels_failed_total",
                "Cancel requests that could not be delivered.", cancels.cancels_failed);
  AppendCounter(out, "chatgenius_db_cancels_deferred_total",
                "Polls that found no cancel token or no free slot (rate limit).",
                cancels.cancels_deferred);
  AppendGauge(out, "chatgenius_db_cancels_in_flight", "Cancel requests not yet answered.",
              cancels.in_flight);
  AppendCounter(
      out, "chatgenius_db_connections_cut_total",
      "Connections cut off: still busy POSTGRES_CANCEL_GRACE_MS after the caller gave up.",
      cancels.cut_offs);
}

}  // namespace chatgenius
