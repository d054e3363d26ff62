#include "server/auth/bearer_tokens.h"

#include <string>

#include "gtest/gtest.h"

namespace chatgenius {
namespace {

// What `printf %s TOKEN | sha256sum` prints for two tokens.
constexpr char kGatewayLine[] =
    "f32a02c54bd11004e2988582fa7a4a89650593f8592309c9a11be3781b4a4a80  chat-gateway\n";
constexpr char kUnnamedLine[] =
    "6C67163BBED989F232B31ACC4F04DF54B31285BFC01BD022C735B71E041A4754  -\n";

BearerTokens Tokens() {
  absl::StatusOr<BearerTokens> tokens =
      BearerTokens::Parse(std::string("# accepted callers\n\n") + kGatewayLine + kUnnamedLine);
  EXPECT_TRUE(tokens.ok()) << tokens.status();
  return *tokens;
}

TEST(BearerTokensTest, KnownTokensAuthenticateAsTheirNames) {
  BearerTokens tokens = Tokens();
  EXPECT_EQ(tokens.size(), 2u);
  absl::StatusOr<Caller> gateway = tokens.Authenticate("Bearer s3cret-gateway");
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  EXPECT_EQ(gateway->name, "chat-gateway");
  EXPECT_TRUE(gateway->roles.empty()) << "no roles unless the line grants them";
  // Scheme is case-insensitive; upper-case hex in the file is accepted; "-"
  // (sha256sum's stdin name) means unnamed: the line number names it.
  absl::StatusOr<Caller> other = tokens.Authenticate("bearer other-token");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->name, "token-4");
}

TEST(BearerTokensTest, LinesGrantRoles) {
  const std::string hash = std::string(kGatewayLine).substr(0, 64);
  absl::StatusOr<BearerTokens> named = BearerTokens::Parse(hash + "  ops  roles=admin\n");
  ASSERT_TRUE(named.ok()) << named.status();
  absl::StatusOr<Caller> ops = named->Authenticate("Bearer s3cret-gateway");
  ASSERT_TRUE(ops.ok());
  EXPECT_EQ(ops->name, "ops");
  EXPECT_TRUE(ops->has_role(kAdminRole));
  absl::StatusOr<BearerTokens> unnamed = BearerTokens::Parse(hash + " roles=admin\n");
  ASSERT_TRUE(unnamed.ok()) << unnamed.status();
  EXPECT_EQ(unnamed->Authenticate("Bearer s3cret-gateway")->name, "token-1");
  EXPECT_TRUE(unnamed->Authenticate("Bearer s3cret-gateway")->has_role(kAdminRole));
}

TEST(BearerTokensTest, RefusesMissingMalformedAndUnknownTokens) {
  BearerTokens tokens = Tokens();
  for (const char* header : {"", "Bearer", "Bearer ", "Basic s3cret-gateway", "s3cret-gateway",
                             "Bearer s3cret-gateway ", "Bearer S3CRET-GATEWAY", "Bearer x"}) {
    absl::StatusOr<Caller> caller = tokens.Authenticate(header);
    ASSERT_FALSE(caller.ok()) << "'" << header << "' must be refused";
    EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated) << header;
    EXPECT_EQ(caller.status().message().find("s3cret"), absl::string_view::npos)
        << "errors never echo the token: " << caller.status();
  }
}

TEST(BearerTokensTest, MalformedFilesNameTheLine) {
  struct Case {
    std::string text;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"", "no token hashes"},
           {"# only comments\n", "no token hashes"},
           {std::string(kGatewayLine) + "abc123 short\n", "line 2"},
           {"s3cret-gateway\n", "line 1"},
           {std::string(64, 'g') + "\n", "line 1"},
           {std::string(kGatewayLine).substr(0, 64) + " name extra\n", "line 1"},
           {std::string(kGatewayLine).substr(0, 64) + " name roles=root\n", "unknown role 'root'"},
           {std::string(kGatewayLine).substr(0, 64) + " name roles=admin x\n", "line 1"},
       }) {
    absl::StatusOr<BearerTokens> tokens = BearerTokens::Parse(c.text);
    ASSERT_FALSE(tokens.ok()) << c.text;
    EXPECT_EQ(tokens.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(tokens.status().message().find(c.want), absl::string_view::npos)
        << tokens.status() << " for: " << c.text;
    EXPECT_NE(tokens.status().message().find("AUTH_TOKENS_FILE"), absl::string_view::npos);
  }
}

TEST(BearerTokensTest, LoadNamesAnUnreadableFile) {
  absl::StatusOr<BearerTokens> tokens = BearerTokens::Load("/nonexistent/tokens");
  ASSERT_FALSE(tokens.ok());
  EXPECT_NE(tokens.status().message().find("/nonexistent/tokens"), absl::string_view::npos);
}

}  // namespace
}  // namespace chatgenius
