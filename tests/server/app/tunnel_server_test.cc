// The whole server through the SSH tunnel: RPCs cross it, readiness and
// AdminService follow it, and it recovers from a killed sshd by itself.
#include <cstdlib>

#include <grpcpp/client_context.h>

#include "absl/strings/numbers.h"
#include "chatgenius/db/v1/admin_service.grpc.pb.h"
#include "chatgenius/db/v1/user_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/private_sshd.h"
#include "tests/support/test_database.h"
#include "tests/support/test_server.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;
using grpc::health::v1::HealthCheckResponse;

Config TunnelConfig(const testing::TestDatabase& db, const testing::PrivateSshd& sshd) {
  Config c = db.config();
  c.postgres_host = "unused-when-tunnelled.invalid";
  c.ssh_host = "127.0.0.1";
  c.ssh_port = sshd.port();
  c.ssh_user = sshd.user();
  c.ssh_key_path = sshd.client_key();
  c.ssh_known_hosts = sshd.known_hosts();
  c.postgres_remote_host = std::getenv("TEST_POSTGRES_HOST");
  int port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(std::getenv("TEST_POSTGRES_PORT"), &port));
  c.postgres_remote_port = port;
  c.ssh_retry_delay = absl::Milliseconds(100);
  c.ssh_retry_max_delay = absl::Milliseconds(500);
  c.ssh_health_check_interval = absl::Seconds(1);
  return c;
}

grpc::Status CreateUser(testing::TestServer& server, const std::string& name) {
  auto stub = v1::UserService::NewStub(server.channel());
  v1::CreateUserRequest request;
  request.mutable_user()->set_username(name);
  request.mutable_user()->set_email(name + "@example.com");
  v1::User out;
  grpc::ClientContext context;
  testing::SetDeadline(&context);
  return stub->CreateUser(&context, request, &out);
}

v1::TunnelStatus TunnelStatus(testing::TestServer& server) {
  auto admin = v1::AdminService::NewStub(server.channel());
  v1::TunnelStatus status;
  grpc::ClientContext context;
  testing::SetDeadline(&context);
  EXPECT_TRUE(admin->GetTunnelStatus(&context, {}, &status).ok());
  return status;
}

TEST(TunnelServerTest, ServesThroughTheBastionAndRecoversFromAKilledSshd) {
  testing::PrivateSshd sshd;
  testing::TestDatabase db;
  testing::TestServer server(TunnelConfig(db, sshd));
  ASSERT_TRUE(server.WaitForHealth("", HealthCheckResponse::SERVING, absl::Seconds(15)));
  grpc::Status created = CreateUser(server, "ada");
  ASSERT_TRUE(created.ok()) << created.error_message();
  v1::TunnelStatus up = TunnelStatus(server);
  EXPECT_TRUE(up.enabled());
  EXPECT_EQ(up.state(), v1::TUNNEL_STATE_CONNECTED);
  EXPECT_GE(up.open_channels(), 1) << "the pool's connections are channels";
  EXPECT_GT(up.bytes_from_remote(), 0);
  EXPECT_NE(up.local_endpoint().find(".s.PGSQL."), std::string::npos) << up.local_endpoint();
  EXPECT_EQ(db.Query("SELECT count(*) FROM users"), "1") << "the write reached the database";

  sshd.Kill();
  EXPECT_TRUE(server.WaitForHealth("", HealthCheckResponse::NOT_SERVING, absl::Seconds(10)))
      << "readiness drops while the tunnel is down";
  v1::TunnelStatus down = TunnelStatus(server);
  EXPECT_NE(down.state(), v1::TUNNEL_STATE_CONNECTED);
  EXPECT_FALSE(down.last_error().empty());
  grpc::Status during = CreateUser(server, "bob");
  EXPECT_EQ(during.error_code(), grpc::StatusCode::UNAVAILABLE) << during.error_message();

  ASSERT_TRUE(sshd.Start());
  EXPECT_TRUE(server.WaitForHealth("", HealthCheckResponse::SERVING, absl::Seconds(15)))
      << "the service recovers without a restart";
  grpc::Status after = CreateUser(server, "bob");
  EXPECT_TRUE(after.ok()) << after.error_message();
  EXPECT_GE(TunnelStatus(server).reconnects_total(), 1);
}

TEST(TunnelServerTest, UnknownHostKeyStopsStartup) {
  testing::PrivateSshd sshd;
  testing::TestDatabase db;
  Config c = TunnelConfig(db, sshd);
  c.ssh_known_hosts = sshd.empty_known_hosts();
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(c);
  ASSERT_FALSE(server.ok()) << "never connect to an unverified host";
  EXPECT_NE(server.status().message().find("unknown host key"), absl::string_view::npos)
      << server.status();
}

}  // namespace
}  // namespace chatgenius
