// Channels, memberships and read markers.
#include "server/common/status_macros.h"
#include "server/importer/import_tables.h"
#include "server/importer/legacy_mapping.h"

namespace chatgenius {

namespace {

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

// ChannelNow is the channel a legacy channel id is now (itself, or the
// direct channel it was merged into).
std::optional<std::string> ChannelNow(pqxx::transaction_base& txn, const std::string& legacy_id) {
  std::optional<std::string> id = CanonicalId(legacy_id);
  if (!id) return std::nullopt;
  std::map<std::string, std::string> now = ChannelsNow(txn, {*id});
  if (now.empty()) return std::nullopt;
  return now.begin()->second;
}

void ImportChannel(ImportRun& run, pqxx::dbtransaction& txn, const LegacyChannel& c) {
  TableReport& report = run.report();
  ++report.read;
  std::optional<std::string> id = CanonicalId(c.id);
  if (!id) return report.Reject("id is not a ULID", c.id);
  if (!ChannelsNow(txn, {*id}).empty()) {
    ++report.already_present;
    return;
  }
  std::optional<std::string> creator = CanonicalId(c.created_by);
  if (!creator || KnownUsers(txn, {*creator}).empty()) {
    return report.Reject("creator not imported", c.id);
  }
  std::vector<std::string> repairs;
  const std::string description = TruncateUtf8(c.topic, 250);
  if (description != c.topic) repairs.push_back("topic over 250 characters: truncated");
  PgText name;
  PgText dm_key;
  if (c.type == "dm") {
    std::vector<std::string> members;
    for (const std::string& m : c.live_members.empty() ? c.all_members : c.live_members) {
      if (std::optional<std::string> member = CanonicalId(m)) members.push_back(*member);
    }
    if (c.live_members.empty()) repairs.push_back("direct channel without live members");
    if (members.empty()) members.push_back(*creator);
    dm_key = DmKey(members);
    pqxx::result same = Exec(txn, kDirectByKey, *dm_key);
    if (!same.empty()) {
      // The old module could open the same conversation twice.
      Exec(txn, kChannelMerge, *id, same[0][0].as<std::string>());
      ++report.deduplicated;
      return;
    }
  } else {
    const std::string base = NameFrom(c.name, /*keep_dots=*/false, FallbackName("channel", *id));
    name = base;
    if (base != c.name) repairs.push_back("name changed to fit [a-z0-9_-]");
    for (int n = 2; !c.deleted_at && !Exec(txn, kChannelNameTaken, *name).empty(); ++n) {
      name = WithSuffix(base, n);
      if (n == 2) repairs.push_back("name taken: numbered");
    }
  }
  const bool inserted = run.InsertOne(txn, c.id, [&](pqxx::dbtransaction& one) {
    Exec(one, kChannelInsert, *id, name, description, c.type, dm_key, *creator, c.created_at,
         c.deleted_at);
  });
  if (!inserted) return;
  ++report.imported;
  report.Repaired(repairs, c.id);
}

void ImportMembership(pqxx::dbtransaction& txn, TableReport& report, const LegacyMembership& m) {
  static const char* kRoles[] = {"", "member", "admin", "owner"};  // by RoleRank
  const std::string source_id = absl::StrCat(m.channel_id, "/", m.user_id);
  report.read += m.rows;
  report.deduplicated += m.rows - 1;  // one membership stands for all rows of the pair
  if (m.strongest_live_role == 0) {
    return report.Reject("membership had ended (deleted_at): not a member", source_id);
  }
  std::optional<std::string> channel = ChannelNow(txn, m.channel_id);
  if (!channel) return report.Reject("channel not imported", source_id);
  std::optional<std::string> user = CanonicalId(m.user_id);
  if (!user || KnownUsers(txn, {*user}).empty()) {
    return report.Reject("user not imported", source_id);
  }
  if (Exec(txn, kMemberInsert, *channel, *user, kRoles[m.strongest_live_role], m.joined_at)
          .empty()) {
    // In a merged direct channel the member is there from its twin.
    const bool merged = *channel != CanonicalId(m.channel_id);
    ++(merged ? report.deduplicated : report.already_present);
    return;
  }
  ++report.imported;
}

void ImportReadMarker(pqxx::dbtransaction& txn, TableReport& report, const LegacyReadMarker& r) {
  const std::string source_id = absl::StrCat(r.user_id, "/", r.channel_id);
  report.read += r.rows;
  report.deduplicated += r.rows - 1;  // the newest marker stands for the others
  std::optional<std::string> channel = ChannelNow(txn, r.channel_id);
  std::optional<std::string> user = CanonicalId(r.user_id);
  std::optional<std::string> message = CanonicalId(r.last_read_message_id);
  if (!channel || !user || !message) return report.Reject("channel not imported", source_id);
  if (!Exec(txn, kReadMarkerSet, *channel, *user, *message).empty()) {
    ++report.imported;
  } else if (Exec(txn, kMemberExists, *channel, *user).empty()) {
    report.Reject("reader is not a member of the channel", source_id);
  } else if (Exec(txn, kMessageInChannel, *channel, *message).empty()) {
    report.Reject("read message not imported or in another channel", source_id);
  } else {
    ++report.already_present;  // as new or newer already
  }
}

}  // namespace

absl::Status ImportChannels(ImportRun& run) {
  run.Begin("channels", "channels");
  RETURN_IF_ERROR(run.Whole<LegacyChannel>(
      [&](const LegacyChannel* last, int limit) {
        return run.source().ReadChannels(last ? last->id : "", limit);
      },
      [&](const LegacyChannel& c, pqxx::dbtransaction& txn) { ImportChannel(run, txn, c); }));
  run.End();
  return absl::OkStatus();
}

absl::Status ImportMemberships(ImportRun& run) {
  run.Begin("channel_members", "channel_members");
  RETURN_IF_ERROR(run.Whole<LegacyMembership>(
      [&](const LegacyMembership* last, int limit) {
        return last ? run.source().ReadMemberships(last->channel_id, last->user_id, limit)
                    : run.source().ReadMemberships("", "", limit);
      },
      [&](const LegacyMembership& m, pqxx::dbtransaction& txn) {
        ImportMembership(txn, run.report(), m);
      }));
  run.End();
  return absl::OkStatus();
}

absl::Status ImportReadMarkers(ImportRun& run) {
  run.Begin("message_reads", "message_reads");
  RETURN_IF_ERROR(run.Whole<LegacyReadMarker>(
      [&](const LegacyReadMarker* last, int limit) {
        return last ? run.source().ReadReadMarkers(last->user_id, last->channel_id, limit)
                    : run.source().ReadReadMarkers("", "", limit);
      },
      [&](const LegacyReadMarker& r, pqxx::dbtransaction& txn) {
        ImportReadMarker(txn, run.report(), r);
      }));
  run.End();
  return absl::OkStatus();
}

}  // namespace chatgenius
