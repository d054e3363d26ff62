#include "server/app/config.h"

#include <map>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace chatgenius {
namespace {

ConfigLookup From(std::map<std::string, std::string> values) {
  return [values](absl::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ConfigTest, Defaults) {
  absl::StatusOr<Config> c = LoadConfig(From({}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen_address, "127.0.0.1:50051") << "loopback by default";
  EXPECT_EQ(c->pool_max_size, 10) << "the seed's pool size";
  EXPECT_EQ(c->postgres_port, 5432);
  EXPECT_EQ(c->migrate_mode, MigrateMode::kAuto);
  EXPECT_TRUE(c->reflection);
  EXPECT_EQ(c->pool_acquire_timeout, absl::Seconds(5));
}

TEST(ConfigTest, ReadsSeedVariables) {
  absl::StatusOr<Config> c = LoadConfig(From({{"POSTGRES_HOST", "db.internal"},
                                              {"POSTGRES_PORT", "6543"},
                                              {"POSTGRES_DB", "chat"},
                                              {"POSTGRES_USER", "svc"},
                                              {"POSTGRES_PASSWORD", "s3cr'et"},
                                              {"POOL_MAX_SIZE", "20"},
                                              {"MIGRATE_MODE", "check"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->postgres_host, "db.internal");
  EXPECT_EQ(c->postgres_port, 6543);
  EXPECT_EQ(c->pool_max_size, 20);
  EXPECT_EQ(c->migrate_mode, MigrateMode::kCheck);
  EXPECT_TRUE(absl::StrContains(c->ConnInfo(), "password='s3cr\\'et'"))
      << "password must be quoted for libpq: " << c->RedactedConnInfo();
}

TEST(ConfigTest, TestModeUsesTestVariables) {
  absl::StatusOr<Config> c = LoadConfig(From({{"POSTGRES_DB", "prod"},
                                              {"POSTGRES_USER", "svc"},
                                              {"USE_TEST_DATABASE", "true"},
                                              {"TEST_POSTGRES_DB", "test_db"},
                                              {"TEST_POSTGRES_USER", "test_user"},
                                              {"TEST_POSTGRES_PASSWORD", "test_password"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->postgres_db, "test_db");
  EXPECT_EQ(c->postgres_user, "test_user");
  EXPECT_EQ(c->postgres_password, "test_password");
}

TEST(ConfigTest, PasswordNeverInDescriptionOrRedactedConnInfo) {
  absl::StatusOr<Config> c = LoadConfig(
      From({{"POSTGRES_PASSWORD", "hunter2-secret"}, {"PAGE_TOKEN_KEY", "token-key-0123456789"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(absl::StrContains(c->RedactedConnInfo(), "hunter2")) << c->RedactedConnInfo();
  for (const std::string& line : c->Describe()) {
    EXPECT_FALSE(absl::StrContains(line, "hunter2")) << line;
    EXPECT_FALSE(absl::StrContains(line, "token-key")) << line;
  }
  EXPECT_TRUE(absl::StrContains(c->ConnInfo(), "hunter2")) << "the real conninfo needs it";
}

TEST(ConfigTest, ErrorsNameTheVariable) {
  struct Case {
    std::string name, value;
  };
  for (const Case& bad : std::vector<Case>{{"POOL_MAX_SIZE", "ten"},
                                           {"POOL_MAX_SIZE", "0"},
                                           {"POSTGRES_PORT", "70000"},
                                           {"MIGRATE_MODE", "sometimes"},
                                           {"REFLECTION", "maybe"},
                                           {"LISTEN_ADDRESS", "nohostport"},
                                           {"POSTGRES_SSLMODE", "always"},
                                           {"PAGE_TOKEN_KEY", "short"},
                                           {"POOL_ACQUIRE_TIMEOUT_MS", "-5"}}) {
    absl::StatusOr<Config> c = LoadConfig(From({{bad.name, bad.value}}));
    ASSERT_FALSE(c.ok()) << bad.name << "=" << bad.value << " must be rejected";
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(c.status().message(), bad.name))
        << "error must name " << bad.name << ": " << c.status().message();
  }
}

TEST(ConfigTest, EverySettingIsDocumented) {
  for (const ConfigSetting& s : ConfigSettings()) {
    EXPECT_NE(std::string(s.help), "") << s.env_name << " needs a description";
  }
  EXPECT_GE(ConfigSettings().size(), 20u);
}

}  // namespace
}  // namespace chatgenius
