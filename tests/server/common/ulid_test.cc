#include "server/common/ulid.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace chatgenius {
namespace {

TEST(UlidTest, NewUlidIsCanonical) {
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewUlid();
    ASSERT_EQ(id.size(), 26u) << id;
    EXPECT_TRUE(IsValidUlid(id)) << "generated id must validate: " << id;
  }
}

TEST(UlidTest, EncodesTimeInTheFirstTenCharacters) {
  absl::Time t = absl::FromUnixMillis(1469918176385);  // the spec's example time
  std::string id = NewUlid(t + absl::Hours(24 * 365 * 20));
  EXPECT_EQ(absl::ToUnixMillis(UlidTime(id)), absl::ToUnixMillis(t + absl::Hours(24 * 365 * 20)))
      << "time must round-trip through the id " << id;
  // The spec's example: 1469918176385 ms encodes as 01ARYZ6S41.
  EXPECT_EQ(absl::ToUnixMillis(UlidTime("01ARYZ6S41TSV4RRFFQ69G5FAV")), 1469918176385);
}

TEST(UlidTest, IdsFromOneProcessStrictlyIncrease) {
  // Same millisecond for all: the random part must count up.
  absl::Time now = absl::Now() + absl::Hours(1);
  std::string previous = NewUlid(now);
  for (int i = 0; i < 10000; ++i) {
    std::string next = NewUlid(now);
    ASSERT_LT(previous, next) << "ids must sort in creation order";
    previous = next;
  }
}

TEST(UlidTest, UniqueAcrossThreads) {
  absl::Mutex mu;
  std::set<std::string> ids;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2500; ++i) {
        std::string id = NewUlid();
        absl::MutexLock lock(&mu);
        ids.insert(id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ids.size(), 10000u) << "every generated id must be distinct";
}

TEST(UlidTest, RejectsNonCanonicalText) {
  EXPECT_FALSE(IsValidUlid("")) << "empty";
  EXPECT_FALSE(IsValidUlid("01ARYZ6S41TSV4RRFFQ69G5FA")) << "25 chars";
  EXPECT_FALSE(IsValidUlid("01ARYZ6S41TSV4RRFFQ69G5FAVX")) << "27 chars";
  EXPECT_FALSE(IsValidUlid("01aryz6s41tsv4rrffq69g5fav")) << "lower case";
  EXPECT_FALSE(IsValidUlid("01ARYZ6S41TSV4RRFFQ69G5FAI")) << "I is not Crockford";
  EXPECT_FALSE(IsValidUlid("01ARYZ6S41TSV4RRFFQ69G5FAU")) << "U is not Crockford";
  EXPECT_FALSE(IsValidUlid("81ARYZ6S41TSV4RRFFQ69G5FAV")) << "time overflow (first char > 7)";
  EXPECT_FALSE(IsValidUlid("01ARYZ6S41TSV4RRFFQ69G5F'V")) << "quote";
  EXPECT_FALSE(IsValidUlid(std::string("01ARYZ6S41TSV4RRFFQ69G5F\0V", 26))) << "NUL";
  EXPECT_TRUE(IsValidUlid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ")) << "maximum ULID";
}

}  // namespace
}  // namespace chatgenius
