// The statements the event hub and the sequencer run hundreds of times a
// second on their dedicated sessions are planned once (generic plans, no
// JIT: EventStore::PrepareReaderOn / PrepareSequencerOn). On a populated log
// (300k events) their generic plans must stay index probes over the few
// newest rows: EXPLAIN (ANALYZE, BUFFERS) of the very prepared statements.
// Also when they were planned on an empty log that grew afterwards without
// an ANALYZE (a fresh deployment before autovacuum comes by): a plan made
// for a one-page table must not scan the table once per event.
#include <iostream>
#include <optional>
#include <string>

#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/migrate/migrator.h"
#include "server/store/event_store.h"
#include "tests/support/query_plan.h"
#include "tests/support/test_database.h"

namespace chatgenius {
namespace {

constexpr int kEvents = 300000;
constexpr int kUnstamped = 50;

class EventPlansTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    db_ = new testing::TestDatabase();
    absl::StatusOr<std::vector<MigrationFile>> files = BuiltinMigrations();
    ASSERT_TRUE(files.ok());
    ASSERT_TRUE(Migrator(db_->conninfo(), nullptr, *files).Apply().ok());
    pqxx::connection c(db_->conninfo());
    pqxx::work t(c);
    // 300k events, all but the newest 50 with a position.
    t.exec(
        absl::StrCat("INSERT INTO events (kind, channel_id, payload) SELECT 1, NULL, "
                     "json_build_object('kind', 'EVENT_KIND_CHANNEL_UPDATED', 'channel', "
                     "json_build_object('description', 'event ' || n)) FROM generate_series(1, ",
                     kEvents, ") n"));
    t.exec(absl::StrCat(
        "INSERT INTO event_positions (seq, event_id) SELECT id, id FROM events WHERE id <= ",
        kEvents - kUnstamped));
    t.exec(absl::StrCat("UPDATE event_sequencer SET stamped_below = ", kEvents - kUnstamped - 10));
    t.commit();
    pqxx::nontransaction(c).exec("VACUUM ANALYZE");
  }
  static void TearDownTestSuite() { delete db_; }

  // Analyze runs EXPLAIN (ANALYZE, BUFFERS) EXECUTE statement(args) on
  // `conn` in a transaction it rolls back, and returns the plan.
  static std::string Analyze(pqxx::connection& conn, const std::string& statement,
                             const std::string& args) {
    conn.prepare_now(statement);  // libpqxx prepares on first use
    pqxx::work t(conn);
    std::string plan;
    for (const pqxx::row& r :
         t.exec(absl::StrCat("EXPLAIN (ANALYZE, BUFFERS) EXECUTE ", statement, "(", args, ")"))) {
      absl::StrAppend(&plan, r[0].as<std::string>(), "\n");
    }
    t.abort();
    return plan;
  }

  static void ExpectProbe(const std::string& plan, int max_buffers) {
    EXPECT_FALSE(absl::StrContains(plan, "Seq Scan on events")) << plan;
    EXPECT_FALSE(absl::StrContains(plan, "JIT:")) << "compiled at every execution:\n" << plan;
    const int buffers = testing::TopNodeBuffers(plan);
    EXPECT_GE(buffers, 0) << plan;
    EXPECT_LT(buffers, max_buffers) << plan;
    std::cout << "buffers: " << buffers << "\n";
  }

  static testing::TestDatabase* db_;
};

testing::TestDatabase* EventPlansTest::db_ = nullptr;

TEST_F(EventPlansTest, TheHubReadsTheNewestEventsWithAGenericIndexPlan) {
  pqxx::connection conn(db_->conninfo());
  EventStore::PrepareReaderOn(conn);
  EXPECT_EQ(pqxx::nontransaction(conn).exec1("SHOW plan_cache_mode")[0].as<std::string>(),
            "force_generic_plan");
  const int64_t after = kEvents - kUnstamped - 5;
  const std::string plan = Analyze(conn, "event_read", absl::StrCat(after, ", 1000, 8388608"));
  EXPECT_TRUE(absl::StrContains(plan, "rows=5 ")) << "the 5 newest positions:\n" << plan;
  ExpectProbe(plan, 100);
  // And the statement still reads them, in order.
  pqxx::nontransaction t(conn);
  absl::StatusOr<std::vector<StoredEvent>> events = EventStore::ReadIn(t, after, 1000, 8388608);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 5u);
  for (size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].event.id(), after + 1 + static_cast<int64_t>(i));
    EXPECT_EQ((*events)[i].event.channel().description(), absl::StrCat("event ", after + 1 + i));
  }
}

TEST_F(EventPlansTest, TheSequencerStampsTheNewestEventsWithAGenericIndexPlan) {
  pqxx::connection conn(db_->conninfo());
  EventStore::PrepareSequencerOn(conn);
  EXPECT_EQ(pqxx::nontransaction(conn).exec1("SHOW jit")[0].as<std::string>(), "off");
  // A round over [W, H]: the last 60 ids, 50 of them unstamped.
  const std::string plan =
      Analyze(conn, "seq_stamp",
              absl::StrCat(kEvents - kUnstamped - 10, ", 5000, true, ", kEvents, ", NULL"));
  EXPECT_TRUE(absl::StrContains(plan, "Insert on event_positions")) << plan;
  ExpectProbe(plan, 2000);
}

// Planned while the log was nearly empty, as at a fresh deployment: the
// cached generic plans are kept until an ANALYZE invalidates them, so they
// must not be the scans that suit a one-page table. (They were: the stamping
// round seq-scanned event_positions once per candidate event, O(events x
// positions), and delivery latency grew run by run until autovacuum came.)
TEST(EventPlansGrowthTest, PlansMadeOnAnEmptyLogStayIndexProbesAsItGrows) {
  testing::TestDatabase db;
  absl::StatusOr<std::vector<MigrationFile>> files = BuiltinMigrations();
  ASSERT_TRUE(files.ok());
  ASSERT_TRUE(Migrator(db.conninfo(), nullptr, *files).Apply().ok());
  db.Query(
      "ALTER TABLE events SET (autovacuum_enabled = false); "
      "ALTER TABLE event_positions SET (autovacuum_enabled = false)");
  // Statistics of the empty log (bench/dataset.sql's closing ANALYZE did
  // this), then the first few hundred events: the state the sequencer's
  // first plans were made in on a fresh bench database.
  db.Query("ANALYZE events; ANALYZE event_positions");
  db.Query(
      "INSERT INTO events (kind, channel_id, payload) SELECT 1, NULL, '{}'::jsonb "
      "FROM generate_series(1, 300); "
      "INSERT INTO event_positions (seq, event_id) SELECT id, id FROM events");
  pqxx::connection sequencer(db.conninfo());
  EventStore::PrepareSequencerOn(sequencer);
  pqxx::connection reader(db.conninfo());
  EventStore::PrepareReaderOn(reader);
  {  // First executions make the generic plans.
    pqxx::work t(sequencer);
    t.exec_prepared("seq_stamp", 1, 5000, true, 0, std::optional<int64_t>());
    t.abort();
    pqxx::nontransaction r(reader);
    r.exec_prepared("event_read", 0, 1000, 8388608);
  }
  constexpr int kGrown = 20000;
  db.Query(
      absl::StrCat("INSERT INTO events (kind, channel_id, payload) SELECT 1, NULL, "
                   "'{}'::jsonb FROM generate_series(301, ",
                   kGrown, ")"));
  db.Query(
      absl::StrCat("INSERT INTO event_positions (seq, event_id) SELECT id, id FROM events WHERE id "
                   "> 300 AND id <= ",
                   kGrown - kUnstamped));
  const std::string stamp = EventPlansTest::Analyze(
      sequencer, "seq_stamp",
      absl::StrCat(kGrown - kUnstamped - 10, ", 5000, true, ", kGrown, ", NULL"));
  EXPECT_FALSE(absl::StrContains(stamp, "Seq Scan on event_positions")) << stamp;
  EXPECT_FALSE(absl::StrContains(stamp, "Seq Scan on events")) << stamp;
  EXPECT_LT(testing::TopNodeBuffers(stamp), 2000) << stamp;
  const std::string read = EventPlansTest::Analyze(
      reader, "event_read", absl::StrCat(kGrown - kUnstamped - 5, ", 1000, 8388608"));
  EXPECT_FALSE(absl::StrContains(read, "Seq Scan")) << read;
  EXPECT_LT(testing::TopNodeBuffers(read), 200) << read;
}

}  // namespace
}  // namespace chatgenius
