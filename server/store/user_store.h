// user_store.h
//
// UserStore: all SQL about users and their status, as prepared statements
// registered on the pool (STYLE.md rule 3). Input is assumed validated by
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
#include "server/db/connection_pool.h"

namespace chatgenius {

// UserUpdate says which fields of a user Update writes.
struct UserUpdate {
  bool email = false;
  bool username = false;
  bool display_name = false;
  bool full_name = false;
  bool avatar_url = false;
};

// UserStore reads and writes users. Thread-safe; every method runs one
// transaction that must finish by `deadline`.
class UserStore {
 public:
  // Registers the store's statements on `pool`, which must outlive it.
  explicit UserStore(ConnectionPool* pool);

  // Create inserts `user` under a new ULID. ALREADY_EXISTS naming the field
  // if the email or username is taken.
  [[nodiscard]] absl::StatusOr<db::v1::User> Create(const db::v1::User& user, absl::Time deadline);
  // Get returns a live user. NOT_FOUND if absent or deleted.
  [[nodiscard]] absl::StatusOr<db::v1::User> Get(const std::string& id, absl::Time deadline);
  // GetByEmail matches case-insensitively.
  [[nodiscard]] absl::StatusOr<db::v1::User> GetByEmail(const std::string& email,
                                                        absl::Time deadline);
  [[nodiscard]] absl::StatusOr<db::v1::User> GetByUsername(const std::string& username,
                                                           absl::Time deadline);
  // BatchGet returns the live users among `ids`, in the order of `ids`.
  [[nodiscard]] absl::StatusOr<std::vector<db::v1::User>> BatchGet(
      const std::vector<std::string>& ids, absl::Time deadline);
  // Update writes the fields selected by `fields` from `user`.
  [[nodiscard]] absl::StatusOr<db::v1::User> Update(const db::v1::User& user,
                                                    const UserUpdate& fields, absl::Time deadline);
  // List returns up to `limit` live users with id > `after_id` (empty: from
  // the start), ordered by id, optionally filtered by a case-insensitive
  // prefix of username or display name.
  [[nodiscard]] absl::StatusOr<std::vector<db::v1::User>> List(const std::string& after_id,
                                                               const std::string& prefix, int limit,
                                                               absl::Time deadline);
  // Delete soft-deletes a live user. NOT_FOUND if absent or deleted.
  [[nodiscard]] absl::Status Delete(const std::string& id, absl::Time deadline);

  // SetStatus writes every field of `status` for a live user.
  [[nodiscard]] absl::StatusOr<db::v1::UserStatus> SetStatus(const db::v1::UserStatus& status,
                                                             absl::Time deadline);
  // GetStatus returns the status (presence OFFLINE and no text if never
  // set); custom text and emoji past their expiry come back empty.
  [[nodiscard]] absl::StatusOr<db::v1::UserStatus> GetStatus(const std::string& user_id,
                                                             absl::Time deadline);

 private:
  ConnectionPool* const pool_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_STORE_USER_STORE_H_
