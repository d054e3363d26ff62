#include "server/importer/legacy_source.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/db/pg_error.h"
#include "server/db/statement.h"

namespace chatgenius {

namespace {

// The tables the old module created that the import reads or reports on.
const std::vector<std::string>& LegacyTables() {
  static const auto* tables = new std::vector<std::string>{
      "users",     "user_status", "channels",      "channel_members", "messages",
      "reactions", "files",       "message_reads", "user_settings",   "sync_state"};
  return *tables;
}

const Statement kLegacyTables("legacy_tables",
                              "SELECT table_name FROM information_schema.tables "
                              "WHERE table_schema = current_schema()");

const Statement kLegacyUsers(
    "legacy_users",
    "SELECT id, auth0_id, email, username, full_name, coalesce(avatar_url, ''), "
    "created_at::text, deleted_at::text FROM users WHERE id > $1 ORDER BY id LIMIT $2");

// The newest status row of each user, and how many the user had.
const Statement kLegacyStatuses(
    "legacy_statuses",
    "SELECT DISTINCT ON (user_id) user_id, presence, coalesce(status_text, ''), "
    "coalesce(status_emoji, ''), status_expiry::text, count(*) OVER (PARTITION BY user_id) "
    "FROM user_status WHERE user_id > $1 ORDER BY user_id, created_at DESC, id DESC LIMIT $2");

// A direct channel's key is rebuilt from its members (live ones first).
const Statement kLegacyChannels(
    "legacy_channels",
    "SELECT c.id, c.name, coalesce(c.topic, ''), c.type, c.created_by, c.created_at::text, "
    "c.deleted_at::text, "
    "(SELECT coalesce(string_agg(DISTINCT m.user_id, ','), '') FROM channel_members m "
    " WHERE m.channel_id = c.id AND m.deleted_at IS NULL), "
    "(SELECT coalesce(string_agg(DISTINCT m.user_id, ','), '') FROM channel_members m "
    " WHERE m.channel_id = c.id) "
    "FROM channels c WHERE c.id > $1 ORDER BY c.id LIMIT $2");

// The old schema let a user be a member twice: one group per pair, with
// the strongest live role and the earliest live join.
const Statement kLegacyMemberships(
    "legacy_memberships",
    "SELECT channel_id, user_id, "
    "coalesce(max(CASE role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 ELSE 1 END) "
    "  FILTER (WHERE deleted_at IS NULL), 0), "
    "(min(created_at) FILTER (WHERE deleted_at IS NULL))::text, count(*) "
    "FROM channel_members WHERE (channel_id, user_id) > ($1, $2) "
    "GROUP BY channel_id, user_id ORDER BY channel_id, user_id LIMIT $3");

const Statement kLegacyTopLevel(
    "legacy_top_level",
    "SELECT id, channel_id, user_id, content, coalesce(edited, false), created_at::text, "
    "updated_at::text, deleted_at::text FROM messages "
    "WHERE thread_id IS NULL AND id > $1 ORDER BY id LIMIT $2");

// Replies with the top of their thread chain: `up` climbs from each reply
// (at most 100 steps: a longer chain is a loop), and the deepest step names
// the root.
const Statement kLegacyReplies(
    "legacy_replies",
    "WITH RECURSIVE batch AS ("
    "  SELECT id, channel_id, user_id, content, edited, created_at, updated_at, deleted_at, "
    "         thread_id FROM messages WHERE thread_id IS NOT NULL AND id > $1 "
    "  ORDER BY id LIMIT $2), "
    "up AS ("
    "  SELECT b.id AS reply, b.thread_id AS ancestor, 1 AS depth FROM batch b "
    "  UNION ALL "
    "  SELECT up.reply, p.thread_id, up.depth + 1 FROM up JOIN messages p ON p.id = up.ancestor "
    "  WHERE p.thread_id IS NOT NULL AND up.depth < 100), "
    "root AS (SELECT DISTINCT ON (reply) reply, ancestor, depth FROM up "
    "         ORDER BY reply, depth DESC) "
    "SELECT b.id, b.channel_id, b.user_id, b.content, coalesce(b.edited, false), "
    "b.created_at::text, b.updated_at::text, b.deleted_at::text, r.ancestor, r.depth, "
    "coalesce(rm.channel_id, ''), coalesce(rm.thread_id IS NULL, false) "
    "FROM batch b JOIN root r ON r.reply = b.id LEFT JOIN messages rm ON rm.id = r.ancestor "
    "ORDER BY b.id");

const Statement kLegacyReadMarkers(
    "legacy_read_markers",
    "SELECT user_id, channel_id, max(upper(last_read_message_id)), count(*) "
    "FROM message_reads WHERE (user_id, channel_id) > ($1, $2) "
    "GROUP BY user_id, channel_id ORDER BY user_id, channel_id LIMIT $3");

const Statement kLegacyReactions(
    "legacy_reactions",
    "SELECT id, message_id, user_id, emoji, created_at::text FROM reactions "
    "WHERE id > $1 ORDER BY id LIMIT $2");

const Statement kLegacyFiles(
    "legacy_files",
    "SELECT id, message_id, user_id, coalesce(name, ''), coalesce(type, ''), size, "
    "coalesce(url, ''), created_at::text, deleted_at::text FROM files "
    "WHERE id > $1 ORDER BY id LIMIT $2");

PgText Text(const pqxx::field& f) { return f.is_null() ? PgText() : PgText(f.as<std::string>()); }

std::vector<std::string> Ids(const pqxx::field& f) {
  return absl::StrSplit(f.as<std::string>(), ',', absl::SkipEmpty());
}

}  // namespace

absl::StatusOr<std::unique_ptr<LegacySource>> LegacySource::Open(const std::string& conninfo) {
  try {
    std::unique_ptr<LegacySource> source(new LegacySource(conninfo));
    pqxx::nontransaction setup(source->conn_);
    setup.exec("SET default_transaction_read_only = on");
    setup.exec("SET application_name = 'chatgenius-db import-legacy'");
    std::set<std::string> present;
    for (const pqxx::row& r : Exec(setup, kLegacyTables)) present.insert(r[0].as<std::string>());
    std::vector<std::string> missing;
    for (const std::string& table : LegacyTables()) {
      if (present.count(table) == 0) missing.push_back(table);
    }
    if (!missing.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("--from is not a database of the old TypeScript module: no table ",
                       absl::StrJoin(missing, ", ")));
    }
    return source;
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

int64_t LegacySource::Count(const std::string& table) {
  pqxx::read_transaction t(conn_);
  return t.exec1("SELECT count(*) FROM " + t.quote_name(table))[0].as<int64_t>();
}

std::vector<std::string> LegacySource::FirstIds(const std::string& table, int n) {
  pqxx::read_transaction t(conn_);
  std::vector<std::string> out;
  for (const pqxx::row& r :
       t.exec_params("SELECT id FROM " + t.quote_name(table) + " ORDER BY id LIMIT $1", n)) {
    out.push_back(r[0].as<std::string>());
  }
  return out;
}

std::vector<LegacyUser> LegacySource::ReadUsers(const std::string& after, int limit) {
  pqxx::read_transaction t(conn_);
  std::vector<LegacyUser> out;
  for (const pqxx::row& r : Exec(t, kLegacyUsers, after, limit)) {
    out.push_back({r[0].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>(),
                   r[4].as<std::string>(), r[5].as<std::string>(), Text(r[1]), Text(r[6]),
                   Text(r[7])});
  }
  return out;
}

std::vector<LegacyStatus> LegacySource::ReadStatuses(const std::string& after_user, int limit) {
  pqxx::read_transaction t(conn_);
  std::vector<LegacyStatus> out;
  for (const pqxx::row& r : Exec(t, kLegacyStatuses, after_user, limit)) {
    out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                   r[3].as<std::string>(), Text(r[4]), r[5].as<int64_t>()});
  }
  return out;
}

std::vector<LegacyChannel> LegacySource::ReadChannels(const std::string& after, int limit) {
  pqxx::read_transaction t(conn_);
  std::vector<LegacyChannel> out;
  for (const pqxx::row& r : Exec(t, kLegacyChannels, after, limit)) {
    out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                   r[3].as<std::string>(), r[4].as<std::string>(), Text(r[5]), Text(r[6]),
                   Ids(r[7]), Ids(r[8])});
  }
  return out;
}

std::vector<LegacyMembership> LegacySource::ReadMemberships(const std::string& after_channel,
                                                            const std::string& after_user,
                                                            int limit) {
  pqxx::read_transaction t(conn_);
  std::vector<LegacyMembership> out;
  for (const pqxx::row& r : Exec(t, kLegacyMemberships, after_channel, after_user, limit)) {
    out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<int>(), Text(r[3]),
                   r[4].as<int64_t>()});
  }
  return out;
}

namespace {
LegacyMessage MessageFrom(const pqxx::row& r) {
  LegacyMessage m;
  m.id = r[0].as<std::string>();
  m.channel_id = r[1].as<std::string>();
  m.user_id = r[2].as<std::string>();
  m.content = r[3].as<std::string>();
  m.edited = r[4].as<bool>();
  m.created_at = Text(r[5]);
  m.updated_at = Text(r[6]);
  m.deleted_at = Text(r[7]);
  return m;
}
}  // namespace

std::vector<LegacyMessage> LegacySource::ReadTopLevelMessages(const std::string& after, int limit) {
  pqxx::read_transaction t(conn_);
  std::vector<LegacyMessage> out;
  for (const pqxx::row& r : Exec(t, kLegacyTopLevel, after, limit)) out.push_back(MessageFrom(r));
  return out;
}

std::vector<LegacyMessage> LegacySource::ReadReplies(const std::string& after, int limit) {
  pqxx::read_transaction t(conn_);
  std::vector<LegacyMessage> out;
  for (const pqxx::row& r : Exec(t, kLegacyReplies, after, limit)) {
    LegacyMessage m = MessageFrom(r);
    m.root_id = r[8].as<std::string>();
    m.depth = r[9].as<int>();
    m.root_channel_id = r[10].as<std::string>();
    m.root_is_top_level = r[11].as<bool>();
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<LegacyReadMarker> LegacySource::ReadReadMarkers(const std::string& after_user,
                                                            const std::string& after_channel,
                                                            int limit) {
  pqxx::read_transaction t(conn_);
  std::vector<LegacyReadMarker> out;
  for (const pqxx::row& r : Exec(t, kLegacyReadMarkers, after_user, after_channel, limit)) {
    out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                   r[3].as<int64_t>()});
  }
  return out;
}

std::vector<LegacyReaction> LegacySource::ReadReactions(const std::string& after, int limit) {
  pqxx::read_transaction t(conn_);
  std::vector<LegacyReaction> out;
  for (const pqxx::row& r : Exec(t, kLegacyReactions, after, limit)) {
    out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                   r[3].as<std::string>(), Text(r[4])});
  }
  return out;
}

std::vector<LegacyFile> LegacySource::ReadFiles(const std::string& after, int limit) {
  pqxx::read_transaction t(conn_);
  std::vector<LegacyFile> out;
  for (const pqxx::row& r : Exec(t, kLegacyFiles, after, limit)) {
    LegacyFile f;
    f.id = r[0].as<std::string>();
    f.message_id = Text(r[1]);
    f.user_id = r[2].as<std::string>();
    f.name = r[3].as<std::string>();
    f.type = r[4].as<std::string>();
    if (!r[5].is_null()) f.size = r[5].as<int64_t>();
    f.url = r[6].as<std::string>();
    f.created_at = Text(r[7]);
    f.deleted_at = Text(r[8]);
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace chatgenius
