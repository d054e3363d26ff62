#include "server/app/config.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>

#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

// The settings table (ConfigSettings: flags, --help, the README's list) and
// LoadConfig name the same variables: every one LoadConfig asks for is in
// the table, and every one in the table is asked for (with the SSH and
// test-database sections on, which are read only then).
TEST(ConfigTest, LoadConfigReadsExactlyTheVariablesOfTheTable) {
  std::set<std::string> asked;
  ConfigLookup recording = [&asked](absl::string_view name) -> std::optional<std::string> {
    asked.insert(std::string(name));
    if (name == "SSH_HOST") return std::string("bastion");
    if (name == "USE_TEST_DATABASE") return std::string("true");
    return std::nullopt;
  };
  ASSERT_TRUE(LoadConfig(recording).ok());
  std::set<std::string> table;
  for (const ConfigSetting& s : ConfigSettings()) table.insert(s.env_name);
  for (const std::string& name : asked)
    EXPECT_TRUE(table.count(name)) << name << " is not in the table";
  for (const std::string& name : table) EXPECT_TRUE(asked.count(name)) << name << " is never read";
}

// The defaults the table documents are the ones that apply: setting any
// variable to its documented default changes nothing (the code's default
// lives once, in Config or the component it configures).
TEST(ConfigTest, TheTablesDefaultsAreTheDefaults) {
  const std::map<std::string, std::string> base = {{"SSH_HOST", "bastion"}};
  absl::StatusOr<Config> defaults = LoadConfig(From(base));
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  int checked = 0;
  for (const ConfigSetting& s : ConfigSettings()) {
    const std::string def = s.default_value;
    // Descriptions rather than values ("true on a loopback ..."), and the
    // switch the base sets.
    if (def.find(' ') != std::string::npos || std::string(s.env_name) == "SSH_HOST") continue;
    std::map<std::string, std::string> env = base;
    env[s.env_name] = def;
    absl::StatusOr<Config> c = LoadConfig(From(env));
    ASSERT_TRUE(c.ok()) << s.env_name << "=" << def << ": " << c.status();
    EXPECT_EQ(c->read_settings, defaults->read_settings) << s.env_name << "=" << def;
    EXPECT_EQ(c->Describe(), defaults->Describe()) << s.env_name << "=" << def;
    ++checked;
  }
  EXPECT_GE(checked, 75) << "almost every setting has a plain default";
}

// Its bound (30 days in ms) does not fit an int: it overflowed to a negative
// maximum and refused every explicit value.
TEST(ConfigTest, ConnectionAgeAcceptsValuesUpToThirtyDays) {
  absl::StatusOr<Config> c = LoadConfig(From({{"GRPC_MAX_CONNECTION_AGE_MS", "600000"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->grpc_max_connection_age, absl::Minutes(10));
  EXPECT_TRUE(LoadConfig(From({{"GRPC_MAX_CONNECTION_AGE_MS", "2592000000"}})).ok());
  absl::StatusOr<Config> over = LoadConfig(From({{"GRPC_MAX_CONNECTION_AGE_MS", "2592000001"}}));
  EXPECT_FALSE(over.ok());
  EXPECT_TRUE(absl::StrContains(over.status().message(), "between 0 and 2592000000"))
      << over.status();
}

TEST(ConfigTest, Defaults) {
  absl::StatusOr<Config> c = LoadConfig(From({}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen_address, "127.0.0.1:50051") << "loopback by default";
  EXPECT_EQ(c->pool_max_size, 10) << "the seed's pool size";
  EXPECT_EQ(c->postgres_port, 5432);
  EXPECT_EQ(c->migrate_mode, MigrateMode::kAuto);
  EXPECT_TRUE(c->reflection) << "on for the loopback default";
  EXPECT_EQ(c->pool_acquire_timeout, absl::Seconds(5));
}

TEST(ConfigTest, ReflectionIsOffOffLoopbackUnlessAskedFor) {
  absl::StatusOr<Config> open = LoadConfig(
      From({{"LISTEN_ADDRESS", "0.0.0.0:50051"}, {"ALLOW_PLAINTEXT_NON_LOOPBACK", "true"}}));
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_FALSE(open->reflection) << "reflection lists every method to whoever connects";
  absl::StatusOr<Config> asked = LoadConfig(From({{"LISTEN_ADDRESS", "0.0.0.0:50051"},
                                                  {"ALLOW_PLAINTEXT_NON_LOOPBACK", "true"},
                                                  {"REFLECTION", "true"}}));
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_TRUE(asked->reflection);
  absl::StatusOr<Config> off = LoadConfig(From({{"REFLECTION", "false"}}));
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->reflection);
}

TEST(ConfigTest, EndUserTokensNeedIssuerAudienceAndCallerAuth) {
  absl::StatusOr<Config> off = LoadConfig(From({}));
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->end_user_jwt.enabled()) << "off by default";
  absl::StatusOr<Config> on = LoadConfig(From({{"END_USER_JWT_JWKS_FILE", "/etc/jwks.json"},
                                               {"END_USER_JWT_PUBLIC_KEY_FILES", "/a.pem, /b.pem"},
                                               {"END_USER_JWT_ISSUER", "https://x.auth0.com/"},
                                               {"END_USER_JWT_AUDIENCE", "chatgenius-db"},
                                               {"END_USER_JWT_LEEWAY_S", "30"},
                                               {"AUTH_TOKENS_FILE", "/etc/tokens"}}));
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_TRUE(on->end_user_jwt.enabled());
  EXPECT_EQ(on->end_user_jwt.public_key_files, (std::vector<std::string>{"/a.pem", "/b.pem"}));
  EXPECT_EQ(on->end_user_jwt.leeway, absl::Seconds(30));
  for (const auto& missing : {"END_USER_JWT_ISSUER", "END_USER_JWT_AUDIENCE", "AUTH_TOKENS_FILE"}) {
    std::map<std::string, std::string> env = {{"END_USER_JWT_HS256_SECRET_FILE", "/s"},
                                              {"END_USER_JWT_ISSUER", "i"},
                                              {"END_USER_JWT_AUDIENCE", "a"},
                                              {"AUTH_TOKENS_FILE", "/etc/tokens"}};
    env.erase(missing);
    absl::StatusOr<Config> c = LoadConfig(From(env));
    ASSERT_FALSE(c.ok()) << missing;
    EXPECT_NE(c.status().message().find(missing), absl::string_view::npos) << c.status();
  }
}

TEST(ConfigTest, ConnectionsCarrySessionLimitsAndTcpLiveness) {
  absl::StatusOr<Config> c = LoadConfig(From({{"POSTGRES_TCP_TIMEOUT_MS", "12000"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string conninfo = c->ConnInfo();
  for (const char* part :
       {"keepalives=1", "keepalives_idle=6", "keepalives_interval=2", "keepalives_count=3",
        "tcp_user_timeout=12000", "-c lock_timeout=10000",
        "-c idle_in_transaction_session_timeout=30000", "-c statement_timeout=30000"}) {
    EXPECT_TRUE(absl::StrContains(conninfo, part)) << part << " in " << conninfo;
  }
  EXPECT_TRUE(absl::StrContains(c->MigrationConnInfoVia("h", 1), "-c statement_timeout=0"));
  EXPECT_FALSE(LoadConfig(From({{"POSTGRES_LOCK_TIMEOUT_MS", "-1"}})).ok());
}

TEST(ConfigTest, PlaceholderPageTokenKeyIsRefused) {
  for (const char* key : {"change-me-to-64-hex-digits", "CHANGEME-CHANGEME-1234"}) {
    absl::StatusOr<Config> c = LoadConfig(From({{"PAGE_TOKEN_KEY", key}}));
    ASSERT_FALSE(c.ok()) << key;
    EXPECT_NE(c.status().message().find("PAGE_TOKEN_KEY"), absl::string_view::npos) << c.status();
  }
  EXPECT_TRUE(LoadConfig(From({{"PAGE_TOKEN_KEY", std::string(64, 'a')}})).ok());
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
                                           {"LISTEN_ADDRESS", "127.0.0.1:http"},
                                           {"METRICS_ADDRESS", "127.0.0.1:99999"},
                                           {"METRICS_ADDRESS", "::1:9090"},
                                           {"POSTGRES_SSLMODE", "always"},
                                           {"PAGE_TOKEN_KEY", "short"},
                                           {"POOL_ACQUIRE_TIMEOUT_MS", "-5"},
                                           {"EVENT_FANOUT_THREADS", "0"},
                                           {"EVENT_FANOUT_THREADS", "65"}}) {
    absl::StatusOr<Config> c = LoadConfig(From({{bad.name, bad.value}}));
    ASSERT_FALSE(c.ok()) << bad.name << "=" << bad.value << " must be rejected";
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(c.status().message(), bad.name))
        << "error must name " << bad.name << ": " << c.status().message();
  }
}

TEST(ConfigTest, APrimaryThatCanMoveIsAHostListOfWritableSessions) {
  absl::StatusOr<Config> one = LoadConfig(From({}));
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(absl::StrContains(one->ConnInfo(), "host='localhost' port=5432 ")) << one->ConnInfo();
  EXPECT_TRUE(absl::StrContains(one->ConnInfo(), " target_session_attrs=read-write"))
      << "never write to a standby by mistake";

  absl::StatusOr<Config> pair =
      LoadConfig(From({{"POSTGRES_HOST", "db1:6001, db2 ,[::1]:6003"}, {"POSTGRES_PORT", "6432"}}));
  ASSERT_TRUE(pair.ok()) << pair.status();
  for (const std::string& conninfo : {pair->ConnInfo(), pair->MigrationConnInfo()}) {
    EXPECT_TRUE(absl::StrContains(conninfo, "host='db1,db2,::1' port=6001,6432,6003 ")) << conninfo;
    EXPECT_TRUE(absl::StrContains(conninfo, " target_session_attrs=read-write")) << conninfo;
  }
  EXPECT_TRUE(absl::StrContains(pair->RedactedConnInfo(), "host='db1,db2,::1'"));
  // A read replica's sessions are on a standby by design.
  EXPECT_FALSE(absl::StrContains(pair->ReplicaConnInfoVia("db2", 6432), "target_session_attrs"));

  absl::StatusOr<Config> any = LoadConfig(From({{"POSTGRES_TARGET_SESSION_ATTRS", "any"}}));
  ASSERT_TRUE(any.ok());
  EXPECT_FALSE(absl::StrContains(any->ConnInfo(), "target_session_attrs"));

  for (const auto& bad : std::vector<std::pair<std::string, std::string>>{
           {"POSTGRES_HOST", "db1:6001,db2:http"},
           {"POSTGRES_HOST", "db1,,db2"},
           {"POSTGRES_HOST", "db1,:5432"},
           {"POSTGRES_TARGET_SESSION_ATTRS", "standby"}}) {
    absl::StatusOr<Config> refused = LoadConfig(From({bad}));
    ASSERT_FALSE(refused.ok()) << bad.first << "=" << bad.second;
    EXPECT_TRUE(absl::StartsWith(refused.status().message(), bad.first))
        << refused.status().message();
  }
}

TEST(ConfigTest, ReplicaHostsAreParsedAndChecked) {
  absl::StatusOr<Config> none = LoadConfig(From({}));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->postgres_replica_hosts.empty()) << "no replicas unless named";

  absl::StatusOr<Config> c =
      LoadConfig(From({{"POSTGRES_PORT", "6432"},
                       {"POSTGRES_REPLICA_HOSTS", " r1:5433, r2 ,[::1]:5434"},
                       {"POSTGRES_REPLICA_MAX_LAG_MS", "250"},
                       {"POSTGRES_REPLICA_WAIT_MS", "0"},
                       {"POSTGRES_REPLICA_CHECK_MS", "50"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->postgres_replica_hosts.size(), 3u);
  EXPECT_EQ(c->postgres_replica_hosts[0].host, "r1");
  EXPECT_EQ(c->postgres_replica_hosts[0].port, 5433);
  EXPECT_EQ(c->postgres_replica_hosts[1].host, "r2");
  EXPECT_EQ(c->postgres_replica_hosts[1].port, 6432) << "a bare host takes POSTGRES_PORT";
  EXPECT_EQ(c->postgres_replica_hosts[2].host, "::1");
  EXPECT_EQ(c->postgres_replica_max_lag, absl::Milliseconds(250));
  EXPECT_EQ(c->postgres_replica_wait, absl::ZeroDuration());
  EXPECT_EQ(c->postgres_replica_check, absl::Milliseconds(50));
  bool described = false;
  for (const std::string& line : c->Describe()) {
    if (line == "POSTGRES_REPLICA_HOSTS=r1:5433,r2:6432,::1:5434") described = true;
  }
  EXPECT_TRUE(described) << "the start-up summary names the replicas";

  for (const auto& bad : std::vector<std::map<std::string, std::string>>{
           {{"POSTGRES_REPLICA_HOSTS", "r1:notaport"}},
           {{"POSTGRES_REPLICA_HOSTS", "r1:0"}},
           {{"POSTGRES_REPLICA_HOSTS", ":5432"}},
           {{"POSTGRES_REPLICA_MAX_LAG_MS", "5"}},
           {{"POSTGRES_REPLICA_WAIT_MS", "-1"}},
           // A check rarer than the bound: no replica could ever prove it.
           {{"POSTGRES_REPLICA_CHECK_MS", "2000"}, {"POSTGRES_REPLICA_MAX_LAG_MS", "1000"}}}) {
    absl::StatusOr<Config> refused = LoadConfig(From(bad));
    ASSERT_FALSE(refused.ok()) << bad.begin()->first << "=" << bad.begin()->second;
    EXPECT_TRUE(absl::StartsWith(refused.status().message(), "POSTGRES_REPLICA_"))
        << refused.status().message();
  }
}

TEST(ConfigTest, SshTunnelSettings) {
  setenv("HOME", "/home/tester", 1);
  absl::StatusOr<Config> c = LoadConfig(From({{"SSH_HOST", "bastion.example.com"},
                                              {"SSH_USER", "deploy"},
                                              {"SSH_KEY_PATH", "~/.ssh/db_key"},
                                              {"SSH_KEY_PASSPHRASE", "key-secret-42"},
                                              {"SSH_MAX_RETRIES", "5"},
                                              {"SSH_RETRY_DELAY", "2000"},
                                              {"SSH_HEALTH_CHECK_INTERVAL", "15000"},
                                              {"POSTGRES_REMOTE_HOST", "db.internal"},
                                              {"POSTGRES_REMOTE_PORT", "6432"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->ssh_enabled());
  EXPECT_EQ(c->ssh_port, 22) << "the seed's default";
  EXPECT_EQ(c->ssh_key_path, "/home/tester/.ssh/db_key") << "~ is expanded";
  EXPECT_EQ(c->ssh_known_hosts, "/home/tester/.ssh/known_hosts");
  EXPECT_EQ(c->ssh_max_retries, 5);
  EXPECT_EQ(c->ssh_retry_delay, absl::Seconds(2));
  EXPECT_EQ(c->ssh_health_check_interval, absl::Seconds(15));
  EXPECT_EQ(c->postgres_remote_host, "db.internal");
  EXPECT_EQ(c->postgres_remote_port, 6432);
  EXPECT_FALSE(c->ssh_local_tcp) << "a private Unix socket by default";
  for (const std::string& line : c->Describe()) {
    EXPECT_FALSE(absl::StrContains(line, "key-secret-42")) << line;
  }
  EXPECT_TRUE(absl::StrContains(c->RedactedConnInfo(), "bastion.example.com"))
      << c->RedactedConnInfo();

  absl::StatusOr<Config> defaults = LoadConfig(From({{"SSH_HOST", "b"}}));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->ssh_max_retries, 3);
  EXPECT_EQ(defaults->ssh_retry_delay, absl::Seconds(1));
  EXPECT_EQ(defaults->ssh_health_check_interval, absl::Seconds(30));
  EXPECT_EQ(defaults->postgres_remote_host, "localhost");
  EXPECT_EQ(defaults->postgres_remote_port, 5432);

  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"SSH_LOCAL_ENDPOINT", "pipe"},
                                                        {"SSH_MAX_CHANNELS", "5"},
                                                        {"SSH_PORT", "0"},
                                                        {"SSH_RETRY_MAX_DELAY", "10"}}) {
    absl::StatusOr<Config> bad = LoadConfig(From({{"SSH_HOST", "b"}, {name, value}}));
    ASSERT_FALSE(bad.ok()) << name << "=" << value;
    EXPECT_TRUE(absl::StartsWith(bad.status().message(), name)) << bad.status();
  }
}

TEST(ConfigTest, PlaintextOnlyOnLoopbackUnlessAllowed) {
  for (const char* ok : {"127.0.0.1:50051", "localhost:1", "[::1]:50051", "127.1.2.3:0"}) {
    EXPECT_TRUE(LoadConfig(From({{"LISTEN_ADDRESS", ok}})).ok()) << ok;
  }
  absl::StatusOr<Config> open = LoadConfig(From({{"LISTEN_ADDRESS", "0.0.0.0:50051"}}));
  ASSERT_FALSE(open.ok()) << "plaintext on every interface needs an explicit opt-in";
  EXPECT_TRUE(absl::StartsWith(open.status().message(), "LISTEN_ADDRESS")) << open.status();
  EXPECT_TRUE(LoadConfig(From({{"LISTEN_ADDRESS", "0.0.0.0:50051"},
                               {"ALLOW_PLAINTEXT_NON_LOOPBACK", "true"}}))
                  .ok());
  EXPECT_TRUE(LoadConfig(From({{"LISTEN_ADDRESS", "0.0.0.0:50051"},
                               {"TLS_CERT_FILE", "/c.pem"},
                               {"TLS_KEY_FILE", "/k.pem"}}))
                  .ok())
      << "TLS may listen anywhere";
  absl::StatusOr<Config> half = LoadConfig(From({{"TLS_CERT_FILE", "/c.pem"}}));
  ASSERT_FALSE(half.ok());
  EXPECT_TRUE(absl::StartsWith(half.status().message(), "TLS_CERT_FILE")) << half.status();
  absl::StatusOr<Config> ca_only = LoadConfig(From({{"TLS_CLIENT_CA_FILE", "/ca.pem"}}));
  ASSERT_FALSE(ca_only.ok());
  EXPECT_TRUE(absl::StartsWith(ca_only.status().message(), "TLS_CLIENT_CA_FILE"));
}

TEST(ConfigTest, EverySettingHasAFlagAndIsInTheReadme) {
  std::ifstream in(std::string(std::getenv("TEST_SRCDIR")) + "/chatgenius_db/README.md");
  std::stringstream readme;
  readme << in.rdbuf();
  ASSERT_GT(readme.str().size(), 1000u) << "README.md must be a data dependency";
  for (const ConfigSetting& s : ConfigSettings()) {
    EXPECT_NE(std::string(s.help), "") << s.env_name << " needs a description";
    EXPECT_NE(absl::FindCommandLineFlag(absl::AsciiStrToLower(s.env_name)), nullptr)
        << "--" << absl::AsciiStrToLower(s.env_name) << " must exist";
    EXPECT_TRUE(absl::StrContains(readme.str(), absl::StrCat("`", s.env_name, "`")))
        << s.env_name << " must be documented in the README's configuration tables";
  }
  EXPECT_GE(ConfigSettings().size(), 40u);
}

}  // namespace
}  // namespace chatgenius
