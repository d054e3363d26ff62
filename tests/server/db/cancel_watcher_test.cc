// CancelWatcher against a real PostgreSQL owned by the test, which the test
// freezes (SIGSTOP of the whole cluster) to play a hung database host: a
// caller's work ends within deadline + cut-off whatever the database does,
// a cancel nobody answers delays no other caller, and cancel requests are
// rate-limited. Time bounds are "does not hang" bounds, several times what
// the mechanism needs.
#include "server/db/cancel_watcher.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/db/connection_pool.h"
#include "server/db/transaction.h"
#include "tests/support/private_postgres.h"

namespace chatgenius {
namespace {

class CancelWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(pg_.port(), 0);
    settings_.conninfo = absl::StrCat("host=127.0.0.1 port=", pg_.port(),
                                      " dbname=postgres user=postgres sslmode=disable");
    settings_.max_size = 4;
    CancelSettings fast;
    fast.cut_off_after = absl::Milliseconds(300);
    CancelWatcher::Global().Configure(fast);
  }
  void TearDown() override {
    pg_.Thaw();  // never leave a frozen cluster behind a failed assertion
    CancelWatcher::Global().Configure(CancelSettings());
  }

  // Sleep runs pg_sleep(seconds) within `limits` and returns its status.
  static absl::Status Sleep(ConnectionPool& pool, const CallLimits& limits, int seconds) {
    return RunReadOnly(pool, limits, [&](pqxx::transaction_base& txn) {
      txn.exec(absl::StrCat("SELECT pg_sleep(", seconds, ")"));
      return absl::OkStatus();
    });
  }
  static absl::Status Select1(ConnectionPool& pool, absl::Duration deadline) {
    return RunReadOnly(pool, absl::Now() + deadline, [&](pqxx::transaction_base& txn) {
      txn.exec("SELECT 1");
      return absl::OkStatus();
    });
  }

  testing::PrivatePostgres pg_;
  PoolSettings settings_;
};

TEST_F(CancelWatcherTest, CallerCancelStopsTheStatementAndKeepsTheConnection) {
  ConnectionPool pool(settings_);
  ASSERT_TRUE(Select1(pool, absl::Seconds(5)).ok());
  const CancelStatistics before = CancelWatcher::Global().Stats();
  std::atomic<bool> cancelled{false};
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(200));
    cancelled = true;
  });
  const absl::Time start = absl::Now();
  absl::Status s = Sleep(
      pool, CallLimits(absl::Now() + absl::Seconds(60), [&] { return cancelled.load(); }), 30);
  const absl::Duration took = absl::Now() - start;
  canceller.join();
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  EXPECT_LT(took, absl::Seconds(5)) << "pg_sleep(30) stopped by the cancel";
  const CancelStatistics after = CancelWatcher::Global().Stats();
  EXPECT_EQ(after.cancels_sent - before.cancels_sent, 1) << "one cancel request, delivered";
  EXPECT_EQ(after.cut_offs, before.cut_offs) << "an answered cancel needs no cut-off";
  EXPECT_EQ(pool.Stats().broken_total, 0) << "the cancelled connection is kept";
  EXPECT_TRUE(Select1(pool, absl::Seconds(5)).ok());
}

TEST_F(CancelWatcherTest, FrozenDatabaseCallsEndAtDeadlinePlusCutOffAndRecover) {
  ConnectionPool pool(settings_);
  // Two warm connections, so the calls below reach a session, not connect().
  {
    std::vector<std::thread> warm;
    for (int i = 0; i < 2; ++i) {
      warm.emplace_back([&] { EXPECT_TRUE(Sleep(pool, absl::Now() + absl::Seconds(5), 0).ok()); });
    }
    for (std::thread& t : warm) t.join();
  }
  ASSERT_EQ(pool.Stats().idle, 2);
  const CancelStatistics before = CancelWatcher::Global().Stats();
  ASSERT_TRUE(pg_.Freeze());

  std::vector<absl::Status> results(2);
  std::vector<absl::Duration> took(2);
  std::vector<std::thread> callers;
  for (int i = 0; i < 2; ++i) {
    callers.emplace_back([&, i] {
      const absl::Time start = absl::Now();
      results[i] = Select1(pool, absl::Milliseconds(500));
      took[i] = absl::Now() - start;
    });
  }
  // While the two cancels hang on the frozen server, registering and
  // unregistering other callers is not delayed (cancels run outside the
  // watcher's lock).
  absl::SleepFor(absl::Milliseconds(700));
  EXPECT_GE(CancelWatcher::Global().Stats().in_flight, 1) << "a cancel is stuck in PQcancel";
  const absl::Time watch_start = absl::Now();
  for (int i = 0; i < 100; ++i) {
    CancelWatcher::Registration r = CancelWatcher::Global().Watch(
        std::make_shared<CancelTarget>(), nullptr, absl::Now() + absl::Seconds(60));
  }
  EXPECT_LT(absl::Now() - watch_start, absl::Milliseconds(500))
      << "Watch/Unregister do not wait for a stuck cancel";
  for (std::thread& t : callers) t.join();

  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(results[i].code(), absl::StatusCode::kDeadlineExceeded) << results[i];
    // 500 ms deadline + 300 ms cut-off + a poll; 3 s is "did not hang".
    EXPECT_LT(took[i], absl::Seconds(3)) << "caller " << i << " ended by the cut-off";
  }
  const CancelStatistics frozen = CancelWatcher::Global().Stats();
  EXPECT_EQ(frozen.cut_offs - before.cut_offs, 2) << "both sessions were cut";
  EXPECT_EQ(pool.Stats().broken_total, 2) << "cut connections are discarded, not lent again";
  EXPECT_EQ(pool.Stats().size, 0);

  ASSERT_TRUE(pg_.Thaw());
  absl::Status again = absl::UnknownError("not tried");
  for (absl::Time until = absl::Now() + absl::Seconds(15); !again.ok() && absl::Now() < until;) {
    again = Select1(pool, absl::Seconds(2));
    if (!again.ok()) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(again.ok()) << "the pool serves again after the thaw: " << again;
  int in_flight = -1;
  for (absl::Time until = absl::Now() + absl::Seconds(10); absl::Now() < until;) {
    in_flight = CancelWatcher::Global().Stats().in_flight;
    if (in_flight == 0) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(in_flight, 0) << "the stuck cancels finish once the server answers";
}

TEST_F(CancelWatcherTest, CancelRequestsAreRateLimitedAndTheCutOffStillEndsTheCalls) {
  CancelSettings slow;
  slow.cut_off_after = absl::Milliseconds(400);
  slow.cancels_per_second = 0.001;  // effectively no refill during the test
  slow.cancel_burst = 1;
  CancelWatcher::Global().Configure(slow);
  ConnectionPool pool(settings_);
  const CancelStatistics before = CancelWatcher::Global().Stats();

  std::vector<absl::Status> results(3);
  std::vector<absl::Duration> took(3);
  std::vector<std::thread> callers;
  for (int i = 0; i < 3; ++i) {
    callers.emplace_back([&, i] {
      const absl::Time start = absl::Now();
      results[i] = Sleep(pool, absl::Now() + absl::Milliseconds(300), 30);
      took[i] = absl::Now() - start;
    });
  }
  for (std::thread& t : callers) t.join();
  const CancelStatistics after = CancelWatcher::Global().Stats();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(results[i].code(), absl::StatusCode::kDeadlineExceeded) << results[i];
    EXPECT_LT(took[i], absl::Seconds(5)) << "pg_sleep(30) ended (cancel or cut-off)";
  }
  EXPECT_EQ(after.cancels_sent + after.cancels_failed - before.cancels_sent - before.cancels_failed,
            1)
      << "a burst of one: one request for three expired callers";
  EXPECT_GT(after.cancels_deferred, before.cancels_deferred) << "the others found no token";
  EXPECT_EQ(after.cut_offs - before.cut_offs, 2) << "the two without a cancel were cut off";
}

// A pool given its own watcher (as the server gives its own) registers
// there, not with the process-wide one.
TEST_F(CancelWatcherTest, APoolUsesTheWatcherItIsGiven) {
  CancelSettings fast;
  fast.cut_off_after = absl::Milliseconds(300);
  CancelWatcher own(fast);
  settings_.cancel_watcher = &own;
  ConnectionPool pool(settings_);
  EXPECT_EQ(&pool.cancel_watcher(), &own);
  const CancelStatistics global_before = CancelWatcher::Global().Stats();
  absl::Status s = Sleep(pool, absl::Now() + absl::Milliseconds(300), 30);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_EQ(own.Stats().cancels_sent, 1) << "the pool's own watcher cancelled pg_sleep(30)";
  EXPECT_EQ(CancelWatcher::Global().Stats().cancels_sent, global_before.cancels_sent)
      << "the process-wide watcher was not involved";
}

// Destroying a watcher while a cancel hangs in PQcancel (frozen server)
// neither waits for it nor leaves it reporting into freed memory: the
// request keeps the watcher's state alive until it returns (after the thaw).
TEST_F(CancelWatcherTest, AWatcherIsDestroyedWhileACancelIsStuck) {
  {
    CancelSettings fast;
    fast.cut_off_after = absl::Milliseconds(300);
    auto own = std::make_unique<CancelWatcher>(fast);
    settings_.cancel_watcher = own.get();
    auto pool = std::make_unique<ConnectionPool>(settings_);
    ASSERT_TRUE(Select1(*pool, absl::Seconds(5)).ok());
    ASSERT_TRUE(pg_.Freeze());
    absl::Status s = Select1(*pool, absl::Milliseconds(300));
    EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
    EXPECT_EQ(own->Stats().cut_offs, 1) << "the frozen session was cut";
    EXPECT_EQ(own->Stats().in_flight, 1) << "its cancel is stuck in PQcancel";
    pool.reset();
    const absl::Time start = absl::Now();
    own.reset();
    EXPECT_LT(absl::Now() - start, absl::Seconds(1)) << "destruction does not wait for the cancel";
  }
  ASSERT_TRUE(pg_.Thaw());
  // The stuck request now returns and reports into the state it shares
  // (ASan/TSan runs would flag a use after free here).
  absl::SleepFor(absl::Milliseconds(500));
}

}  // namespace
}  // namespace chatgenius
