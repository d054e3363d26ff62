#include "server/store/user_store.h"

#include <map>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "server/common/status_macros.h"
#include "server/common/ulid.h"
#include "server/db/statement.h"
#include "server/db/transaction.h"
#include "server/store/event_store.h"
#include "server/store/row_conversion.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

const std::string& UserColumns() {
  static const std::string* columns = new std::string(absl::StrCat(
      "id, email, username, display_name, full_name, avatar_url, is_bot, ", MicrosSql("created_at"),
      ", ", MicrosSql("updated_at"), ", coalesce(auth0_id, '')"));
  return *columns;
}

// Status columns of table alias `t`; the order StatusFromRow reads.
std::string StatusColumns(const std::string& t) {
  // A custom status past its expiry no longer applies.
  const std::string expired = absl::StrCat(t, ".status_expires_at <= now()");
  return absl::StrCat(t, ".presence, ", "CASE WHEN ", expired, " THEN '' ELSE ", t,
                      ".status_text END, ", "CASE WHEN ", expired, " THEN '' ELSE ", t,
                      ".status_emoji END, ", "CASE WHEN ", expired, " THEN NULL ELSE ",
                      MicrosSql(t + ".status_expires_at"), " END, ", MicrosSql(t + ".updated_at"));
}

const ConstraintMessages& UserConstraintMessages() {
  static const auto* messages = new ConstraintMessages{
      {"users_email_key", "user.email: already in use by another user"},
      {"users_username_key", "user.username: already taken"},
      {"users_email_check", "user.email: not a valid address"},
      {"users_username_check", "user.username: not a valid username"},
      {"users_auth0_id_key", "user.auth0_id: already belongs to another user"},
      {"users_auth0_id_check", "user.auth0_id: not a valid subject"},
  };
  return *messages;
}

v1::User UserFromRow(const pqxx::row& r) {
  v1::User u;
  u.set_id(r[0].as<std::string>());
  u.set_email(r[1].as<std::string>());
  u.set_username(r[2].as<std::string>());
  u.set_display_name(r[3].as<std::string>());
  u.set_full_name(r[4].as<std::string>());
  u.set_avatar_url(r[5].as<std::string>());
  u.set_is_bot(r[6].as<bool>());
  SetTimestamp(r[7], u.mutable_create_time());
  SetTimestamp(r[8], u.mutable_update_time());
  u.set_auth0_id(r[9].as<std::string>());
  return u;
}

const char* PresenceToSql(v1::Presence p) {
  switch (p) {
    case v1::PRESENCE_ONLINE:
      return "online";
    case v1::PRESENCE_AWAY:
      return "away";
    default:
      return "offline";
  }
}

v1::Presence PresenceFromSql(const std::string& s) {
  if (s == "online") return v1::PRESENCE_ONLINE;
  if (s == "away") return v1::PRESENCE_AWAY;
  return v1::PRESENCE_OFFLINE;
}

// Fills a status from the StatusColumns() starting at column `first`.
void StatusFromRow(const pqxx::row& r, int first, v1::UserStatus* status) {
  if (r[first].is_null()) {
    status->set_presence(v1::PRESENCE_OFFLINE);
    return;
  }
  status->set_presence(PresenceFromSql(r[first].as<std::string>()));
  status->set_status_text(r[first + 1].as<std::string>());
  status->set_status_emoji(r[first + 2].as<std::string>());
  if (auto t = OptionalTimestamp(r[first + 3])) *status->mutable_status_expire_time() = *t;
  SetTimestamp(r[first + 4], status->mutable_update_time());
}

// Escapes LIKE's metacharacters so a search prefix is matched literally.
std::string LikePrefix(const std::string& prefix) {
  return absl::StrCat(absl::StrReplaceAll(absl::AsciiStrToLower(prefix),
                                          {{"\\", "\\\\"}, {"%", "\\%"}, {"_", "\\_"}}),
                      "%");
}

absl::Status UserNotFound(const std::string& key) {
  return absl::NotFoundError(absl::StrCat("user ", key, " not found"));
}

const Statement kUserCreate(
    "user_create", absl::StrCat("INSERT INTO users (id, email, username, display_name, full_name, "
                                "avatar_url, is_bot, auth0_id) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                                "nullif($8, '')) RETURNING ",
                                UserColumns()));

const Statement kUserGet("user_get",
                         absl::StrCat("SELECT ", UserColumns(),
                                      " FROM users WHERE id = $1 AND deleted_at IS NULL"));

const Statement kUserGetByEmail("user_get_by_email",
                                absl::StrCat("SELECT ", UserColumns(),
                                             " FROM users WHERE lower(email) = "
                                             "lower($1) AND deleted_at IS NULL"));

const Statement kUserGetByAuth0Id(
    "user_get_by_auth0_id", absl::StrCat("SELECT ", UserColumns(),
                                         " FROM users WHERE auth0_id = $1 AND deleted_at IS NULL"));

const Statement kUserGetByUsername(
    "user_get_by_username", absl::StrCat("SELECT ", UserColumns(),
                                         " FROM users WHERE username = $1 AND deleted_at IS NULL"));

const Statement kUserBatchGet(
    "user_batch_get",
    absl::StrCat("SELECT ", UserColumns(),
                 " FROM users WHERE id = ANY($1::text[]) AND deleted_at IS NULL"));

// One statement for every FieldMask: $2/$4/... say whether to write the
// value that follows.
const Statement kUserUpdate(
    "user_update", absl::StrCat("UPDATE users SET "
                                "email = CASE WHEN $2 THEN $3 ELSE email END, "
                                "username = CASE WHEN $4 THEN $5 ELSE username END, "
                                "display_name = CASE WHEN $6 THEN $7 ELSE display_name END, "
                                "full_name = CASE WHEN $8 THEN $9 ELSE full_name END, "
                                "avatar_url = CASE WHEN $10 THEN $11 ELSE avatar_url END "
                                "WHERE id = $1 AND deleted_at IS NULL RETURNING ",
                                UserColumns()));

const Statement kUserList(
    "user_list",
    absl::StrCat("SELECT ", UserColumns(),
                 " FROM users WHERE deleted_at IS NULL AND id > $1::text "
                 "AND ($2::text = '' OR username LIKE $2 OR lower(display_name) LIKE $2) "
                 "ORDER BY id LIMIT $3"));

const Statement kUserDelete(
    "user_delete", "UPDATE users SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL");

const Statement kUserStatusSet(
    "user_status_set",
    absl::StrCat("INSERT INTO user_status AS s (user_id, presence, status_text, status_emoji, "
                 "status_expires_at, updated_at) "
                 "SELECT id, $2, $3, $4, to_timestamp($5::bigint / 1000000.0), now() "
                 "FROM users WHERE id = $1 AND deleted_at IS NULL "
                 "ON CONFLICT (user_id) DO UPDATE SET presence = EXCLUDED.presence, "
                 "status_text = EXCLUDED.status_text, status_emoji = EXCLUDED.status_emoji, "
                 "status_expires_at = EXCLUDED.status_expires_at, updated_at = now() "
                 "RETURNING ",
                 StatusColumns("s")));

const Statement kUserStatusGet(
    "user_status_get", absl::StrCat("SELECT u.id, ", StatusColumns("s"),
                                    " FROM users u LEFT JOIN user_status s ON s.user_id = u.id "
                                    "WHERE u.id = $1 AND u.deleted_at IS NULL"));

}  // namespace

UserStore::UserStore(Database* db) : db_(db) {}

absl::StatusOr<v1::User> UserStore::Create(const v1::User& user, const CallLimits& call) {
  return RunInTransaction(
      *db_, call,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::User> {
        pqxx::result r =
            Exec(txn, kUserCreate, NewUlid(), user.email(), user.username(), user.display_name(),
                 user.full_name(), user.avatar_url(), user.is_bot(), user.auth0_id());
        return UserFromRow(r[0]);
      },
      &UserConstraintMessages());
}

absl::StatusOr<v1::User> UserStore::Get(const std::string& id, const CallLimits& call) {
  return RunReadOnly(*db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::User> {
    pqxx::result r = Exec(txn, kUserGet, id);
    if (r.empty()) return UserNotFound(id);
    return UserFromRow(r[0]);
  });
}

absl::StatusOr<v1::User> UserStore::GetByEmail(const std::string& email, const CallLimits& call) {
  return RunReadOnly(*db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::User> {
    pqxx::result r = Exec(txn, kUserGetByEmail, email);
    if (r.empty()) return absl::NotFoundError("no user with this email");
    return UserFromRow(r[0]);
  });
}

absl::StatusOr<v1::User> UserStore::GetByUsername(const std::string& username,
                                                  const CallLimits& call) {
  return RunReadOnly(*db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::User> {
    pqxx::result r = Exec(txn, kUserGetByUsername, username);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("no user named '", username, "'"));
    return UserFromRow(r[0]);
  });
}

absl::StatusOr<v1::User> UserStore::GetByAuth0Id(const std::string& auth0_id,
                                                 const CallLimits& call) {
  return RunReadOnly(*db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::User> {
    pqxx::result r = Exec(txn, kUserGetByAuth0Id, auth0_id);
    if (r.empty()) return absl::NotFoundError("no live user with this auth0_id");
    return UserFromRow(r[0]);
  });
}

absl::StatusOr<std::vector<v1::User>> UserStore::BatchGet(const std::vector<std::string>& ids,
                                                          const CallLimits& call) {
  if (ids.empty()) return std::vector<v1::User>();
  return RunReadOnly(*db_, call,
                     [&](pqxx::transaction_base& txn) -> absl::StatusOr<std::vector<v1::User>> {
                       // Ids are validated ULIDs (no quotes or commas), so the array
                       // literal needs no escaping.
                       std::string array = absl::StrCat("{", absl::StrJoin(ids, ","), "}");
                       std::map<std::string, v1::User> found;
                       for (const pqxx::row& row : Exec(txn, kUserBatchGet, array)) {
                         v1::User u = UserFromRow(row);
                         found.emplace(u.id(), std::move(u));
                       }
                       std::vector<v1::User> out;
                       for (const std::string& id : ids) {
                         auto it = found.find(id);
                         if (it != found.end()) out.push_back(it->second);
                       }
                       return out;
                     });
}

absl::StatusOr<v1::User> UserStore::Update(const v1::User& user, const UserUpdate& f,
                                           const CallLimits& call) {
  return RunInTransaction(
      *db_, call,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::User> {
        pqxx::result r = Exec(txn, kUserUpdate, user.id(), f.email, user.email(), f.username,
                              user.username(), f.display_name, user.display_name(), f.full_name,
                              user.full_name(), f.avatar_url, user.avatar_url());
        if (r.empty()) return UserNotFound(user.id());
        return UserFromRow(r[0]);
      },
      &UserConstraintMessages());
}

absl::StatusOr<std::vector<v1::User>> UserStore::List(const std::string& after_id,
                                                      const std::string& prefix, int limit,
                                                      const CallLimits& call) {
  return RunReadOnly(*db_, call,
                     [&](pqxx::transaction_base& txn) -> absl::StatusOr<std::vector<v1::User>> {
                       std::string like = prefix.empty() ? "" : LikePrefix(prefix);
                       std::vector<v1::User> out;
                       for (const pqxx::row& row : Exec(txn, kUserList, after_id, like, limit)) {
                         out.push_back(UserFromRow(row));
                       }
                       return out;
                     });
}

absl::Status UserStore::Delete(const std::string& id, const CallLimits& call) {
  return RunInTransaction(*db_, call, [&](pqxx::transaction_base& txn) {
    pqxx::result r = Exec(txn, kUserDelete, id);
    if (r.affected_rows() == 0) return UserNotFound(id);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::UserStatus> UserStore::SetStatus(const v1::UserStatus& status,
                                                    const CallLimits& call) {
  return RunInTransaction(
      *db_, call, [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::UserStatus> {
        std::optional<int64_t> expires = TimestampToMicros(
            status.has_status_expire_time() ? &status.status_expire_time() : nullptr);
        pqxx::result r =
            Exec(txn, kUserStatusSet, status.user_id(), PresenceToSql(status.presence()),
                 status.status_text(), status.status_emoji(), expires);
        if (r.empty()) return UserNotFound(status.user_id());
        v1::UserStatus out;
        out.set_user_id(status.user_id());
        StatusFromRow(r[0], 0, &out);
        v1::Event event = NewEvent(v1::EVENT_KIND_USER_STATUS_CHANGED, "", status.user_id());
        *event.mutable_user_status() = out;
        EventStore::AppendIn(txn, event, status.user_id());
        return out;
      });
}

absl::StatusOr<v1::UserStatus> UserStore::GetStatus(const std::string& user_id,
                                                    const CallLimits& call) {
  return RunReadOnly(*db_, call,
                     [&](pqxx::transaction_base& txn) -> absl::StatusOr<v1::UserStatus> {
                       pqxx::result r = Exec(txn, kUserStatusGet, user_id);
                       if (r.empty()) return UserNotFound(user_id);
                       v1::UserStatus out;
                       out.set_user_id(user_id);
                       StatusFromRow(r[0], 1, &out);
                       return out;
                     });
}

}  // namespace chatgenius
