// end_user_directory.h
//
// EndUserDirectory maps a verified token's subject (users.auth0_id) to the
// live user's id for the auth processor, reading the database on a miss and
// remembering hits for `ttl` (a token arrives with every call of a user's
// session). A user deleted within the ttl is still refused: the access rule
// checks liveness inside every transaction. Bounded: at most `capacity`
// entries, the whole cache dropped when full. Thread-safe.
#ifndef CHATGENIUS_SERVER_APP_END_USER_DIRECTORY_H_
#define CHATGENIUS_SERVER_APP_END_USER_DIRECTORY_H_

#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/user_store.h"

namespace chatgenius {

class EndUserDirectory {
 public:
  // `store` must outlive the directory.
  EndUserDirectory(UserStore* store, absl::Duration ttl = absl::Seconds(30),
                   size_t capacity = 10000)
      : store_(store), ttl_(ttl), capacity_(capacity) {}

  // UserIdOf returns the live user whose auth0_id is `subject`; NOT_FOUND
  // if none, UNAVAILABLE/DEADLINE_EXCEEDED if the database did not answer
  // within `timeout`.
  absl::StatusOr<std::string> UserIdOf(const std::string& subject,
                                       absl::Duration timeout = absl::Seconds(2));

 private:
  UserStore* const store_;
  const absl::Duration ttl_;
  const size_t capacity_;
  absl::Mutex mu_;
  // subject -> (user id, when it stops being trusted)
  absl::flat_hash_map<std::string, std::pair<std::string, absl::Time>> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_APP_END_USER_DIRECTORY_H_
