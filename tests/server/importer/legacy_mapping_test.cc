// The legacy import's pure parts: value mapping, the summary, the bar.
#include "server/importer/legacy_mapping.h"

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/common/validation.h"
#include "server/importer/import_report.h"
#include "server/importer/progress_bar.h"

namespace chatgenius {
namespace {

TEST(LegacyMappingTest, NamesBecomeValidOnes) {
  EXPECT_EQ(NameFrom("Ada Lovelace", true, "x"), "ada-lovelace");
  EXPECT_EQ(NameFrom("  #General!! ", false, "x"), "general");
  EXPECT_EQ(NameFrom("j.r.r. tolkien", true, "x"), "j.r.r.-tolkien");
  EXPECT_EQ(NameFrom("j.r.r. tolkien", false, "x"), "j-r-r-tolkien");
  EXPECT_EQ(NameFrom("_under", false, "x"), "under");
  EXPECT_EQ(NameFrom("日本語", true, "user-abc"), "user-abc");
  const std::string long_name = NameFrom(std::string(200, 'a'), true, "x");
  EXPECT_EQ(long_name.size(), 72u);
  EXPECT_EQ(WithSuffix(long_name, 12), long_name + "-12");
  EXPECT_EQ(WithSuffix(std::string(80, 'b'), 2).size(), 80u);
  for (const char* legacy : {"Ada Lovelace", "--x--", "a.b_c-d", "ÅSA", "q"}) {
    EXPECT_TRUE(ValidateUsername("u", WithSuffix(NameFrom(legacy, true, "user-1"), 3)).ok())
        << legacy;
    EXPECT_TRUE(ValidateChannelName("c", NameFrom(legacy, false, "channel-1")).ok()) << legacy;
  }
}

TEST(LegacyMappingTest, IdsRolesAndDirectKeys) {
  EXPECT_EQ(CanonicalId("01hf3z9q7kx0v4n8m2b6c5d1ea"), "01HF3Z9Q7KX0V4N8M2B6C5D1EA");
  EXPECT_FALSE(CanonicalId("not-a-ulid").has_value());
  EXPECT_FALSE(CanonicalId("").has_value());
  EXPECT_GT(RoleRank("owner"), RoleRank("admin"));
  EXPECT_GT(RoleRank("admin"), RoleRank("member"));
  EXPECT_EQ(RoleRank("guest"), 0);
  EXPECT_EQ(DmKey({"B", "A", "B"}), "A,B");
  EXPECT_TRUE(ValidateEmail("e", PlaceholderEmail("01HF3Z9Q7KX0V4N8M2B6C5D1EA")).ok());
  EXPECT_EQ(FallbackName("user", "01HF3Z9Q7KX0V4N8M2B6C5D1EA"), "user-m2b6c5d1ea");
  EXPECT_TRUE(ValidateUsername("u", FallbackName("user", "01HF3Z9Q7KX0V4N8M2B6C5D1EA")).ok());
  EXPECT_TRUE(ValidateChannelName("c", FallbackName("channel", "01HF3Z9Q7KX0V4N8M2B6C5D1EA")).ok());
  EXPECT_EQ(TruncateUtf8("héllo", 2), "hé");
  EXPECT_EQ(TruncateUtf8("ab", 5), "ab");
}

TEST(ImportReportTest, TheSummaryCountsEveryReasonWithExamples) {
  TableReport t{"files"};
  t.read = 8;
  t.imported = 6;
  for (int i = 0; i < 7; ++i) t.Repaired({"no size: 0"}, "F" + std::to_string(i));
  t.Reject("orphan file: attached to no message", "F9");
  t.Reject("deleted file", "F10", 1);
  EXPECT_EQ(t.repaired, 7);
  EXPECT_EQ(t.repairs["no size: 0"].examples.size(), static_cast<size_t>(kReasonExamples));
  const std::string text = RenderSummary({t}, false);
  EXPECT_NE(text.find("files"), std::string::npos);
  EXPECT_NE(text.find("files repaired: 7 x no size: 0 (e.g. F0, F1, F2, F3, F4)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("files rejected: 1 x orphan file"), std::string::npos) << text;
  const std::string json = SummaryJson({t}, true);
  EXPECT_NE(json.find("\"dryRun\":true"), std::string::npos) << json;
  EXPECT_NE(json.find("\"rejected\":2"), std::string::npos) << json;
}

TEST(ProgressBarTest, ShowsRowsRateAndEta) {
  EXPECT_EQ(ProgressBar::Line("messages", 500000, 1000000, absl::Seconds(10)),
            "messages       [##########..........]     500,000 / 1,000,000      50,000 rows/s  "
            "ETA 0:10");
  EXPECT_EQ(ProgressBar::Line("users", 10, 10, absl::Seconds(75)),
            "users          [####################]          10 / 10                  0 rows/s  "
            "took 1:15");
  // A table that grew while being read never shows more than 100%.
  EXPECT_NE(ProgressBar::Line("reactions", 12, 10, absl::Seconds(1)).find("12 / 12"),
            std::string::npos);
}

}  // namespace
}  // namespace chatgenius
