// Messages with their threads, reactions, and files as attachments: the
// large tables, read from their resume points in bulk batches.
#include "server/common/status_macros.h"
#include "server/common/validation.h"
#include "server/importer/import_tables.h"
#include "server/importer/legacy_mapping.h"

namespace chatgenius {

namespace {

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

// CanonicalIds: the batch's `field` values that are ULIDs, canonical.
template <typename Row>
std::set<std::string> CanonicalIds(const std::vector<Row>& batch, std::string Row::*field) {
  std::set<std::string> out;
  for (const Row& row : batch) {
    if (std::optional<std::string> id = CanonicalId(row.*field)) out.insert(*id);
  }
  return out;
}

// What a batch of messages refers to, looked up once.
struct MessageRefs {
  std::set<std::string> users;
  std::map<std::string, std::string> channels;  // legacy id -> channel now
  std::map<std::string, std::string> roots;     // thread root id -> its channel
};

// ParentOf decides a reply's parent: the top of its thread chain if that
// is a top-level message of the same channel that was imported; otherwise
// the reply becomes a top-level message, and `repairs` says why.
PgText ParentOf(const LegacyMessage& m, const std::string& channel, const MessageRefs& refs,
                TableReport& report, std::vector<std::string>* repairs) {
  std::optional<std::string> root = CanonicalId(m.root_id);
  auto root_now = root ? refs.roots.find(*root) : refs.roots.end();
  if (!m.root_is_top_level) {
    repairs->push_back("thread loop: imported as a top-level message");
  } else if (CanonicalId(m.root_channel_id) != CanonicalId(m.channel_id)) {
    repairs->push_back("parent in another channel: imported as a top-level message");
  } else if (root_now == refs.roots.end() || root_now->second != channel) {
    repairs->push_back("thread's first message not imported: imported as top-level");
  } else {
    if (m.depth > 1) ++report.reparented;  // a reply to a reply
    return *root;
  }
  return std::nullopt;
}

void WriteMessages(ImportRun& run, bool replies, const std::vector<LegacyMessage>& batch,
                   pqxx::dbtransaction& txn) {
  TableReport& report = run.report();
  MessageRefs refs;
  refs.users = KnownUsers(txn, CanonicalIds(batch, &LegacyMessage::user_id));
  refs.channels = ChannelsNow(txn, CanonicalIds(batch, &LegacyMessage::channel_id));
  refs.roots = KnownMessages(txn, CanonicalIds(batch, &LegacyMessage::root_id));
  Rows rows(8);
  std::vector<std::vector<std::string>> repairs;
  for (const LegacyMessage& m : batch) {
    std::optional<std::string> id = CanonicalId(m.id);
    std::optional<std::string> channel = CanonicalId(m.channel_id);
    std::optional<std::string> user = CanonicalId(m.user_id);
    auto channel_now = channel ? refs.channels.find(*channel) : refs.channels.end();
    const int length = Utf8Length(m.content);
    if (!id) {
      report.Reject("id is not a ULID", m.id);
    } else if (channel_now == refs.channels.end()) {
      report.Reject("channel not imported", m.id);
    } else if (!user || refs.users.count(*user) == 0) {
      report.Reject("author not imported", m.id);
    } else if (length < 0 || length > 40000) {
      report.Reject("content over 40,000 characters (or not UTF-8)", m.id);
    } else if (!m.deleted_at && length == 0) {
      report.Reject("empty message", m.id);
    } else {
      std::vector<std::string> repaired;
      const PgText parent =
          replies ? ParentOf(m, channel_now->second, refs, report, &repaired) : PgText();
      const PgText edited_at = m.edited ? (m.updated_at ? m.updated_at : m.created_at) : PgText();
      rows.Add(m.id, {*id, channel_now->second, *user, m.content, parent, m.created_at, edited_at,
                      m.deleted_at});
      repairs.push_back(std::move(repaired));
    }
  }
  const ImportRun::Inserted done = run.BulkInsert(txn, kMessagesInsert, rows);
  report.imported += done.inserted;
  report.already_present += static_cast<int64_t>(rows.size()) - done.inserted - done.refused;
  for (size_t i = 0; i < rows.size(); ++i) report.Repaired(repairs[i], rows.source_ids[i]);
}

void WriteReactions(ImportRun& run, const std::vector<LegacyReaction>& batch,
                    pqxx::dbtransaction& txn) {
  TableReport& report = run.report();
  const std::set<std::string> users =
      KnownUsers(txn, CanonicalIds(batch, &LegacyReaction::user_id));
  const std::map<std::string, std::string> messages =
      KnownMessages(txn, CanonicalIds(batch, &LegacyReaction::message_id));
  Rows rows(4);
  for (const LegacyReaction& r : batch) {
    std::optional<std::string> user = CanonicalId(r.user_id);
    std::optional<std::string> message = CanonicalId(r.message_id);
    if (!message || messages.count(*message) == 0) {
      report.Reject("message not imported", r.id);
    } else if (!user || users.count(*user) == 0) {
      report.Reject("user not imported", r.id);
    } else if (!ValidateEmoji("emoji", r.emoji, true).ok()) {
      report.Reject("emoji refused by our rules (over 64 bytes or whitespace)", r.id);
    } else {
      rows.Add(r.id, {*message, *user, r.emoji, r.created_at});
    }
  }
  const ImportRun::Inserted done = run.BulkInsert(txn, kReactionsInsert, rows);
  report.imported += done.inserted;
  // The old schema allowed the same reaction twice (or it is there already).
  report.deduplicated += static_cast<int64_t>(rows.size()) - done.inserted - done.refused;
}

// FileRow makes an attachment of a file, or says why it cannot.
std::optional<std::vector<PgText>> FileRow(const LegacyFile& f, const std::set<std::string>& users,
                                           const std::map<std::string, std::string>& messages,
                                           TableReport& report, std::vector<std::string>* repairs) {
  std::optional<std::string> id = CanonicalId(f.id);
  std::optional<std::string> user = CanonicalId(f.user_id);
  std::optional<std::string> message = f.message_id ? CanonicalId(*f.message_id) : std::nullopt;
  auto message_now = message ? messages.find(*message) : messages.end();
  const char* rejected = nullptr;
  if (!id) {
    rejected = "id is not a ULID";
  } else if (f.deleted_at) {
    rejected = "deleted file (attachments have no soft delete)";
  } else if (!f.message_id) {
    rejected = "orphan file: attached to no message";
  } else if (message_now == messages.end()) {
    rejected = "message not imported";
  } else if (!user || users.count(*user) == 0) {
    rejected = "uploader not imported";
  } else if (f.url.empty() || f.url.size() > 2048) {
    rejected = "no URL, or one over 2048 characters";
  } else if (f.size && *f.size < 0) {
    rejected = "negative size";
  }
  if (rejected != nullptr) {
    report.Reject(rejected, f.id);
    return std::nullopt;
  }
  repairs->push_back("no checksum in the old schema: sha256 empty");
  std::string name = TruncateUtf8(f.name, 255);
  if (name.empty()) {
    name = "unnamed";
    repairs->push_back("no name: named \"unnamed\"");
  } else if (name != f.name) {
    repairs->push_back("name over 255 characters: truncated");
  }
  absl::StatusOr<std::string> type = NormalizeContentType("type", f.type);
  if (!type.ok()) {
    type = std::string("application/octet-stream");
    repairs->push_back("type is not a media type: application/octet-stream");
  }
  if (!f.size) repairs->push_back("no size: 0");
  return std::vector<PgText>{
      *id,   *message,    message_now->second, *user, name, *type, absl::StrCat(f.size.value_or(0)),
      f.url, f.created_at};
}

void WriteFiles(ImportRun& run, const std::vector<LegacyFile>& batch, pqxx::dbtransaction& txn) {
  TableReport& report = run.report();
  const std::set<std::string> users = KnownUsers(txn, CanonicalIds(batch, &LegacyFile::user_id));
  const std::map<std::string, std::string> messages = KnownMessages(txn, [&] {
    std::set<std::string> ids;
    for (const LegacyFile& f : batch) {
      if (!f.message_id) continue;
      if (std::optional<std::string> id = CanonicalId(*f.message_id)) ids.insert(*id);
    }
    return ids;
  }());
  Rows rows(9);
  std::vector<std::vector<std::string>> repairs;
  for (const LegacyFile& f : batch) {
    std::vector<std::string> repaired;
    if (std::optional<std::vector<PgText>> row = FileRow(f, users, messages, report, &repaired)) {
      rows.Add(f.id, std::move(*row));
      repairs.push_back(std::move(repaired));
    }
  }
  const ImportRun::Inserted done = run.BulkInsert(txn, kAttachmentsInsert, rows);
  report.imported += done.inserted;
  report.already_present += static_cast<int64_t>(rows.size()) - done.inserted - done.refused;
  for (size_t i = 0; i < rows.size(); ++i) report.Repaired(repairs[i], rows.source_ids[i]);
}

}  // namespace

// Top-level messages first, then replies: a reply's parent (the top of its
// thread) is then always there.
absl::Status ImportMessages(ImportRun& run) {
  run.Begin("messages", "messages");
  LegacySource& source = run.source();
  absl::Status s = run.Resumable<LegacyMessage>(
      "messages:top-level",
      [&](const std::string& after, int limit) {
        return source.ReadTopLevelMessages(after, limit);
      },
      [&](const std::vector<LegacyMessage>& batch, pqxx::dbtransaction& txn) {
        WriteMessages(run, /*replies=*/false, batch, txn);
      });
  RETURN_IF_ERROR(s);
  s = run.Resumable<LegacyMessage>(
      "messages:replies",
      [&](const std::string& after, int limit) { return source.ReadReplies(after, limit); },
      [&](const std::vector<LegacyMessage>& batch, pqxx::dbtransaction& txn) {
        WriteMessages(run, /*replies=*/true, batch, txn);
      });
  if (!s.ok()) return s;
  run.End();
  return absl::OkStatus();
}

absl::Status ImportReactions(ImportRun& run) {
  run.Begin("reactions", "reactions");
  LegacySource& source = run.source();
  absl::Status s = run.Resumable<LegacyReaction>(
      "reactions",
      [&](const std::string& after, int limit) { return source.ReadReactions(after, limit); },
      [&](const std::vector<LegacyReaction>& batch, pqxx::dbtransaction& txn) {
        WriteReactions(run, batch, txn);
      });
  if (!s.ok()) return s;
  run.End();
  return absl::OkStatus();
}

absl::Status ImportFiles(ImportRun& run) {
  run.Begin("files", "files");
  LegacySource& source = run.source();
  absl::Status s = run.Resumable<LegacyFile>(
      "files", [&](const std::string& after, int limit) { return source.ReadFiles(after, limit); },
      [&](const std::vector<LegacyFile>& batch, pqxx::dbtransaction& txn) {
        WriteFiles(run, batch, txn);
      });
  if (!s.ok()) return s;
  run.End();
  return absl::OkStatus();
}

}  // namespace chatgenius
