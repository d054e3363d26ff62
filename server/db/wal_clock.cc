#include "server/db/wal_clock.h"

namespace chatgenius {

void WalClock::Record(absl::Time at, Lsn lsn) {
  absl::MutexLock lock(&mu_);
  // Keep one sample older than the window: it still bounds a replica that
  // replayed past it but not past anything newer.
  while (samples_.size() > 1 && samples_[1].first < at - window_) samples_.pop_front();
  if (!samples_.empty() && samples_.back().second == lsn) {
    // The primary wrote nothing since: the same position, fresh as of now.
    samples_.back().first = at;
    return;
  }
  samples_.emplace_back(at, lsn);
}

absl::Time WalClock::FreshAsOf(Lsn replayed) const {
  absl::MutexLock lock(&mu_);
  for (auto it = samples_.rbegin(); it != samples_.rend(); ++it) {
    if (it->second <= replayed) return it->first;
  }
  return absl::InfinitePast();
}

Lsn WalClock::newest() const {
  absl::MutexLock lock(&mu_);
  return samples_.empty() ? 0 : samples_.back().second;
}

}  // namespace chatgenius
