// Readiness follows the database: NOT_SERVING when PostgreSQL stops, back to
// SERVING (and RPCs succeed) when it returns, without restarting the server.
#include <thread>
#include <vector>

#include <grpcpp/client_context.h>

#include "absl/synchronization/mutex.h"

#include "chatgenius/db/v1/user_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/private_postgres.h"
#include "tests/support/test_server.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;
using grpc::health::v1::HealthCheckResponse;

TEST(ReadinessFaultTest, FollowsPostgresDownAndUp) {
  testing::PrivatePostgres pg;
  ASSERT_GT(pg.port(), 0);
  Config config = pg.ServerConfig();
  config.health_failure_threshold = 2;
  testing::TestServer server(config);
  ASSERT_TRUE(server.WaitForHealth("", HealthCheckResponse::SERVING, absl::Seconds(15)));

  // A Watch stream (what Kubernetes-style watchers use) must see the same
  // transitions as Check.
  auto health = grpc::health::v1::Health::NewStub(server.channel());
  grpc::ClientContext watch_context;
  testing::SetDeadline(&watch_context, absl::Seconds(60));
  grpc::health::v1::HealthCheckRequest watch_request;
  auto watch = health->Watch(&watch_context, watch_request);
  absl::Mutex watch_mu;
  std::vector<HealthCheckResponse::ServingStatus> watched;
  std::thread watcher([&] {
    HealthCheckResponse r;
    while (watch->Read(&r)) {
      absl::MutexLock lock(&watch_mu);
      watched.push_back(r.status());
    }
  });

  ASSERT_TRUE(pg.Stop());
  EXPECT_TRUE(server.WaitForHealth("", HealthCheckResponse::NOT_SERVING, absl::Seconds(10)))
      << "readiness must drop while PostgreSQL is down";
  EXPECT_TRUE(server.WaitForHealth(v1::UserService::service_full_name(),
                                   HealthCheckResponse::NOT_SERVING, absl::Seconds(1)));
  EXPECT_EQ(server.HealthStatus("liveness"), HealthCheckResponse::SERVING)
      << "the process itself is still alive";

  auto stub = v1::UserService::NewStub(server.channel());
  {
    v1::CreateUserRequest request;
    request.mutable_user()->set_username("ada");
    request.mutable_user()->set_email("ada@example.com");
    v1::User out;
    grpc::ClientContext context;
    testing::SetDeadline(&context, absl::Seconds(10));
    grpc::Status s = stub->CreateUser(&context, request, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
        << "calls fail fast and retryable while the database is down: " << s.error_message();
  }

  ASSERT_TRUE(pg.Start());
  EXPECT_TRUE(server.WaitForHealth("", HealthCheckResponse::SERVING, absl::Seconds(15)))
      << "readiness must return with PostgreSQL";
  v1::CreateUserRequest request;
  request.mutable_user()->set_username("ada");
  request.mutable_user()->set_email("ada@example.com");
  v1::User out;
  grpc::ClientContext context;
  testing::SetDeadline(&context, absl::Seconds(10));
  grpc::Status s = stub->CreateUser(&context, request, &out);
  EXPECT_TRUE(s.ok()) << "RPCs succeed again without a restart: " << s.error_message();

  watch_context.TryCancel();
  watcher.join();
  absl::MutexLock lock(&watch_mu);
  std::vector<HealthCheckResponse::ServingStatus> want = {
      HealthCheckResponse::SERVING, HealthCheckResponse::NOT_SERVING, HealthCheckResponse::SERVING};
  EXPECT_EQ(watched, want) << "Watch streams the real readiness transitions";
}

}  // namespace
}  // namespace chatgenius
