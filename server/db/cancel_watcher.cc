#include "server/db/cancel_watcher.h"

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "server/metrics/prometheus_text.h"

namespace chatgenius {

CancelWatcher::Registration::~Registration() {
  if (watcher_ != nullptr) watcher_->Unregister(id_);
}

CancelWatcher& CancelWatcher::Global() {
  // Never destroyed: the thread (and any cancel still on its way) may run
  // as long as the process.
  static CancelWatcher* watcher = new CancelWatcher();
  return *watcher;
}

CancelWatcher::CancelWatcher() {
  {
    absl::MutexLock lock(&mu_);
    tokens_ = settings_.cancel_burst;
    refilled_ = absl::Now();
  }
  std::thread([this] { Run(); }).detach();
}

void CancelWatcher::Configure(const CancelSettings& settings) {
  absl::MutexLock lock(&mu_);
  settings_ = settings;
  tokens_ = std::min<double>(tokens_, settings_.cancel_burst);
  wake_.Signal();
}

CancelWatcher::Registration CancelWatcher::Watch(std::shared_ptr<CancelTarget> target,
                                                 std::function<bool()> cancelled,
                                                 absl::Time deadline) {
  if (!cancelled && deadline == absl::InfiniteFuture()) return Registration();
  absl::MutexLock lock(&mu_);
  int64_t id = next_id_++;
  // Only an idle watcher sleeps without a timeout; a busy one looks at the
  // new entry within poll_interval anyway. (Waking it for every call cost
  // two context switches per query on a 2-core machine.)
  if (entries_.empty()) wake_.Signal();
  entries_.emplace(id, Entry{std::move(target), std::move(cancelled), deadline});
  return Registration(this, id);
}

void CancelWatcher::Unregister(int64_t id) {
  absl::MutexLock lock(&mu_);
  entries_.erase(id);
}

CancelStatistics CancelWatcher::Stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

bool CancelWatcher::TakeToken(absl::Time now) {
  tokens_ =
      std::min<double>(settings_.cancel_burst, tokens_ + absl::ToDoubleSeconds(now - refilled_) *
                                                             settings_.cancels_per_second);
  refilled_ = now;
  if (tokens_ < 1 || stats_.in_flight >= settings_.max_cancels_in_flight) return false;
  tokens_ -= 1;
  ++stats_.in_flight;
  return true;
}

void CancelWatcher::Send(std::shared_ptr<CancelTarget> target) {
  // A thread per request, detached: PQcancel has no timeout, and one that
  // never returns (a stopped server) must hold nothing but its slot.
  std::thread([this, target = std::move(target)] {
    std::string error;
    const bool sent = target->SendCancel(&error);
    absl::MutexLock lock(&mu_);
    --stats_.in_flight;
    ++(sent ? stats_.cancels_sent : stats_.cancels_failed);
  }).detach();
}

void CancelWatcher::Run() {
  std::vector<std::shared_ptr<CancelTarget>> to_cancel;
  absl::Duration poll;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      while (entries_.empty()) wake_.Wait(&mu_);
      const absl::Time now = absl::Now();
      for (auto& [id, entry] : entries_) {
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
            ++stats_.cancels_deferred;
          }
        }
        // Cut under the lock: while the entry is registered the borrower
        // holds the connection, so the socket is still its session's.
        if (now - entry.gave_up >= settings_.cut_off_after) {
          entry.cut = true;
          if (entry.target->CutOff()) ++stats_.cut_offs;
        }
      }
      poll = settings_.poll_interval;
    }
    // Outside the lock (Send only starts a thread): Watch and Unregister
    // never wait for the database.
    for (auto& target : to_cancel) Send(std::move(target));
    to_cancel.clear();
    absl::MutexLock lock(&mu_);
    wake_.WaitWithTimeout(&mu_, poll);
  }
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
