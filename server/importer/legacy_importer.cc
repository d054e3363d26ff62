#include "server/importer/legacy_importer.h"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include <pqxx/pqxx>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/validation.h"
#include "server/db/pg_error.h"
#include "server/db/statement.h"
#include "server/importer/legacy_mapping.h"
#include "server/importer/legacy_source.h"

namespace chatgenius {

namespace {

// --- Target statements (this service's schema). ---

const Statement kTargetReady("import_target_ready",
                             "SELECT to_regclass('legacy_import_progress') IS NOT NULL");
const Statement kProgressGet("import_progress_get",
                             "SELECT last_id, rows_read FROM legacy_import_progress "
                             "WHERE source_table = $1");
const Statement kProgressPut(
    "import_progress_put",
    "INSERT INTO legacy_import_progress (source_table, last_id, rows_read) VALUES ($1, $2, $3) "
    "ON CONFLICT (source_table) DO UPDATE SET last_id = EXCLUDED.last_id, "
    "rows_read = EXCLUDED.rows_read, updated_at = now()");

const Statement kUsersAmong("import_users_among",
                            "SELECT id FROM users WHERE id = ANY($1::text[])");
// Legacy channel id -> the channel it is now (itself, or the direct
// channel it was merged into).
const Statement kChannelsAmong("import_channels_among",
                               "SELECT id, id FROM channels WHERE id = ANY($1::text[]) UNION ALL "
                               "SELECT legacy_id, channel_id FROM legacy_import_merged_channels "
                               "WHERE legacy_id = ANY($1::text[])");
const Statement kMessagesAmong("import_messages_among",
                               "SELECT id, channel_id FROM messages WHERE id = ANY($1::text[])");

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

const Statement kChannelNameTaken("import_channel_name_taken",
                                  "SELECT 1 FROM channels WHERE name = $1 AND deleted_at IS NULL");
const Statement kDirectByKey("import_direct_by_key", "SELECT id FROM channels WHERE dm_key = $1");
const Statement kChannelInsert(
    "import_channel_insert",
    "INSERT INTO channels (id, name, description, type, dm_key, created_by, created_at, "
    "updated_at, deleted_at) VALUES ($1, $2, $3, $4, $5, $6, coalesce($7::timestamptz, now()), "
    "coalesce($7::timestamptz, now()), $8)");
const Statement kChannelMerge("import_channel_merge",
                              "INSERT INTO legacy_import_merged_channels (legacy_id, channel_id) "
                              "VALUES ($1, $2) ON CONFLICT (legacy_id) DO NOTHING");

const Statement kMemberInsert(
    "import_member_insert",
    "INSERT INTO channel_members (channel_id, user_id, role, joined_at) "
    "VALUES ($1, $2, $3, coalesce($4::timestamptz, now())) ON CONFLICT DO NOTHING RETURNING 1");

// Bulk inserts take one array per column (rows refused as a batch are
// retried one by one with one-element arrays, to report which).
const Statement kMessagesInsert(
    "import_messages_insert",
    "INSERT INTO messages (id, channel_id, user_id, content, thread_parent_id, created_at, "
    "edited_at, deleted_at) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
    "$6::timestamptz[], $7::timestamptz[], $8::timestamptz[]) "
    "ON CONFLICT (id) DO NOTHING RETURNING 1");
const Statement kReactionsInsert(
    "import_reactions_insert",
    "INSERT INTO reactions (message_id, user_id, emoji, created_at) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) "
    "ON CONFLICT DO NOTHING RETURNING 1");
const Statement kAttachmentsInsert(
    "import_attachments_insert",
    "INSERT INTO attachments (id, message_id, channel_id, uploader_id, name, content_type, "
    "size_bytes, storage_url, sha256, created_at) "
    "SELECT u.id, u.message_id, u.channel_id, u.uploader_id, u.name, u.content_type, u.size, "
    "u.url, NULL, u.created_at FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
    "$5::text[], $6::text[], $7::bigint[], $8::text[], $9::timestamptz[]) "
    "AS u(id, message_id, channel_id, uploader_id, name, content_type, size, url, created_at) "
    "ON CONFLICT (id) DO NOTHING RETURNING 1");

const Statement kReadMarkerSet(
    "import_read_marker_set",
    "UPDATE channel_members SET last_read_message_id = $3 "
    "WHERE channel_id = $1 AND user_id = $2 "
    "AND (last_read_message_id IS NULL OR last_read_message_id < $3) "
    "AND EXISTS (SELECT 1 FROM messages WHERE channel_id = $1 AND id = $3) RETURNING 1");
const Statement kMemberExists(
    "import_member_exists", "SELECT 1 FROM channel_members WHERE channel_id = $1 AND user_id = $2");
const Statement kMessageInChannel("import_message_in_channel",
                                  "SELECT 1 FROM messages WHERE channel_id = $1 AND id = $2");

// --- Helpers. ---

// A PostgreSQL array literal of text: every element quoted, NULL bare.
std::string TextArray(const std::vector<PgText>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    if (!items[i].has_value()) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : *items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// Rows is a batch for a bulk insert: one vector per column, and each row's
// source id for the report.
struct Rows {
  explicit Rows(size_t columns) : columns(columns) {}
  void Add(const std::string& source_id, std::vector<PgText> values) {
    for (size_t c = 0; c < columns.size(); ++c) columns[c].push_back(std::move(values[c]));
    source_ids.push_back(source_id);
  }
  size_t size() const { return source_ids.size(); }

  std::vector<std::vector<PgText>> columns;
  std::vector<std::string> source_ids;
};

std::vector<std::string> ArrayParams(const Rows& rows, std::optional<size_t> only = {}) {
  std::vector<std::string> params;
  for (const std::vector<PgText>& column : rows.columns) {
    params.push_back(only ? TextArray({column[*only]}) : TextArray(column));
  }
  return params;
}

// The first line of a database error, for the report.
std::string Reason(const std::exception& e) {
  std::string what = e.what();
  return what.substr(0, what.find('\n'));
}

std::set<std::string> Column0(pqxx::result r) {
  std::set<std::string> out;
  for (const pqxx::row& row : r) out.insert(row[0].as<std::string>());
  return out;
}

std::map<std::string, std::string> Column01(pqxx::result r) {
  std::map<std::string, std::string> out;
  for (const pqxx::row& row : r) out[row[0].as<std::string>()] = row[1].as<std::string>();
  return out;
}

std::string IdArray(const std::set<std::string>& ids) {
  std::vector<PgText> items(ids.begin(), ids.end());
  return TextArray(items);
}

std::string Tail(const std::string& id) { return absl::AsciiStrToLower(id.substr(16)); }

// The importer's state for one run.
class Importer {
 public:
  Importer(const LegacyImportOptions& options, ImportObserver* observer, LegacySource* source,
           pqxx::connection* target)
      : options_(options), observer_(observer), source_(source), target_(target) {}

  absl::StatusOr<std::vector<TableReport>> Run();

 private:
  // InBatch runs `body` in the batch's transaction and commits it (with
  // the resume point `body` wrote); in a dry run, in a subtransaction of
  // the run's one transaction. Counts committed batches for
  // stop_after_batches.
  template <typename Body>
  absl::Status InBatch(Body&& body);

  void Begin(const std::string& table, const std::string& source_table);
  void End();
  // Resume point of a table with one (progress key), and saving it.
  std::pair<std::string, int64_t> ResumePoint(const std::string& key);
  void SaveResumePoint(pqxx::transaction_base& txn, const std::string& key,
                       const std::string& last_id, int64_t rows_read);

  // BulkInsert inserts `rows` with `statement` and returns how many rows
  // it inserted; when the batch is refused, inserts row by row and rejects
  // (with the database's reason) those refused.
  int64_t BulkInsert(pqxx::dbtransaction& txn, const Statement& statement, const Rows& rows);

  absl::Status Users();
  absl::Status Statuses();
  absl::Status Channels();
  absl::Status Memberships();
  absl::Status Messages(bool replies);
  absl::Status ReadMarkers();
  absl::Status Reactions();
  absl::Status Files();
  void NotImported(const std::string& table, const std::string& reason);

  bool Stopped() const {
    return options_.stop_after_batches > 0 && batches_ >= options_.stop_after_batches;
  }

  const LegacyImportOptions& options_;
  ImportObserver* observer_;
  LegacySource* source_;
  pqxx::connection* target_;
  std::unique_ptr<pqxx::work> dry_run_;
  int batches_ = 0;
  std::vector<TableReport> reports_;
  TableReport* report_ = nullptr;
};

template <typename Body>
absl::Status Importer::InBatch(Body&& body) {
  try {
    if (dry_run_ != nullptr) {
      pqxx::subtransaction sub(*dry_run_, "batch");
      body(static_cast<pqxx::dbtransaction&>(sub));
      sub.commit();
    } else {
      pqxx::work txn(*target_);
      body(static_cast<pqxx::dbtransaction&>(txn));
      txn.commit();
    }
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
  ++batches_;
  if (observer_ != nullptr) observer_->RowsRead(report_->read);
  if (Stopped()) {
    return absl::AbortedError(absl::StrCat("stopped after ", batches_, " batches"));
  }
  return absl::OkStatus();
}

void Importer::Begin(const std::string& table, const std::string& source_table) {
  reports_.push_back(TableReport{table});
  report_ = &reports_.back();
  if (observer_ != nullptr) observer_->TableStarted(table, source_->Count(source_table));
}

void Importer::End() {
  if (observer_ != nullptr) observer_->TableFinished(*report_);
}

std::pair<std::string, int64_t> Importer::ResumePoint(const std::string& key) {
  pqxx::result r;
  if (dry_run_ != nullptr) {
    r = Exec(*dry_run_, kProgressGet, key);
  } else {
    pqxx::read_transaction t(*target_);
    r = Exec(t, kProgressGet, key);
  }
  if (r.empty()) return {"", 0};
  return {r[0][0].as<std::string>(), r[0][1].as<int64_t>()};
}

void Importer::SaveResumePoint(pqxx::transaction_base& txn, const std::string& key,
                               const std::string& last_id, int64_t rows_read) {
  Exec(txn, kProgressPut, key, last_id, rows_read);
}

int64_t Importer::BulkInsert(pqxx::dbtransaction& txn, const Statement& statement,
                             const Rows& rows) {
  if (rows.size() == 0) return 0;
  try {
    pqxx::subtransaction all(txn, "bulk");
    const int64_t inserted = static_cast<int64_t>(
        Exec(all, statement, pqxx::prepare::make_dynamic_params(ArrayParams(rows))).size());
    all.commit();
    return inserted;
  } catch (const pqxx::sql_error&) {
    // Some row is refused: find which, keep the rest.
  }
  int64_t inserted = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    try {
      pqxx::subtransaction one(txn, "row");
      inserted += static_cast<int64_t>(
          Exec(one, statement, pqxx::prepare::make_dynamic_params(ArrayParams(rows, i))).size());
      one.commit();
    } catch (const pqxx::sql_error& e) {
      report_->Reject(absl::StrCat("refused by the database: ", Reason(e)), rows.source_ids[i]);
    }
  }
  return inserted;
}

// --- Users. ---

absl::Status Importer::Users() {
  Begin("users", "users");
  std::string after;
  for (;;) {
    std::vector<LegacyUser> batch = source_->ReadUsers(after, options_.batch_size);
    if (batch.empty()) break;
    after = batch.back().id;
    report_->read += static_cast<int64_t>(batch.size());
    absl::Status s = InBatch([&](pqxx::dbtransaction& txn) {
      for (const LegacyUser& u : batch) {
        std::optional<std::string> id = CanonicalId(u.id);
        if (!id) {
          report_->Reject("id is not a ULID", u.id);
          continue;
        }
        if (!Exec(txn, kUsersAmong, TextArray({*id})).empty()) {
          ++report_->already_present;
          continue;
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
        const std::string base = NameFrom(u.username, /*keep_dots=*/true, "user-" + Tail(*id));
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
        try {
          pqxx::subtransaction one(txn, "user");
          Exec(one, kUserInsert, *id, email, username, TruncateUtf8(u.full_name, 80),
               TruncateUtf8(u.full_name, 200), avatar, auth0, u.created_at, u.deleted_at);
          one.commit();
        } catch (const pqxx::sql_error& e) {
          report_->Reject(absl::StrCat("refused by the database: ", Reason(e)), u.id);
          continue;
        }
        ++report_->imported;
        report_->Repaired(repairs, u.id);
      }
    });
    if (!s.ok()) return s;
  }
  End();
  return absl::OkStatus();
}

// --- Statuses: the newest row of each user. ---

absl::Status Importer::Statuses() {
  Begin("user_status", "user_status");
  std::string after;
  for (;;) {
    std::vector<LegacyStatus> batch = source_->ReadStatuses(after, options_.batch_size);
    if (batch.empty()) break;
    after = batch.back().user_id;
    absl::Status s = InBatch([&](pqxx::dbtransaction& txn) {
      for (const LegacyStatus& st : batch) {
        report_->read += st.rows;
        report_->deduplicated += st.rows - 1;
        std::optional<std::string> user = CanonicalId(st.user_id);
        if (!user || Exec(txn, kUsersAmong, TextArray({*user})).empty()) {
          report_->Reject("user not imported", st.user_id);
          continue;
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
          ++report_->already_present;
          continue;
        }
        ++report_->imported;
        report_->Repaired(repairs, st.user_id);
      }
    });
    if (!s.ok()) return s;
  }
  End();
  return absl::OkStatus();
}

// --- Channels. ---

absl::Status Importer::Channels() {
  Begin("channels", "channels");
  std::string after;
  for (;;) {
    std::vector<LegacyChannel> batch = source_->ReadChannels(after, options_.batch_size);
    if (batch.empty()) break;
    after = batch.back().id;
    report_->read += static_cast<int64_t>(batch.size());
    absl::Status s = InBatch([&](pqxx::dbtransaction& txn) {
      for (const LegacyChannel& c : batch) {
        std::optional<std::string> id = CanonicalId(c.id);
        if (!id) {
          report_->Reject("id is not a ULID", c.id);
          continue;
        }
        if (!Exec(txn, kChannelsAmong, TextArray({*id})).empty()) {
          ++report_->already_present;
          continue;
        }
        std::optional<std::string> creator = CanonicalId(c.created_by);
        if (!creator || Exec(txn, kUsersAmong, TextArray({*creator})).empty()) {
          report_->Reject("creator not imported", c.id);
          continue;
        }
        std::vector<std::string> repairs;
        const std::string description = TruncateUtf8(c.topic, 250);
        if (description != c.topic) repairs.push_back("topic over 250 characters: truncated");
        PgText name;
        PgText dm_key;
        if (c.type == "dm") {
          std::vector<std::string> members;
          for (const std::string& m : c.live_members.empty() ? c.all_members : c.live_members) {
            if (std::optional<std::string> mid = CanonicalId(m)) members.push_back(*mid);
          }
          if (c.live_members.empty()) repairs.push_back("direct channel without live members");
          if (members.empty()) members.push_back(*creator);
          dm_key = DmKey(members);
          pqxx::result same = Exec(txn, kDirectByKey, *dm_key);
          if (!same.empty()) {
            // The old module could create the same conversation twice.
            Exec(txn, kChannelMerge, *id, same[0][0].as<std::string>());
            ++report_->deduplicated;
            continue;
          }
        } else {
          const std::string base = NameFrom(c.name, /*keep_dots=*/false, "channel-" + Tail(*id));
          name = base;
          if (base != c.name) repairs.push_back("name changed to fit [a-z0-9_-]");
          for (int n = 2; !c.deleted_at && !Exec(txn, kChannelNameTaken, *name).empty(); ++n) {
            name = WithSuffix(base, n);
            if (n == 2) repairs.push_back("name taken: numbered");
          }
        }
        try {
          pqxx::subtransaction one(txn, "channel");
          Exec(one, kChannelInsert, *id, name, description, c.type, dm_key, *creator, c.created_at,
               c.deleted_at);
          one.commit();
        } catch (const pqxx::sql_error& e) {
          report_->Reject(absl::StrCat("refused by the database: ", Reason(e)), c.id);
          continue;
        }
        ++report_->imported;
        report_->Repaired(repairs, c.id);
      }
    });
    if (!s.ok()) return s;
  }
  End();
  return absl::OkStatus();
}

// --- Memberships: one per (channel, user), the strongest live role. ---

absl::Status Importer::Memberships() {
  static const char* kRoles[] = {"", "member", "admin", "owner"};
  Begin("channel_members", "channel_members");
  std::string after_channel, after_user;
  for (;;) {
    std::vector<LegacyMembership> batch =
        source_->ReadMemberships(after_channel, after_user, options_.batch_size);
    if (batch.empty()) break;
    after_channel = batch.back().channel_id;
    after_user = batch.back().user_id;
    absl::Status s = InBatch([&](pqxx::dbtransaction& txn) {
      for (const LegacyMembership& m : batch) {
        const std::string source_id = absl::StrCat(m.channel_id, "/", m.user_id);
        report_->read += m.rows;
        report_->deduplicated += m.rows - 1;
        if (m.strongest_live_role == 0) {
          report_->Reject("membership had ended (deleted_at): not a member", source_id);
          continue;
        }
        std::optional<std::string> channel = CanonicalId(m.channel_id);
        std::optional<std::string> user = CanonicalId(m.user_id);
        std::map<std::string, std::string> now =
            channel ? Column01(Exec(txn, kChannelsAmong, TextArray({*channel})))
                    : std::map<std::string, std::string>{};
        if (now.empty()) {
          report_->Reject("channel not imported", source_id);
          continue;
        }
        if (!user || Exec(txn, kUsersAmong, TextArray({*user})).empty()) {
          report_->Reject("user not imported", source_id);
          continue;
        }
        if (Exec(txn, kMemberInsert, now.begin()->second, *user, kRoles[m.strongest_live_role],
                 m.joined_at)
                .empty()) {
          // In a merged direct channel the member is there from its twin.
          const bool merged = now.begin()->second != *channel;
          ++(merged ? report_->deduplicated : report_->already_present);
          continue;
        }
        ++report_->imported;
      }
    });
    if (!s.ok()) return s;
  }
  End();
  return absl::OkStatus();
}

// --- Messages: top-level ones first, then replies (whose parent, the top
// of their thread, is then always there). ---

absl::Status Importer::Messages(bool replies) {
  const std::string key = replies ? "messages:replies" : "messages:top-level";
  const std::pair<std::string, int64_t> resume = ResumePoint(key);
  std::string after = resume.first;
  const int64_t earlier = resume.second;
  report_->read_by_earlier_runs += earlier;
  int64_t read = earlier;
  for (;;) {
    std::vector<LegacyMessage> batch =
        replies ? source_->ReadReplies(after, options_.batch_size)
                : source_->ReadTopLevelMessages(after, options_.batch_size);
    if (batch.empty()) break;
    after = batch.back().id;
    read += static_cast<int64_t>(batch.size());
    report_->read += static_cast<int64_t>(batch.size());
    absl::Status s = InBatch([&](pqxx::dbtransaction& txn) {
      std::set<std::string> users, channels, roots;
      for (const LegacyMessage& m : batch) {
        for (auto [set, id] :
             {std::pair{&users, &m.user_id}, std::pair{&channels, &m.channel_id},
              std::pair{&channels, &m.root_channel_id}, std::pair{&roots, &m.root_id}}) {
          if (std::optional<std::string> c = CanonicalId(*id)) set->insert(*c);
        }
      }
      const std::set<std::string> known_users = Column0(Exec(txn, kUsersAmong, IdArray(users)));
      const std::map<std::string, std::string> channel_now =
          Column01(Exec(txn, kChannelsAmong, IdArray(channels)));
      const std::map<std::string, std::string> known_roots =
          Column01(Exec(txn, kMessagesAmong, IdArray(roots)));
      Rows rows(8);
      std::vector<std::vector<std::string>> repairs;
      for (const LegacyMessage& m : batch) {
        std::optional<std::string> id = CanonicalId(m.id);
        std::optional<std::string> channel = CanonicalId(m.channel_id);
        std::optional<std::string> user = CanonicalId(m.user_id);
        if (!id) {
          report_->Reject("id is not a ULID", m.id);
          continue;
        }
        auto target_channel = channel ? channel_now.find(*channel) : channel_now.end();
        if (target_channel == channel_now.end()) {
          report_->Reject("channel not imported", m.id);
          continue;
        }
        if (!user || known_users.count(*user) == 0) {
          report_->Reject("author not imported", m.id);
          continue;
        }
        const bool live = !m.deleted_at.has_value();
        const int length = Utf8Length(m.content);
        if (length < 0 || length > 40000) {
          report_->Reject("content over 40,000 characters (or not UTF-8)", m.id);
          continue;
        }
        if (live && length == 0) {
          report_->Reject("empty message", m.id);
          continue;
        }
        std::vector<std::string> repaired;
        PgText parent;
        if (replies) {
          std::optional<std::string> root = CanonicalId(m.root_id);
          std::optional<std::string> root_channel = CanonicalId(m.root_channel_id);
          auto root_now = root ? known_roots.find(*root) : known_roots.end();
          if (!m.root_is_top_level) {
            repaired.push_back("thread loop: imported as a top-level message");
          } else if (!root_channel || root_channel != channel) {
            repaired.push_back("parent in another channel: imported as a top-level message");
          } else if (root_now == known_roots.end() || root_now->second != target_channel->second) {
            repaired.push_back("thread's first message not imported: imported as top-level");
          } else {
            parent = *root;
            if (m.depth > 1) ++report_->reparented;
          }
        }
        const PgText edited_at = m.edited ? (m.updated_at ? m.updated_at : m.created_at) : PgText();
        rows.Add(m.id, {*id, target_channel->second, *user, m.content, parent, m.created_at,
                        edited_at, m.deleted_at});
        repairs.push_back(std::move(repaired));
      }
      const int64_t rejected_before = report_->rejected;
      const int64_t inserted = BulkInsert(txn, kMessagesInsert, rows);
      report_->imported += inserted;
      report_->already_present +=
          static_cast<int64_t>(rows.size()) - inserted - (report_->rejected - rejected_before);
      for (size_t i = 0; i < rows.size(); ++i) report_->Repaired(repairs[i], rows.source_ids[i]);
      SaveResumePoint(txn, key, after, read);
    });
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// --- Read markers: the newest of each (user, channel). ---

absl::Status Importer::ReadMarkers() {
  Begin("message_reads", "message_reads");
  std::string after_user, after_channel;
  for (;;) {
    std::vector<LegacyReadMarker> batch =
        source_->ReadReadMarkers(after_user, after_channel, options_.batch_size);
    if (batch.empty()) break;
    after_user = batch.back().user_id;
    after_channel = batch.back().channel_id;
    absl::Status s = InBatch([&](pqxx::dbtransaction& txn) {
      for (const LegacyReadMarker& r : batch) {
        const std::string source_id = absl::StrCat(r.user_id, "/", r.channel_id);
        report_->read += r.rows;
        report_->deduplicated += r.rows - 1;
        std::optional<std::string> user = CanonicalId(r.user_id);
        std::optional<std::string> channel = CanonicalId(r.channel_id);
        std::optional<std::string> message = CanonicalId(r.last_read_message_id);
        std::map<std::string, std::string> now =
            channel ? Column01(Exec(txn, kChannelsAmong, TextArray({*channel})))
                    : std::map<std::string, std::string>{};
        if (!user || !message || now.empty()) {
          report_->Reject("channel not imported", source_id);
          continue;
        }
        const std::string& target_channel = now.begin()->second;
        if (!Exec(txn, kReadMarkerSet, target_channel, *user, *message).empty()) {
          ++report_->imported;
        } else if (Exec(txn, kMemberExists, target_channel, *user).empty()) {
          report_->Reject("reader is not a member of the channel", source_id);
        } else if (Exec(txn, kMessageInChannel, target_channel, *message).empty()) {
          report_->Reject("read message not imported or in another channel", source_id);
        } else {
          ++report_->already_present;  // as new or newer already
        }
      }
    });
    if (!s.ok()) return s;
  }
  End();
  return absl::OkStatus();
}

// --- Reactions: one per (message, user, emoji). ---

absl::Status Importer::Reactions() {
  Begin("reactions", "reactions");
  const std::pair<std::string, int64_t> resume = ResumePoint("reactions");
  std::string after = resume.first;
  const int64_t earlier = resume.second;
  report_->read_by_earlier_runs = earlier;
  int64_t read = earlier;
  for (;;) {
    std::vector<LegacyReaction> batch = source_->ReadReactions(after, options_.batch_size);
    if (batch.empty()) break;
    after = batch.back().id;
    read += static_cast<int64_t>(batch.size());
    report_->read += static_cast<int64_t>(batch.size());
    absl::Status s = InBatch([&](pqxx::dbtransaction& txn) {
      std::set<std::string> users, messages;
      for (const LegacyReaction& r : batch) {
        if (std::optional<std::string> u = CanonicalId(r.user_id)) users.insert(*u);
        if (std::optional<std::string> m = CanonicalId(r.message_id)) messages.insert(*m);
      }
      const std::set<std::string> known_users = Column0(Exec(txn, kUsersAmong, IdArray(users)));
      const std::map<std::string, std::string> known_messages =
          Column01(Exec(txn, kMessagesAmong, IdArray(messages)));
      Rows rows(4);
      for (const LegacyReaction& r : batch) {
        std::optional<std::string> user = CanonicalId(r.user_id);
        std::optional<std::string> message = CanonicalId(r.message_id);
        if (!message || known_messages.count(*message) == 0) {
          report_->Reject("message not imported", r.id);
        } else if (!user || known_users.count(*user) == 0) {
          report_->Reject("user not imported", r.id);
        } else if (!ValidateEmoji("emoji", r.emoji, true).ok()) {
          report_->Reject("emoji refused by our rules (over 64 bytes or whitespace)", r.id);
        } else {
          rows.Add(r.id, {*message, *user, r.emoji, r.created_at});
        }
      }
      const int64_t rejected_before = report_->rejected;
      const int64_t inserted = BulkInsert(txn, kReactionsInsert, rows);
      report_->imported += inserted;
      // The old schema allowed the same reaction twice.
      report_->deduplicated +=
          static_cast<int64_t>(rows.size()) - inserted - (report_->rejected - rejected_before);
      SaveResumePoint(txn, "reactions", after, read);
    });
    if (!s.ok()) return s;
  }
  End();
  return absl::OkStatus();
}

// --- Files -> attachments. ---

absl::Status Importer::Files() {
  Begin("files", "files");
  const std::pair<std::string, int64_t> resume = ResumePoint("files");
  std::string after = resume.first;
  const int64_t earlier = resume.second;
  report_->read_by_earlier_runs = earlier;
  int64_t read = earlier;
  for (;;) {
    std::vector<LegacyFile> batch = source_->ReadFiles(after, options_.batch_size);
    if (batch.empty()) break;
    after = batch.back().id;
    read += static_cast<int64_t>(batch.size());
    report_->read += static_cast<int64_t>(batch.size());
    absl::Status s = InBatch([&](pqxx::dbtransaction& txn) {
      std::set<std::string> users, messages;
      for (const LegacyFile& f : batch) {
        if (std::optional<std::string> u = CanonicalId(f.user_id)) users.insert(*u);
        if (f.message_id) {
          if (std::optional<std::string> m = CanonicalId(*f.message_id)) messages.insert(*m);
        }
      }
      const std::set<std::string> known_users = Column0(Exec(txn, kUsersAmong, IdArray(users)));
      const std::map<std::string, std::string> known_messages =
          Column01(Exec(txn, kMessagesAmong, IdArray(messages)));
      Rows rows(9);
      std::vector<std::vector<std::string>> repairs;
      for (const LegacyFile& f : batch) {
        std::optional<std::string> id = CanonicalId(f.id);
        std::optional<std::string> user = CanonicalId(f.user_id);
        std::optional<std::string> message =
            f.message_id ? CanonicalId(*f.message_id) : std::nullopt;
        auto message_now = message ? known_messages.find(*message) : known_messages.end();
        if (!id) {
          report_->Reject("id is not a ULID", f.id);
        } else if (f.deleted_at) {
          report_->Reject("deleted file (attachments have no soft delete)", f.id);
        } else if (!f.message_id) {
          report_->Reject("orphan file: attached to no message", f.id);
        } else if (message_now == known_messages.end()) {
          report_->Reject("message not imported", f.id);
        } else if (!user || known_users.count(*user) == 0) {
          report_->Reject("uploader not imported", f.id);
        } else if (f.url.empty() || f.url.size() > 2048) {
          report_->Reject("no URL, or one over 2048 characters", f.id);
        } else if (f.size && *f.size < 0) {
          report_->Reject("negative size", f.id);
        } else {
          std::vector<std::string> repaired = {"no checksum in the old schema: sha256 empty"};
          std::string name = TruncateUtf8(f.name, 255);
          if (name.empty()) {
            name = "unnamed";
            repaired.push_back("no name: named \"unnamed\"");
          } else if (name != f.name) {
            repaired.push_back("name over 255 characters: truncated");
          }
          absl::StatusOr<std::string> type = NormalizeContentType("type", f.type);
          if (!type.ok()) {
            type = std::string("application/octet-stream");
            repaired.push_back("type is not a media type: application/octet-stream");
          }
          if (!f.size) repaired.push_back("no size: 0");
          rows.Add(f.id, {*id, *message, message_now->second, *user, name, *type,
                          absl::StrCat(f.size.value_or(0)), f.url, f.created_at});
          repairs.push_back(std::move(repaired));
        }
      }
      const int64_t rejected_before = report_->rejected;
      const int64_t inserted = BulkInsert(txn, kAttachmentsInsert, rows);
      report_->imported += inserted;
      report_->already_present +=
          static_cast<int64_t>(rows.size()) - inserted - (report_->rejected - rejected_before);
      for (size_t i = 0; i < rows.size(); ++i) report_->Repaired(repairs[i], rows.source_ids[i]);
      SaveResumePoint(txn, "files", after, read);
    });
    if (!s.ok()) return s;
  }
  End();
  return absl::OkStatus();
}

void Importer::NotImported(const std::string& table, const std::string& reason) {
  Begin(table, table);
  const int64_t rows = source_->Count(table);
  report_->read = rows;
  std::vector<std::string> ids = source_->FirstIds(table, kReasonExamples);
  if (rows > 0) report_->Reject(reason, ids.empty() ? "" : ids.front(), rows);
  if (rows > 0) report_->rejections[reason].examples = ids;
  End();
}

absl::StatusOr<std::vector<TableReport>> Importer::Run() {
  reports_.reserve(12);  // report_ points into it
  try {
    {
      pqxx::read_transaction t(*target_);
      if (!Exec1(t, kTargetReady)[0].as<bool>()) {
        return absl::FailedPreconditionError(
            "the target database's schema is too old for the import: run `chatgenius-db setup` "
            "(or start the server once) first");
      }
    }
    if (options_.dry_run) dry_run_ = std::make_unique<pqxx::work>(*target_);
    absl::Status s = Users();
    if (s.ok()) s = Statuses();
    if (s.ok()) s = Channels();
    if (s.ok()) s = Memberships();
    if (s.ok()) {
      Begin("messages", "messages");
      s = Messages(/*replies=*/false);
      if (s.ok()) s = Messages(/*replies=*/true);
      if (s.ok()) End();
    }
    if (s.ok()) s = ReadMarkers();
    if (s.ok()) s = Reactions();
    if (s.ok()) s = Files();
    if (s.ok()) {
      NotImported("user_settings",
                  "no counterpart in this schema (theme, notifications, muted channels)");
      NotImported("sync_state", "client sync bookkeeping: nothing to import");
    }
    if (dry_run_ != nullptr) dry_run_->abort();
    if (!s.ok()) return s;
    return reports_;
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

}  // namespace

absl::StatusOr<std::vector<TableReport>> ImportLegacy(const LegacyImportOptions& options,
                                                      ImportObserver* observer) {
  if (options.batch_size < 1 || options.batch_size > 100000) {
    return absl::InvalidArgumentError("batch size must be 1..100000");
  }
  absl::StatusOr<std::unique_ptr<LegacySource>> source = LegacySource::Open(options.source);
  if (!source.ok()) return source.status();
  try {
    pqxx::connection target(options.target);
    return Importer(options, observer, source->get(), &target).Run();
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

}  // namespace chatgenius
