// The legacy import against real PostgreSQL: a database of the old
// TypeScript module (tests/support/legacy_schema.h), with the old defects in
// it, is imported into a running server's database and checked through the
// service's RPCs; imported again (nothing copied twice); imported after an
// interruption (the same result); dry-run (nothing written); and the source
// is byte-for-byte unchanged.
#include <map>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/substitute.h"
#include "server/common/ulid.h"
#include "server/importer/legacy_importer.h"
#include "tests/support/domain_fixture.h"
#include "tests/support/legacy_schema.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

// Ids in time order, as the old module made them (ULIDs of increasing time).
struct Ids {
  std::string Next() {
    return NewUlid(absl::FromUnixMillis(1700000000000 + 1000 * static_cast<int64_t>(n++)));
  }
  int n = 0;
};

// The legacy data set and the ids the checks refer to.
struct Legacy {
  std::string ada, bob, carol, dave, eve;
  std::string general, general2, secret, dm1, dm2;
  std::string m1, m2, m3, m4, m5, m6_lower, empty, edited, cross, s1, dm_message, over_limit;
};

// The source tables' contents, to prove the import never writes there.
std::string SourceDigest(const std::string& conninfo) {
  pqxx::connection c(conninfo);
  pqxx::read_transaction t(c);
  std::string out;
  for (const char* table : {"users", "channels", "messages", "reactions", "channel_members",
                            "files", "user_settings", "user_status", "message_reads"}) {
    out += t.exec1(absl::StrCat("SELECT coalesce(md5(string_agg(x::text, '|' ORDER BY x.id)), '') ",
                                "FROM ", table, " x"))[0]
               .as<std::string>();
  }
  return out;
}

// What the import wrote (timestamps it did not choose excluded).
std::string TargetDigest(const testing::TestDatabase& db) {
  return db.Query(
      "SELECT md5(concat_ws('|', "
      "(SELECT string_agg(concat_ws(',', id, email, username, display_name, auth0_id, "
      "  created_at, deleted_at), ';' ORDER BY id) FROM users), "
      "(SELECT string_agg(concat_ws(',', id, name, type, dm_key, description, created_by, "
      "  deleted_at), ';' ORDER BY id) FROM channels), "
      "(SELECT string_agg(concat_ws(',', channel_id, user_id, role, joined_at, "
      "  last_read_message_id), ';' ORDER BY channel_id, user_id) FROM channel_members), "
      "(SELECT string_agg(concat_ws(',', id, channel_id, user_id, content, thread_parent_id, "
      "  edited_at, deleted_at), ';' ORDER BY id) FROM messages), "
      "(SELECT string_agg(concat_ws(',', message_id, user_id, emoji), ';' "
      "  ORDER BY message_id, user_id, emoji) FROM reactions), "
      "(SELECT string_agg(concat_ws(',', id, message_id, channel_id, name, content_type, "
      "  size_bytes, storage_url, sha256), ';' ORDER BY id) FROM attachments), "
      "(SELECT string_agg(concat_ws(',', user_id, presence, status_text), ';' ORDER BY user_id) "
      "  FROM user_status)))");
}

class LegacyImportTest : public testing::DomainTest {
 protected:
  void SetUp() override {
    pqxx::connection c(source_.conninfo());
    pqxx::work t(c);
    t.exec(testing::LegacySchemaDdl());
    Ids ids;
    auto user = [&](std::string* id, const std::string& username, const std::string& email,
                    bool deleted = false) {
      *id = ids.Next();
      t.exec(absl::Substitute(
          "INSERT INTO users (id, auth0_id, email, username, full_name, created_at, deleted_at) "
          "VALUES ('$0', 'auth0|$1|$0', '$2', '$3', '$3 Full', '$4', $5)",
          *id, username, email, username, absl::FormatTime(UlidTime(*id)),
          deleted ? "now()" : "NULL"));
    };
    user(&l_.ada, "ada", "ada@example.com");
    user(&l_.bob, "Bob Smith", "bob@example.com");
    user(&l_.carol, "carol", "carol-at-example");  // invalid email
    user(&l_.dave, "ada", "ADA@example.com");      // name and email (case) taken
    user(&l_.eve, "eve", "eve@example.com", /*deleted=*/true);
    auto channel = [&](std::string* id, const std::string& name, const std::string& type) {
      *id = ids.Next();
      t.exec(
          absl::Substitute("INSERT INTO channels (id, name, topic, type, created_by) "
                           "VALUES ('$0', '$1', 'about $1', '$2', '$3')",
                           *id, name, type, l_.ada));
    };
    channel(&l_.general, "General", "public");
    channel(&l_.general2, "general!", "public");  // the same name once fixed
    channel(&l_.secret, "Secret Plans", "private");
    channel(&l_.dm1, "ada-bob", "dm");
    channel(&l_.dm2, "bob-ada", "dm");  // the same two people again
    auto member = [&](const std::string& ch, const std::string& user, const std::string& role,
                      bool deleted = false) {
      t.exec(absl::Substitute(
          "INSERT INTO channel_members (id, channel_id, user_id, role, deleted_at) "
          "VALUES ('$0', '$1', '$2', '$3', $4)",
          ids.Next(), ch, user, role, deleted ? "now()" : "NULL"));
    };
    member(l_.general, l_.ada, "member");
    member(l_.general, l_.ada, "owner");  // duplicate: the strongest role wins
    member(l_.general, l_.bob, "member");
    member(l_.general, l_.carol, "member", /*deleted=*/true);  // left
    member(l_.secret, l_.ada, "admin");
    member(l_.secret, l_.bob, "member");
    for (const std::string& dm : {l_.dm1, l_.dm2}) {
      member(dm, l_.ada, "member");
      member(dm, l_.bob, "member");
    }
    auto message = [&](std::string* id, const std::string& ch, const std::string& user,
                       const std::string& content, const std::string& thread = "",
                       const std::string& extra_columns = "", const std::string& extra = "") {
      *id = ids.Next();
      t.exec(absl::Substitute(
          "INSERT INTO messages (id, channel_id, user_id, content, thread_id, created_at$5) "
          "VALUES ('$0', '$1', '$2', $3, $4, '$6'$7)",
          *id, ch, user, t.quote(content), thread.empty() ? "NULL" : t.quote(thread), extra_columns,
          absl::FormatTime(UlidTime(*id)), extra));
    };
    message(&l_.m1, l_.general, l_.ada, "hello world");
    message(&l_.m2, l_.general, l_.bob, "a reply", l_.m1);
    message(&l_.m3, l_.general, l_.carol, "a reply to the reply", l_.m2);  // re-parented
    message(&l_.s1, l_.secret, l_.ada, "secret plan");
    message(&l_.cross, l_.general, l_.bob, "reply across channels", l_.s1);  // -> top-level
    message(&l_.m4, l_.general, l_.bob, "look at the zebra crossing");
    message(&l_.m5, l_.general, l_.ada, "", "", ", deleted_at", ", now()");  // tombstone
    message(&l_.empty, l_.general, l_.ada, "");                              // live and empty
    message(&l_.edited, l_.general, l_.ada, "fixed typo", "", ", edited", ", true");
    message(&l_.over_limit, l_.general, l_.ada, std::string(40001, 'x'));
    message(&l_.dm_message, l_.dm2, l_.bob, "hi ada, in the duplicate DM");
    l_.m6_lower = absl::AsciiStrToLower(ids.Next());  // the old module also wrote lower case
    t.exec(absl::Substitute(
        "INSERT INTO messages (id, channel_id, user_id, content) VALUES ('$0', '$1', '$2', "
        "'lower-case id')",
        l_.m6_lower, l_.general, l_.bob));
    auto reaction = [&](const std::string& msg, const std::string& user, const std::string& e) {
      t.exec(absl::Substitute(
          "INSERT INTO reactions (id, message_id, user_id, emoji) VALUES ('$0', '$1', '$2', '$3')",
          ids.Next(), msg, user, e));
    };
    reaction(l_.m1, l_.ada, ":thumbsup:");
    reaction(l_.m1, l_.ada, ":thumbsup:");  // duplicate
    reaction(l_.m1, l_.bob, ":tada:");
    reaction(l_.empty, l_.bob, ":tada:");  // on a message that is not imported
    auto file = [&](const std::string& msg, const std::string& type, bool deleted = false) {
      t.exec(absl::Substitute(
          "INSERT INTO files (id, message_id, user_id, name, type, size, url, deleted_at) "
          "VALUES ('$0', $1, '$2', 'plan.png', '$3', 1234, 's3://bucket/plan.png', $4)",
          ids.Next(), msg.empty() ? "NULL" : t.quote(msg), l_.ada, type,
          deleted ? "now()" : "NULL"));
    };
    file(l_.m4, "image/png");
    file(l_.m4, "not a type");  // stored as application/octet-stream
    file("", "image/png");      // orphan
    file(l_.m1, "image/png", /*deleted=*/true);
    t.exec(absl::Substitute(
        "INSERT INTO user_status (id, user_id, presence, status_text, created_at) VALUES "
        "('$0', '$2', 'away', 'older', now() - interval '1 day'), "
        "('$1', '$2', 'online', 'newest', now())",
        ids.Next(), ids.Next(), l_.ada));
    t.exec(absl::Substitute(
        "INSERT INTO message_reads (id, user_id, channel_id, last_read_message_id) VALUES "
        "('$0', '$3', '$4', '$5'), ('$1', '$3', '$4', '$6'), ('$2', '$7', '$4', '$5')",
        ids.Next(), ids.Next(), ids.Next(), l_.bob, l_.general, l_.m1, l_.m4, l_.carol));
    t.exec(absl::Substitute(
        "INSERT INTO user_settings (id, user_id, theme) VALUES ('$0', '$1', 'dark')", ids.Next(),
        l_.ada));
    t.commit();
  }

  LegacyImportOptions Options(const testing::TestDatabase& target) {
    LegacyImportOptions o;
    o.source = source_.conninfo();
    o.target = target.conninfo();
    o.batch_size = 3;  // many batches even for this small set
    return o;
  }

  static const TableReport& Table(const std::vector<TableReport>& reports,
                                  const std::string& name) {
    for (const TableReport& t : reports) {
      if (t.table == name) return t;
    }
    static const TableReport kNone;
    ADD_FAILURE() << "no report for " << name;
    return kNone;
  }

  std::vector<std::string> TopLevelIds(const std::string& channel, const std::string& viewer) {
    v1::ListMessagesRequest r;
    r.set_channel_id(channel);
    r.set_viewer_id(viewer);
    r.set_page_size(100);
    v1::ListMessagesResponse out;
    grpc::Status s = messages_->ListMessages(Ctx().get(), r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const v1::Message& m : out.messages()) ids.insert(ids.begin(), m.id());  // oldest first
    return ids;
  }

  testing::TestDatabase source_;
  Legacy l_;
};

TEST_F(LegacyImportTest, ImportsTheOldDatabaseAsTheServiceShowsIt) {
  const std::string source_before = SourceDigest(source_.conninfo());
  absl::StatusOr<std::vector<TableReport>> r = ImportLegacy(Options(db_), nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  std::cout << RenderSummary(*r, false);
  for (const TableReport& t : *r) {
    EXPECT_EQ(t.read, t.imported + t.already_present + t.deduplicated + t.rejected) << t.table;
  }

  // Users: all five, with what did not fit repaired and reported.
  const TableReport& users = Table(*r, "users");
  EXPECT_EQ(users.imported, 5);
  EXPECT_EQ(users.repairs.at("username changed to fit [a-z0-9._-]").count, 1);  // Bob Smith
  EXPECT_EQ(users.repairs.at("username taken: numbered").count, 1);             // 2nd "ada"
  EXPECT_EQ(users.repairs.at("email refused by our rules: placeholder at import.invalid").count, 1);
  EXPECT_EQ(users.repairs.at("email used by another user (ignoring case): placeholder").count, 1);
  EXPECT_EQ(db_.Query(absl::StrCat("SELECT username FROM users WHERE id = '", l_.bob, "'")),
            "bob-smith");
  EXPECT_EQ(db_.Query(absl::StrCat("SELECT username FROM users WHERE id = '", l_.dave, "'")),
            "ada-2");
  EXPECT_EQ(db_.Query(absl::StrCat("SELECT auth0_id FROM users WHERE id = '", l_.ada, "'")),
            absl::StrCat("auth0|ada|", l_.ada));
  EXPECT_EQ(db_.Query(absl::StrCat("SELECT email FROM users WHERE id = '", l_.carol, "'")),
            absl::StrCat("legacy-", absl::AsciiStrToLower(l_.carol), "@import.invalid"));
  EXPECT_NE(db_.Query(absl::StrCat("SELECT deleted_at FROM users WHERE id = '", l_.eve, "'")), "")
      << "soft deletes stay soft deletes";

  // Channels: names fixed and numbered; the second DM of the same people
  // merged into the first.
  const TableReport& channels = Table(*r, "channels");
  EXPECT_EQ(channels.imported, 4);
  EXPECT_EQ(channels.deduplicated, 1);
  EXPECT_EQ(db_.Query(absl::StrCat("SELECT name FROM channels WHERE id = '", l_.general, "'")),
            "general");
  EXPECT_EQ(db_.Query(absl::StrCat("SELECT name FROM channels WHERE id = '", l_.general2, "'")),
            "general-2");
  EXPECT_EQ(db_.Query(absl::StrCat("SELECT name FROM channels WHERE id = '", l_.secret, "'")),
            "secret-plans");
  v1::GetOrCreateDirectChannelRequest dm;
  dm.add_user_ids(l_.bob);
  dm.add_user_ids(l_.ada);
  dm.set_actor_id(l_.ada);
  v1::Channel direct;
  ASSERT_TRUE(channels_->GetOrCreateDirectChannel(Ctx().get(), dm, &direct).ok());
  EXPECT_EQ(direct.id(), l_.dm1) << "the old DM is the one the service finds";
  EXPECT_EQ(TopLevelIds(l_.dm1, l_.ada), (std::vector<std::string>{l_.dm_message}))
      << "the duplicate DM's messages are in the merged one";

  // Memberships: duplicates merged with the strongest role, ended ones out.
  const TableReport& members = Table(*r, "channel_members");
  EXPECT_EQ(members.deduplicated, 1 + 2);  // ada twice in general; the merged DM's two
  EXPECT_EQ(members.rejections.at("membership had ended (deleted_at): not a member").count, 1);
  EXPECT_EQ(db_.Query(absl::StrCat("SELECT role FROM channel_members WHERE channel_id = '",
                                   l_.general, "' AND user_id = '", l_.ada, "'")),
            "owner");

  // Messages: the channel lists in the old order; the reply to a reply
  // hangs from the thread's first message and is counted there.
  const TableReport& messages = Table(*r, "messages");
  EXPECT_EQ(messages.reparented, 1);
  EXPECT_EQ(messages.rejections.at("empty message").count, 1);
  EXPECT_EQ(messages.rejections.at("content over 40,000 characters (or not UTF-8)").count, 1);
  EXPECT_EQ(messages.repairs.at("parent in another channel: imported as a top-level message").count,
            1);
  EXPECT_EQ(TopLevelIds(l_.general, l_.bob),
            (std::vector<std::string>{l_.m1, l_.cross, l_.m4, l_.edited,
                                      absl::AsciiStrToUpper(l_.m6_lower)}))
      << "the deleted m5 is imported as a tombstone and, without replies, not listed";
  EXPECT_NE(db_.Query(absl::StrCat("SELECT deleted_at FROM messages WHERE id = '", l_.m5, "'")),
            "");
  v1::GetMessageRequest get;
  get.set_id(l_.m1);
  get.set_viewer_id(l_.bob);
  v1::Message first;
  ASSERT_TRUE(messages_->GetMessage(Ctx().get(), get, &first).ok());
  EXPECT_EQ(first.reply_count(), 2);
  v1::ListThreadRepliesRequest thread;
  thread.set_thread_parent_id(l_.m1);
  thread.set_viewer_id(l_.bob);
  v1::ListThreadRepliesResponse replies;
  ASSERT_TRUE(messages_->ListThreadReplies(Ctx().get(), thread, &replies).ok());
  ASSERT_EQ(replies.replies_size(), 2);
  EXPECT_EQ(replies.replies(0).id(), l_.m2);
  EXPECT_EQ(replies.replies(1).id(), l_.m3);
  get.set_id(l_.edited);
  v1::Message edited;
  ASSERT_TRUE(messages_->GetMessage(Ctx().get(), get, &edited).ok());
  EXPECT_TRUE(edited.has_edit_time());
  v1::SearchMessagesRequest search;
  search.set_user_id(l_.bob);
  search.set_query("zebra");
  v1::SearchMessagesResponse hits;
  ASSERT_TRUE(messages_->SearchMessages(Ctx().get(), search, &hits).ok());
  ASSERT_EQ(hits.hits_size(), 1);
  EXPECT_EQ(hits.hits(0).message().id(), l_.m4);

  // Reactions deduplicated; files as attachments, misfits reported.
  const TableReport& reactions = Table(*r, "reactions");
  EXPECT_EQ(reactions.imported, 2);
  EXPECT_EQ(reactions.deduplicated, 1);
  EXPECT_EQ(reactions.rejections.at("message not imported").count, 1);
  const TableReport& files = Table(*r, "files");
  EXPECT_EQ(files.imported, 2);
  EXPECT_EQ(files.rejections.at("orphan file: attached to no message").count, 1);
  EXPECT_EQ(files.rejections.at("deleted file (attachments have no soft delete)").count, 1);
  EXPECT_EQ(files.repairs.at("type is not a media type: application/octet-stream").count, 1);
  EXPECT_EQ(files.repairs.at("no checksum in the old schema: sha256 empty").count, 2);
  EXPECT_EQ(db_.Query(absl::StrCat("SELECT count(*) FROM attachments WHERE message_id = '", l_.m4,
                                   "' AND sha256 IS NULL")),
            "2");

  // Status: the newest row; read markers: the newest, members only.
  EXPECT_EQ(Table(*r, "user_status").deduplicated, 1);
  EXPECT_EQ(
      db_.Query(absl::StrCat("SELECT status_text FROM user_status WHERE user_id = '", l_.ada, "'")),
      "newest");
  const TableReport& reads = Table(*r, "message_reads");
  EXPECT_EQ(reads.imported, 1);
  EXPECT_EQ(reads.rejections.at("reader is not a member of the channel").count, 1);
  EXPECT_EQ(db_.Query(absl::StrCat("SELECT last_read_message_id FROM channel_members WHERE "
                                   "channel_id = '",
                                   l_.general, "' AND user_id = '", l_.bob, "'")),
            l_.m4);
  EXPECT_EQ(Table(*r, "user_settings").rejected, 1);

  // No events for imported history, and the source untouched.
  EXPECT_EQ(db_.Query("SELECT count(*) FROM events"), "0");
  EXPECT_EQ(SourceDigest(source_.conninfo()), source_before);

  // Again: nothing copied twice.
  const std::string after_first = TargetDigest(db_);
  absl::StatusOr<std::vector<TableReport>> again = ImportLegacy(Options(db_), nullptr);
  ASSERT_TRUE(again.ok()) << again.status();
  for (const TableReport& t : *again) EXPECT_EQ(t.imported, 0) << t.table;
  EXPECT_EQ(Table(*again, "users").already_present, 5);
  EXPECT_EQ(Table(*again, "messages").read, 0) << "resumed after the last message";
  EXPECT_EQ(Table(*again, "messages").read_by_earlier_runs, messages.read);
  EXPECT_EQ(TargetDigest(db_), after_first);
}

TEST_F(LegacyImportTest, AnInterruptedRunResumesToTheSameResult) {
  // The reference: one uninterrupted run into this test's database.
  ASSERT_TRUE(ImportLegacy(Options(db_), nullptr).ok());
  const std::string reference = TargetDigest(db_);

  testing::TestDatabase other;
  Config config = other.config();
  testing::TestServer migrated(config);  // migrates the second database
  ASSERT_TRUE(migrated.WaitForHealth("", grpc::health::v1::HealthCheckResponse::SERVING,
                                     absl::Seconds(20)));
  for (int stop : {4, 10, 14}) {  // in channels, in messages, in reactions
    LegacyImportOptions o = Options(other);
    o.stop_after_batches = stop;
    absl::StatusOr<std::vector<TableReport>> r = ImportLegacy(o, nullptr);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted) << r.status();
  }
  absl::StatusOr<std::vector<TableReport>> rest = ImportLegacy(Options(other), nullptr);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_GT(Table(*rest, "messages").read_by_earlier_runs, 0);
  EXPECT_EQ(TargetDigest(other), reference);
}

TEST_F(LegacyImportTest, ADryRunReportsAndWritesNothing) {
  LegacyImportOptions o = Options(db_);
  o.dry_run = true;
  absl::StatusOr<std::vector<TableReport>> r = ImportLegacy(o, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Table(*r, "users").imported, 5);
  EXPECT_EQ(Table(*r, "messages").reparented, 1);
  EXPECT_EQ(db_.Query("SELECT count(*) FROM users"), "0");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM legacy_import_progress"), "0");
  EXPECT_NE(RenderSummary(*r, true).find("dry run: nothing was written"), std::string::npos);
}

TEST_F(LegacyImportTest, RefusesASourceThatIsNotTheOldSchemaAndAnUnmigratedTarget) {
  LegacyImportOptions o = Options(db_);
  o.source = db_.conninfo();  // this service's own database
  absl::StatusOr<std::vector<TableReport>> r = ImportLegacy(o, nullptr);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("no table files"), std::string::npos) << r.status();

  testing::TestDatabase empty;
  r = ImportLegacy(Options(empty), nullptr);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("chatgenius-db setup"), std::string::npos) << r.status();
  EXPECT_EQ(empty.Query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0");

  o = Options(db_);
  o.batch_size = 0;
  EXPECT_EQ(ImportLegacy(o, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chatgenius
