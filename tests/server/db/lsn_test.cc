#include "server/db/lsn.h"

#include "gtest/gtest.h"

namespace chatgenius {
namespace {

TEST(LsnTest, ReadsAndWritesPostgresTextForm) {
  absl::StatusOr<Lsn> lsn = ParseLsn("16/B374D848");
  ASSERT_TRUE(lsn.ok()) << lsn.status();
  EXPECT_EQ(*lsn, (Lsn{0x16} << 32) | 0xB374D848);
  EXPECT_EQ(FormatLsn(*lsn), "16/B374D848");
  EXPECT_EQ(FormatLsn(0), "0/0");
  EXPECT_EQ(*ParseLsn("0/0"), 0u);
  EXPECT_EQ(*ParseLsn("ffffffff/ffffffff"), ~Lsn{0});
  // Positions compare as numbers, not as text.
  EXPECT_LT(*ParseLsn("9/FFFFFFFF"), *ParseLsn("A/0"));
  EXPECT_LT(*ParseLsn("0/9"), *ParseLsn("0/10"));
}

TEST(LsnTest, RefusesAnythingElse) {
  for (const char* bad : {"", "/", "16", "16/", "/B3", "16/B374D848/1", "123456789/0",
                          "0/123456789", "g/0", " 1/0", "1/0 ", "-1/0", "+1/0", "0x1/0"}) {
    absl::StatusOr<Lsn> lsn = ParseLsn(bad);
    EXPECT_FALSE(lsn.ok()) << "'" << bad << "' parsed as " << (lsn.ok() ? FormatLsn(*lsn) : "");
    if (!lsn.ok()) EXPECT_EQ(lsn.status().code(), absl::StatusCode::kInvalidArgument);
  }
  // The message quotes a bounded, escaped prefix of the input.
  absl::StatusOr<Lsn> long_input = ParseLsn(std::string(1000, 'x') + "\n");
  ASSERT_FALSE(long_input.ok());
  EXPECT_LT(long_input.status().message().size(), 120u);
}

}  // namespace
}  // namespace chatgenius
