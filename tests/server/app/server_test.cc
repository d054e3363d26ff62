// The assembled server: health names, reflection, migration and admin
// services, and the UNIMPLEMENTED placeholders of later issues.
#include <set>
#include <string>

#include <grpcpp/client_context.h>

#include "chatgenius/db/v1/admin_service.grpc.pb.h"
#include "chatgenius/db/v1/event_service.grpc.pb.h"
#include "chatgenius/db/v1/migration_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "src/proto/grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/support/test_database.h"
#include "tests/support/test_server.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;
using grpc::health::v1::HealthCheckResponse;
using testing::SetDeadline;

class ServerTest : public ::testing::Test {
 protected:
  ServerTest() : server_(db_.config()) {}
  testing::TestDatabase db_;
  testing::TestServer server_;
};

TEST_F(ServerTest, HealthNamesBecomeServing) {
  EXPECT_EQ(server_.HealthStatus("liveness"), HealthCheckResponse::SERVING)
      << "liveness is SERVING as soon as the process answers";
  for (const std::string& name : ReadinessServiceNames()) {
    EXPECT_TRUE(server_.WaitForHealth(name, HealthCheckResponse::SERVING, absl::Seconds(10)))
        << "readiness name '" << name << "' must become SERVING with a reachable database";
  }
}

TEST_F(ServerTest, ReflectionListsEveryService) {
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(server_.channel());
  grpc::ClientContext context;
  SetDeadline(&context);
  auto stream = stub->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response)) << "reflection must answer";
  std::set<std::string> names;
  for (const auto& s : response.list_services_response().service()) names.insert(s.name());
  for (const char* want : {"chatgenius.db.v1.UserService", "chatgenius.db.v1.ChannelService",
                           "chatgenius.db.v1.MessageService", "chatgenius.db.v1.ReactionService",
                           "chatgenius.db.v1.EventService", "chatgenius.db.v1.MigrationService",
                           "chatgenius.db.v1.AdminService", "grpc.health.v1.Health"}) {
    EXPECT_TRUE(names.count(want)) << "reflection must list " << want;
  }
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ServerTest, MigrationStatusShowsEveryMigrationApplied) {
  auto stub = v1::MigrationService::NewStub(server_.channel());
  v1::MigrationStatus status;
  grpc::ClientContext context;
  SetDeadline(&context);
  ASSERT_TRUE(stub->GetMigrationStatus(&context, {}, &status).ok());
  EXPECT_TRUE(status.up_to_date());
  EXPECT_GE(status.latest_version(), 1);
  EXPECT_EQ(status.current_version(), status.latest_version());
  ASSERT_GE(status.migrations_size(), 1);
  for (const v1::Migration& m : status.migrations()) {
    EXPECT_EQ(m.state(), v1::MIGRATION_STATE_APPLIED) << m.DebugString();
    EXPECT_EQ(m.checksum(), m.applied_checksum());
    EXPECT_EQ(m.checksum().size(), 64u) << "hex SHA-256";
  }
}

TEST_F(ServerTest, AdminReportsPoolAndServer) {
  auto stub = v1::AdminService::NewStub(server_.channel());
  {
    v1::ServerInfo info;
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub->GetServerInfo(&context, {}, &info).ok());
    EXPECT_EQ(info.postgres_version().substr(0, 3), "15.") << info.postgres_version();
    EXPECT_EQ(info.database().find("password"), std::string::npos) << "no secrets";
    EXPECT_GE(info.schema_version(), 1);
  }
  {
    v1::PoolStats stats;
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub->GetPoolStats(&context, {}, &stats).ok());
    EXPECT_EQ(stats.max_size(), 10);
    EXPECT_GE(stats.acquired_total(), 1) << "GetServerInfo used the pool";
    EXPECT_EQ(stats.size(), stats.idle() + stats.in_use());
  }
  {
    v1::TunnelStatus tunnel;
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub->GetTunnelStatus(&context, {}, &tunnel).ok());
    EXPECT_FALSE(tunnel.enabled());
    EXPECT_EQ(tunnel.state(), v1::TUNNEL_STATE_DISABLED);
  }
}

TEST_F(ServerTest, EventServiceRejectsAnUnfilteredSubscription) {
  auto stub = v1::EventService::NewStub(server_.channel());
  grpc::ClientContext context;
  SetDeadline(&context);
  auto stream = stub->Subscribe(&context, {});
  v1::Event event;
  EXPECT_FALSE(stream->Read(&event));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("channel_ids"), std::string::npos);
}

TEST(ServerStartTest, CheckModeStaysNotServingWhilePending) {
  testing::TestDatabase db;
  Config config = db.config();
  config.migrate_mode = MigrateMode::kCheck;
  testing::TestServer server(config);
  absl::SleepFor(absl::Milliseconds(500));  // several probe intervals
  EXPECT_EQ(server.HealthStatus(""), HealthCheckResponse::NOT_SERVING)
      << "MIGRATE_MODE=check must not become ready on an unmigrated database";
  EXPECT_EQ(server.HealthStatus("liveness"), HealthCheckResponse::SERVING);

  auto stub = v1::MigrationService::NewStub(server.channel());
  v1::MigrationStatus status;
  grpc::ClientContext context;
  SetDeadline(&context);
  ASSERT_TRUE(stub->ApplyMigrations(&context, {}, &status).ok());
  EXPECT_TRUE(status.up_to_date());
  EXPECT_TRUE(server.WaitForHealth("", HealthCheckResponse::SERVING, absl::Seconds(10)))
      << "ready once migrations are applied";
}

TEST(ServerStartTest, UnreachableDatabaseIsNotServingButAlive) {
  Config config;
  config.listen_address = "127.0.0.1:0";
  config.postgres_host = "127.0.0.1";
  config.postgres_port = 1;  // nothing listens there
  config.health_probe_interval = absl::Milliseconds(100);
  testing::TestServer server(config);
  EXPECT_EQ(server.HealthStatus("liveness"), HealthCheckResponse::SERVING);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(server.HealthStatus(""), HealthCheckResponse::NOT_SERVING);
}

}  // namespace
}  // namespace chatgenius
