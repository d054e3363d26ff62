// EventStore reads stop at a byte budget: a replay or the hub's catch-up
// never holds more than its budget plus one event, and always progresses.
#include "server/store/event_store.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/db/transaction.h"
#include "server/migrate/migrator.h"
#include "tests/support/test_database.h"

namespace chatgenius {
namespace {

class EventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::vector<MigrationFile>> files = BuiltinMigrations();
    ASSERT_TRUE(files.ok());
    ASSERT_TRUE(Migrator(db_.conninfo(), &pool_, *files).Apply().ok());
    // Five events of ~100 kB (a channel id padded out: any valid Event
    // JSON will do), then five small ones.
    db_.Query(
        "INSERT INTO events (kind, payload) SELECT 1, json_build_object('channelId', "
        "repeat('x', 100000)) FROM generate_series(1, 5);"
        "INSERT INTO events (kind, payload) SELECT 1, json_build_object('channelId', 'small') "
        "FROM generate_series(1, 5);"
        // Positions as the sequencer would stamp them (no server runs here).
        "INSERT INTO event_positions (seq, event_id) SELECT id, id FROM events");
  }

  testing::TestDatabase db_;
  ConnectionPool pool_{PoolSettings{db_.conninfo()}};
  EventStore store_{&pool_};
};

TEST_F(EventStoreTest, ABatchEndsWithTheEventThatReachesTheByteBudget) {
  bool cut = false;
  absl::StatusOr<std::vector<StoredEvent>> events;
  absl::Status s =
      RunReadOnly(pool_, absl::Now() + absl::Seconds(10), [&](pqxx::transaction_base& t) {
        events = EventStore::ReadIn(t, 0, 500, 250000, &cut);
        return events.status();
      });
  ASSERT_TRUE(s.ok()) << s;
  // 0, 100k and 200k bytes come before the first three: all under 250k.
  EXPECT_EQ(events->size(), 3u) << "at most the budget plus one event";
  EXPECT_TRUE(cut) << "the budget, not the row limit, ended the batch";
  EXPECT_EQ((*events)[0].event.channel_id().size(), 100000u);
}

TEST_F(EventStoreTest, TheFirstEventComesWhateverItsSizeAndSmallOnesFillABatch) {
  absl::StatusOr<std::vector<StoredEvent>> one =
      store_.Read(0, 500, 1, absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->size(), 1u) << "a 100 kB event over a 1-byte budget still comes: progress";
  absl::StatusOr<std::vector<StoredEvent>> rest =
      store_.Read((*one)[0].event.id(), 500, 8 << 20, absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(rest->size(), 9u) << "under the budget, the row limit and the log's end decide";
  bool cut = true;
  absl::Status s =
      RunReadOnly(pool_, absl::Now() + absl::Seconds(10), [&](pqxx::transaction_base& t) {
        return EventStore::ReadIn(t, (*one)[0].event.id(), 3, 8 << 20, &cut).status();
      });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_FALSE(cut) << "a batch ended by the row limit is not a budget cut";
}

TEST_F(EventStoreTest, RetentionDeletesInBatchesWithPositionsAndNeverAnUnstampedEvent) {
  // Two more events the sequencer has not stamped yet (a round may be
  // about to): retention must leave them, however old.
  db_.Query(
      "INSERT INTO events (kind, payload, created_at) SELECT 1, "
      "json_build_object('channelId', 'late'), now() - interval '1 day' "
      "FROM generate_series(1, 2)");
  const int64_t highest = std::stoll(db_.Query("SELECT max(seq) FROM event_positions"));
  std::vector<int64_t> batches;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<int64_t> n =
        store_.Prune(absl::ZeroDuration(), 4, absl::Now() + absl::Seconds(10));
    ASSERT_TRUE(n.ok()) << n.status();
    batches.push_back(*n);
    if (*n < 4) break;
  }
  EXPECT_EQ(batches, (std::vector<int64_t>{4, 4, 2})) << "10 stamped events, 4 at a time";
  EXPECT_EQ(db_.Query("SELECT count(*) FROM events"), "2") << "the unstamped ones stay";
  EXPECT_EQ(db_.Query("SELECT count(*) FROM event_positions"), "0")
      << "positions go with their events (no foreign key cascades them now)";
  EXPECT_EQ(db_.Query("SELECT pruned_through FROM event_retention"), std::to_string(highest));
  EXPECT_EQ(db_.Query("SELECT last_seq FROM event_sequencer"), std::to_string(highest))
      << "positions continue past what was deleted";
}

}  // namespace
}  // namespace chatgenius
