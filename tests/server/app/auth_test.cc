// Bearer-token caller auth through the real server: plaintext on loopback
// and over TLS, exempt services, reflection, and startup refusals.
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "src/proto/grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/support/test_database.h"
#include "tests/support/test_server.h"

namespace chatgenius {
namespace {

using grpc::health::v1::HealthCheckResponse;

// sha256("s3cret-gateway"), as `printf %s s3cret-gateway | sha256sum` prints
// it, and sha256("s3cret-ops") with the admin role.
constexpr char kTokensFile[] =
    "# callers\n"
    "f32a02c54bd11004e2988582fa7a4a89650593f8592309c9a11be3781b4a4a80  chat-gateway\n"
    "28bfc45beaaf3948f86a6e59325166f5cae0f9d9be493f380bad4368f7225a63  ops  roles=admin\n";

std::string WriteTokens() {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/tokens";
  std::ofstream(path) << kTokensFile;
  return path;
}

std::unique_ptr<client::Client> Connect(const std::string& target, const std::string& token) {
  client::ClientOptions options;
  options.target = target;
  options.bearer_token = token;
  options.default_deadline = absl::Seconds(5);
  options.max_attempts = 1;
  absl::StatusOr<std::unique_ptr<client::Client>> c = client::Client::Create(options);
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(*c);
}

db::v1::CreateUserRequest NewUser(const std::string& name) {
  db::v1::CreateUserRequest r;
  r.mutable_user()->set_username(name);
  r.mutable_user()->set_email(name + "@example.com");
  r.mutable_user()->set_display_name(name);
  return r;
}

class AuthTest : public ::testing::Test {
 protected:
  Config AuthConfig() {
    Config config = db_.config();
    config.auth_tokens_file = WriteTokens();
    return config;
  }
  std::string UserCount() { return db_.Query("SELECT count(*) FROM users"); }
  testing::TestDatabase db_;
};

TEST_F(AuthTest, CallsWithoutTheRightTokenAreRefusedAndWriteNothing) {
  testing::TestServer server(AuthConfig());
  for (const std::string& token : {std::string(), std::string("wrong-token")}) {
    absl::StatusOr<db::v1::User> user =
        Connect(server.address(), token)->CreateUser(NewUser("eve"));
    ASSERT_FALSE(user.ok()) << "token '" << token << "' must be refused";
    EXPECT_EQ(user.status().code(), absl::StatusCode::kUnauthenticated) << user.status();
    EXPECT_EQ(user.status().message().find("wrong-token"), absl::string_view::npos);
  }
  EXPECT_EQ(UserCount(), "0") << "a refused call writes nothing";

  absl::StatusOr<db::v1::User> user =
      Connect(server.address(), "s3cret-gateway")->CreateUser(NewUser("alice"));
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(UserCount(), "1");
}

TEST_F(AuthTest, PrivilegedMethodsNeedTheAdminRole) {
  testing::TestServer server(AuthConfig());
  auto gateway = Connect(server.address(), "s3cret-gateway");
  auto ops = Connect(server.address(), "s3cret-ops");
  const std::vector<std::pair<const char*, std::function<absl::Status(client::Client&)>>>
      privileged = {
          {"ApplyMigrations", [](client::Client& c) { return c.ApplyMigrations().status(); }},
          {"GetPoolStats", [](client::Client& c) { return c.GetPoolStats().status(); }},
          {"GetServerInfo", [](client::Client& c) { return c.GetServerInfo().status(); }},
          {"GetTunnelStatus", [](client::Client& c) { return c.GetTunnelStatus().status(); }},
      };
  for (const auto& [name, call] : privileged) {
    absl::Status refused = call(*gateway);
    EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied) << name << ": " << refused;
    EXPECT_NE(refused.message().find("admin"), absl::string_view::npos) << refused;
    EXPECT_TRUE(call(*ops).ok()) << name << " with the admin role: " << call(*ops);
  }
  EXPECT_TRUE(gateway->GetMigrationStatus().ok()) << "the schema version is no secret";
  EXPECT_TRUE(gateway->CreateUser(NewUser("alice")).ok()) << "model calls need no role";
}

TEST_F(AuthTest, HealthIsExemptByDefaultAndReflectionIsNot) {
  testing::TestServer server(AuthConfig());
  absl::StatusOr<HealthCheckResponse::ServingStatus> health =
      Connect(server.address(), "")->Check("liveness");
  ASSERT_TRUE(health.ok()) << "probes carry no token: " << health.status();
  EXPECT_EQ(*health, HealthCheckResponse::SERVING);

  auto reflect = [&](const std::string& token) {
    auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(server.channel());
    grpc::ClientContext context;
    testing::SetDeadline(&context);
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    auto stream = stub->ServerReflectionInfo(&context);
    grpc::reflection::v1alpha::ServerReflectionRequest request;
    request.set_list_services("");
    stream->Write(request);
    stream->WritesDone();
    grpc::reflection::v1alpha::ServerReflectionResponse response;
    while (stream->Read(&response)) {
    }
    return stream->Finish().error_code();
  };
  EXPECT_EQ(reflect(""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(reflect("s3cret-gateway"), grpc::StatusCode::OK);
}

TEST_F(AuthTest, ExemptServicesAreConfigurable) {
  Config config = AuthConfig();
  config.auth_exempt = {"chatgenius.db.v1.AdminService"};
  testing::TestServer server(config);
  auto anonymous = Connect(server.address(), "");
  EXPECT_TRUE(anonymous->GetPoolStats().ok()) << "AdminService exempt";
  absl::StatusOr<HealthCheckResponse::ServingStatus> health = anonymous->Check("liveness");
  ASSERT_FALSE(health.ok()) << "health no longer exempt";
  EXPECT_EQ(health.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthTest, BadTokensFileStopsStartupNamingTheVariable) {
  Config config = db_.config();
  config.auth_tokens_file = "/nonexistent/tokens";
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("AUTH_TOKENS_FILE"), absl::string_view::npos)
      << server.status();
}

TEST(AuthConfigTest, TokensOnPlaintextNonLoopbackAreRefused) {
  std::map<std::string, std::string> env = {{"LISTEN_ADDRESS", "0.0.0.0:50051"},
                                            {"ALLOW_PLAINTEXT_NON_LOOPBACK", "true"},
                                            {"AUTH_TOKENS_FILE", "/etc/chatgenius/tokens"}};
  absl::StatusOr<Config> config = LoadConfig([&](absl::string_view name) {
    auto it = env.find(std::string(name));
    return it == env.end() ? std::optional<std::string>() : std::optional<std::string>(it->second);
  });
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("AUTH_TOKENS_FILE"), absl::string_view::npos)
      << config.status();
}

}  // namespace
}  // namespace chatgenius
