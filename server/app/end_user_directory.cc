#include "server/app/end_user_directory.h"

#include "absl/time/clock.h"

namespace chatgenius {

absl::StatusOr<std::string> EndUserDirectory::UserIdOf(const std::string& subject,
                                                       absl::Duration timeout) {
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(subject);
    if (it != cache_.end() && it->second.second > now) return it->second.first;
  }
  absl::StatusOr<db::v1::User> user = store_->GetByAuth0Id(subject, CallLimits{now + timeout});
  if (!user.ok()) return user.status();
  absl::MutexLock lock(&mu_);
  if (cache_.size() >= capacity_) cache_.clear();
  cache_[subject] = {user->id(), now + ttl_};
  return user->id();
}

}  // namespace chatgenius
