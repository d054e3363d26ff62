#include "server/common/log.h"

#include "gtest/gtest.h"

namespace chatgenius {
namespace {

TEST(LogTest, JsonRecordsEscapeEverythingAndKeepFieldOrder) {
  const std::string line =
      FormatLogRecord(LogFormat::kJson, LogLevel::kWarning, "2026-11-29T11:23:31.123Z",
                      "say \"hi\"\n\\", {{"request_id", "01J"}, {"error", "tab\there\x01"}});
  EXPECT_EQ(line,
            "{\"ts\":\"2026-11-29T11:23:31.123Z\",\"level\":\"warn\",\"msg\":\"say "
            "\\\"hi\\\"\\n\\\\\",\"request_id\":\"01J\",\"error\":\"tab\\there\\u0001\"}\n");
}

TEST(LogTest, TextRecordsQuoteValuesThatWouldBreakTheLine) {
  const std::string line =
      FormatLogRecord(LogFormat::kText, LogLevel::kError, "T", "rpc",
                      {{"method", "a.B/C"}, {"error", "two words"}, {"empty", ""}});
  EXPECT_EQ(line, "T ERROR rpc method=a.B/C error=\"two words\" empty=\"\"\n");
}

TEST(LogTest, LevelsBelowTheMinimumAreDropped) {
  ConfigureLogging(LogFormat::kText, LogLevel::kWarning);
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  ::testing::internal::CaptureStderr();
  LogInfo("hidden");
  LogWarning("shown");
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(out.find("hidden"), std::string::npos);
  EXPECT_NE(out.find("WARN shown"), std::string::npos);
  EXPECT_EQ(ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(ParseLogLevel("error"), LogLevel::kError);
  ConfigureLogging(LogFormat::kText, LogLevel::kInfo);
}

}  // namespace
}  // namespace chatgenius
