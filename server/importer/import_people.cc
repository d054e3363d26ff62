// Users and their statuses.
#include "server/common/status_macros.h"
#include "server/common/validation.h"
#include "server/importer/import_tables.h"
#include "server/importer/legacy_mapping.h"

namespace chatgenius {

namespace {

const Statement kUsernameTaken("import_username_taken",
                               "SELECT 1 FROM users WHERE username = $1 AND deleted_at IS NULL");
const Statement kEmailTaken(
    "import_email_taken",
    "SELECT 1 FROM users WHERE lower(email) = lower($1) AND deleted_at IS NULL");
const Statement kAuth0Taken("import_auth0_taken", "SELECT 1 FROM users WHERE auth0_id = $1");
const Statement kUserInsert(
    "import_user_insert",
    "INSERT INTO users (id, email, username, display_name, full_name, avatar_url, auth0_id, "
    "created_at, updated_at, deleted_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8::timestamptz, now()), "
    "coalesce($8::timestamptz, now()), $9)");
const Statement kStatusInsert(
    "import_status_insert",
    "INSERT INTO user_status (user_id, presence, status_text, status_emoji, status_expires_at) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO NOTHING RETURNING 1");

// ImportUser writes one user, or counts why not.
void ImportUser(ImportRun& run, pqxx::dbtransaction& txn, const LegacyUser& u) {
  TableReport& report = run.report();
  ++report.read;
  std::optional<std::string> id = CanonicalId(u.id);
  if (!id) return report.Reject("id is not a ULID", u.id);
  if (!KnownUsers(txn, {*id}).empty()) {
    ++report.already_present;
    return;
  }
  const bool live = !u.deleted_at.has_value();
  std::vector<std::string> repairs;
  std::string email = u.email;
  if (!ValidateEmail("email", email).ok()) {
    email = PlaceholderEmail(*id);
    repairs.push_back("email refused by our rules: placeholder at import.invalid");
  } else if (live && !Exec(txn, kEmailTaken, email).empty()) {
    email = PlaceholderEmail(*id);
    repairs.push_back("email used by another user (ignoring case): placeholder");
  }
  const std::string base = NameFrom(u.username, /*keep_dots=*/true, FallbackName("user", *id));
  std::string username = base;
  if (username != u.username) repairs.push_back("username changed to fit [a-z0-9._-]");
  for (int n = 2; live && !Exec(txn, kUsernameTaken, username).empty(); ++n) {
    username = WithSuffix(base, n);
    if (n == 2) repairs.push_back("username taken: numbered");
  }
  PgText auth0 = u.auth0_id;
  if (auth0 && (!ValidateSubject("auth0_id", *auth0, true).ok() ||
                !Exec(txn, kAuth0Taken, *auth0).empty())) {
    auth0.reset();
    repairs.push_back("auth0_id refused or used by another user: left empty");
  }
  std::string avatar = u.avatar_url;
  if (avatar.size() > 2048) {
    avatar.clear();
    repairs.push_back("avatar_url over 2048 characters: left empty");
  }
  const bool inserted = run.InsertOne(txn, u.id, [&](pqxx::dbtransaction& one) {
    Exec(one, kUserInsert, *id, email, username, TruncateUtf8(u.full_name, 80),
         TruncateUtf8(u.full_name, 200), avatar, auth0, u.created_at, u.deleted_at);
  });
  if (!inserted) return;
  ++report.imported;
  report.Repaired(repairs, u.id);
}

void ImportStatus(pqxx::dbtransaction& txn, TableReport& report, const LegacyStatus& st) {
  report.read += st.rows;
  report.deduplicated += st.rows - 1;  // the newest row stands for the others
  std::optional<std::string> user = CanonicalId(st.user_id);
  if (!user || KnownUsers(txn, {*user}).empty()) {
    return report.Reject("user not imported", st.user_id);
  }
  std::vector<std::string> repairs;
  std::string emoji = st.status_emoji;
  if (!ValidateEmoji("status_emoji", emoji, false).ok()) {
    emoji.clear();
    repairs.push_back("status emoji refused by our rules: left empty");
  }
  if (Exec(txn, kStatusInsert, *user, st.presence, TruncateUtf8(st.status_text, 100), emoji,
           st.expires_at)
          .empty()) {
    ++report.already_present;
    return;
  }
  ++report.imported;
  report.Repaired(repairs, st.user_id);
}

}  // namespace

absl::Status ImportUsers(ImportRun& run) {
  run.Begin("users", "users");
  RETURN_IF_ERROR(run.Whole<LegacyUser>(
      [&](const LegacyUser* last, int limit) {
        return run.source().ReadUsers(last ? last->id : "", limit);
      },
      [&](const LegacyUser& u, pqxx::dbtransaction& txn) { ImportUser(run, txn, u); }));
  run.End();
  return absl::OkStatus();
}

absl::Status ImportStatuses(ImportRun& run) {
  run.Begin("user_status", "user_status");
  RETURN_IF_ERROR(run.Whole<LegacyStatus>(
      [&](const LegacyStatus* last, int limit) {
        return run.source().ReadStatuses(last ? last->user_id : "", limit);
      },
      [&](const LegacyStatus& st, pqxx::dbtransaction& txn) {
        ImportStatus(txn, run.report(), st);
      }));
  run.End();
  return absl::OkStatus();
}

}  // namespace chatgenius
