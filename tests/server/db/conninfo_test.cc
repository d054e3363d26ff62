// The connection string every session is opened with (no database needed).
#include "server/db/conninfo.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace chatgenius {
namespace {

TEST(ConnInfoTest, ValuesAreQuotedSoAnyPasswordIsTakenLiterally) {
  ConnParams p;
  p.host = "/run/my socket";
  p.dbname = "chat";
  p.user = "o'brien";
  p.password = R"(pa\ss' word=x)";
  const std::string s = BuildConnInfo(p);
  EXPECT_TRUE(absl::StrContains(s, "host='/run/my socket'")) << s;
  EXPECT_TRUE(absl::StrContains(s, R"(user='o\'brien')")) << s;
  EXPECT_TRUE(absl::StrContains(s, R"(password='pa\\ss\' word=x')")) << s;
  EXPECT_FALSE(absl::StrContains(BuildConnInfo(p, /*redact_password=*/true), "pa\\")) << s;
  EXPECT_TRUE(absl::StrContains(BuildConnInfo(p, true), "password=***"));
}

TEST(ConnInfoTest, CarriesTcpLivenessAndTheSessionLimits) {
  ConnParams p;
  p.dbname = "chat";
  p.user = "u";
  p.tcp_timeout = absl::Seconds(12);
  p.lock_timeout = absl::Seconds(3);
  p.idle_in_transaction_timeout = absl::Seconds(4);
  p.statement_timeout = absl::ZeroDuration();
  const std::string s = BuildConnInfo(p);
  EXPECT_TRUE(absl::StrContains(s, "keepalives=1 keepalives_idle=6 keepalives_interval=2 "
                                   "keepalives_count=3 tcp_user_timeout=12000"))
      << s;
  EXPECT_TRUE(absl::StrContains(s, "options='-c lock_timeout=3000 -c "
                                   "idle_in_transaction_session_timeout=4000 -c "
                                   "statement_timeout=0'"))
      << s;
  EXPECT_FALSE(absl::StrContains(s, "password=")) << "no password, no key";
}

}  // namespace
}  // namespace chatgenius
