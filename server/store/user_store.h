// user_store.h
//
// UserStore: all SQL about users and their status, as Statement constants
// (each statement has one owner: this store). Input is assumed validated by
// the service layer; the database's constraints still enforce every
// invariant, and their violations come back as statuses through
// pg_error.h with user-facing messages.
#ifndef CHATGENIUS_SERVER_STORE_USER_STORE_H_
#define CHATGENIUS_SERVER_STORE_USER_STORE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chatgenius/db/v1/user_service.pb.h"
#include "server/db/call_limits.h"
#include "server/db/database.h"

namespace chatgenius {

// UserUpdate says which fields of a user Update writes.
struct UserUpdate {
  bool email = false;
  bool username = false;
  bool display_name = false;
  bool full_name = false;
  bool avatar_url = false;
};

// UserStore reads and writes users. Thread-safe; every method runs within
// its `call` (deadline and cancellation): writes in one transaction, reads
// in autocommit (RunReadOnly).
class UserStore {
 public:
  // `db` must outlive the store; its autocommit reads may run on a read
  // replica (server/db/database.h). Its statements (Statement constants in
  // the .cc) are prepared on each connection when first run there.
  explicit UserStore(Database* db);

  // Create inserts `user` under a new ULID. ALREADY_EXISTS naming the field
  // if the email or username is taken.
  [[nodiscard]] absl::StatusOr<db::v1::User> Create(const db::v1::User& user,
                                                    const CallLimits& call);
  // Get returns a live user. NOT_FOUND if absent or deleted.
  [[nodiscard]] absl::StatusOr<db::v1::User> Get(const std::string& id, const CallLimits& call);
  // GetByEmail matches case-insensitively.
  [[nodiscard]] absl::StatusOr<db::v1::User> GetByEmail(const std::string& email,
                                                        const CallLimits& call);
  [[nodiscard]] absl::StatusOr<db::v1::User> GetByUsername(const std::string& username,
                                                           const CallLimits& call);
  // GetByAuth0Id finds the live user an identity provider subject names.
  [[nodiscard]] absl::StatusOr<db::v1::User> GetByAuth0Id(const std::string& auth0_id,
                                                          const CallLimits& call);
  // BatchGet returns the live users among `ids`, in the order of `ids`.
  [[nodiscard]] absl::StatusOr<std::vector<db::v1::User>> BatchGet(
      const std::vector<std::string>& ids, const CallLimits& call);
  // Update writes the fields selected by `fields` from `user`.
  [[nodiscard]] absl::StatusOr<db::v1::User> Update(const db::v1::User& user,
                                                    const UserUpdate& fields,
                                                    const CallLimits& call);
  // List returns up to `limit` live users with id > `after_id` (empty: from
  // the start), ordered by id, optionally filtered by a case-insensitive
  // prefix of username or display name.
  [[nodiscard]] absl::StatusOr<std::vector<db::v1::User>> List(const std::string& after_id,
                                                               const std::string& prefix, int limit,
                                                               const CallLimits& call);
  // Delete soft-deletes a live user. NOT_FOUND if absent or deleted.
  [[nodiscard]] absl::Status Delete(const std::string& id, const CallLimits& call);

  // SetStatus writes every field of `status` for a live user.
  [[nodiscard]] absl::StatusOr<db::v1::UserStatus> SetStatus(const db::v1::UserStatus& status,
                                                             const CallLimits& call);
  // GetStatus returns the status (presence OFFLINE and no text if never
  // set); custom text and emoji past their expiry come back empty.
  [[nodiscard]] absl::StatusOr<db::v1::UserStatus> GetStatus(const std::string& user_id,
                                                             const CallLimits& call);

 private:
  Database* const db_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_STORE_USER_STORE_H_
