// legacy_source.h
//
// LegacySource: read-only access to a database of the old TypeScript `db`
// module (its schema: docs/IMPORT.md). The session is read-only
// (default_transaction_read_only, and every read runs in a READ ONLY
// transaction), so the import cannot change the source even by mistake.
// Each Read* returns the next batch after a keyset position, in the
// source's own order, so memory stays bounded whatever the table's size.
// Duplicate rows the old schema allowed (memberships, statuses, read
// markers) are grouped here in SQL, with how many rows each group had.
#ifndef CHATGENIUS_SERVER_IMPORTER_LEGACY_SOURCE_H_
#define CHATGENIUS_SERVER_IMPORTER_LEGACY_SOURCE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace chatgenius {

// Timestamps stay PostgreSQL text (timestamptz::text) end to end.
using PgText = std::optional<std::string>;

struct LegacyUser {
  std::string id, email, username, full_name, avatar_url;
  PgText auth0_id, created_at, deleted_at;
};

struct LegacyStatus {  // the newest of a user's rows
  std::string user_id, presence, status_text, status_emoji;
  PgText expires_at;
  int64_t rows = 0;  // rows the user had
};

struct LegacyChannel {
  std::string id, name, topic, type, created_by;
  PgText created_at, deleted_at;
  std::vector<std::string> live_members, all_members;  // distinct, as stored
};

struct LegacyMembership {  // all rows of one (channel, user)
  std::string channel_id, user_id;
  int strongest_live_role = 0;  // RoleRank over live rows; 0 when none is live
  PgText joined_at;             // earliest live row
  int64_t rows = 0;
};

struct LegacyMessage {
  std::string id, channel_id, user_id, content;
  bool edited = false;
  PgText created_at, updated_at, deleted_at;
  // Replies only: the top of the thread chain, how many steps up it was
  // (1 = a direct reply), its channel, and whether the chain ended at a
  // top-level message (false for a loop).
  std::string root_id, root_channel_id;
  int depth = 0;
  bool root_is_top_level = false;
};

struct LegacyReadMarker {                                 // all rows of one (user, channel)
  std::string user_id, channel_id, last_read_message_id;  // the newest id
  int64_t rows = 0;
};

struct LegacyReaction {
  std::string id, message_id, user_id, emoji;
  PgText created_at;
};

struct LegacyFile {
  std::string id, user_id, name, type, url;
  PgText message_id, created_at, deleted_at;
  std::optional<int64_t> size;
};

class LegacySource {
 public:
  // Open connects with `conninfo` (libpq key=value or URL) and checks that
  // the tables of the old schema are there (FAILED_PRECONDITION naming the
  // missing ones otherwise: e.g. this service's own database).
  static absl::StatusOr<std::unique_ptr<LegacySource>> Open(const std::string& conninfo);

  // Count is the number of rows of `table` (a legacy table name).
  int64_t Count(const std::string& table);

  // Keyset batches: rows after `after` (source id or, for the grouped
  // tables, "channel_id/user_id"-style pairs given as two strings).
  std::vector<LegacyUser> ReadUsers(const std::string& after, int limit);
  std::vector<LegacyStatus> ReadStatuses(const std::string& after_user, int limit);
  std::vector<LegacyChannel> ReadChannels(const std::string& after, int limit);
  std::vector<LegacyMembership> ReadMemberships(const std::string& after_channel,
                                                const std::string& after_user, int limit);
  std::vector<LegacyMessage> ReadTopLevelMessages(const std::string& after, int limit);
  std::vector<LegacyMessage> ReadReplies(const std::string& after, int limit);
  std::vector<LegacyReadMarker> ReadReadMarkers(const std::string& after_user,
                                                const std::string& after_channel, int limit);
  std::vector<LegacyReaction> ReadReactions(const std::string& after, int limit);
  std::vector<LegacyFile> ReadFiles(const std::string& after, int limit);
  // FirstIds: up to `n` ids of `table`, for reporting tables not imported.
  std::vector<std::string> FirstIds(const std::string& table, int n);

 private:
  explicit LegacySource(const std::string& conninfo) : conn_(conninfo) {}

  pqxx::connection conn_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_IMPORTER_LEGACY_SOURCE_H_
