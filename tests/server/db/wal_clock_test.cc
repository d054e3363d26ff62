#include "server/db/wal_clock.h"

#include "gtest/gtest.h"

namespace chatgenius {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000000);

TEST(WalClockTest, AReplicaIsFreshAsOfTheNewestSampleItHasReplayed) {
  WalClock clock(absl::Seconds(10));
  EXPECT_EQ(clock.FreshAsOf(100), absl::InfinitePast()) << "no sample: no bound";
  clock.Record(kT0, 100);
  clock.Record(kT0 + absl::Seconds(1), 200);
  clock.Record(kT0 + absl::Seconds(2), 300);
  EXPECT_EQ(clock.FreshAsOf(99), absl::InfinitePast()) << "behind every sample";
  EXPECT_EQ(clock.FreshAsOf(100), kT0);
  EXPECT_EQ(clock.FreshAsOf(250), kT0 + absl::Seconds(1)) << "past 200, not yet 300";
  EXPECT_EQ(clock.FreshAsOf(300), kT0 + absl::Seconds(2));
  EXPECT_EQ(clock.FreshAsOf(1000), kT0 + absl::Seconds(2));
  EXPECT_EQ(clock.newest(), 300u);
}

TEST(WalClockTest, AnIdlePrimaryKeepsAnUpToDateReplicaFresh) {
  WalClock clock(absl::Seconds(10));
  clock.Record(kT0, 500);
  // Nothing written for a minute: the same position, sampled again.
  clock.Record(kT0 + absl::Seconds(60), 500);
  EXPECT_EQ(clock.FreshAsOf(500), kT0 + absl::Seconds(60));
}

TEST(WalClockTest, SamplesOlderThanTheWindowAreForgottenButOneStaysToBoundTheLaggard) {
  WalClock clock(absl::Seconds(5));
  for (int i = 0; i <= 20; ++i) clock.Record(kT0 + absl::Seconds(i), 100 * (i + 1));
  // Window 5 s at t=20: samples from t=15 on, plus the one just before.
  // (t=14 wrote up to 1500).
  EXPECT_EQ(clock.FreshAsOf(1599), kT0 + absl::Seconds(14)) << "still bounded by the kept one";
  EXPECT_EQ(clock.FreshAsOf(1600), kT0 + absl::Seconds(15));
  EXPECT_EQ(clock.FreshAsOf(1499), absl::InfinitePast()) << "forgotten: older than any bound";
}

}  // namespace
}  // namespace chatgenius
