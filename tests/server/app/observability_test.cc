// Metrics endpoint, access logs and request ids through the real server,
// with caller auth on (so the log must show the caller and never the token).
#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chatgenius/db/v1/event_service.grpc.pb.h"
#include "chatgenius/db/v1/user_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/common/log.h"
#include "server/migrate/migrator.h"
#include "tests/support/test_database.h"
#include "tests/support/test_server.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;
using grpc::health::v1::HealthCheckResponse;

constexpr char kToken[] = "s3cret-gateway";  // sha256 below

class ObservabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string tokens = std::string(std::getenv("TEST_TMPDIR")) + "/tokens";
    std::ofstream(tokens)
        << "f32a02c54bd11004e2988582fa7a4a89650593f8592309c9a11be3781b4a4a80  chat-gateway\n";
    Config config = db_.config();
    config.auth_tokens_file = tokens;
    config.metrics_address = "127.0.0.1:0";
    server_ = std::make_unique<testing::TestServer>(config);
    ASSERT_GT(server_->server()->metrics_port(), 0);
    ASSERT_TRUE(server_->WaitForHealth("", HealthCheckResponse::SERVING, absl::Seconds(20)));
    users_ = v1::UserService::NewStub(server_->channel());
  }

  std::string Scrape(const std::string& path = "/metrics", int* status = nullptr) {
    httplib::Client http("127.0.0.1", server_->server()->metrics_port());
    httplib::Result result = http.Get(path);
    EXPECT_TRUE(result) << "metrics endpoint unreachable";
    if (!result) return "";
    if (status != nullptr) *status = result->status;
    return result->body;
  }

  // Scrapes until `line` appears (metrics are updated as calls finish,
  // which may be just after the client saw the response).
  bool WaitForMetric(const std::string& line) {
    for (int i = 0; i < 100; ++i) {
      if (absl::StrContains(Scrape(), line + "\n")) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    ADD_FAILURE() << "metric line never appeared: " << line << "\n" << Scrape();
    return false;
  }

  void Authorize(grpc::ClientContext* context) {
    testing::SetDeadline(context);
    context->AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
  }

  testing::TestDatabase db_;
  std::unique_ptr<testing::TestServer> server_;
  std::unique_ptr<v1::UserService::Stub> users_;
};

TEST_F(ObservabilityTest, RpcsAreCountedByMethodAndCodeWithLatency) {
  v1::CreateUserRequest create;
  create.mutable_user()->set_username("metric");
  create.mutable_user()->set_email("metric@example.com");
  create.mutable_user()->set_display_name("Metric");
  v1::User user;
  grpc::ClientContext c1;
  Authorize(&c1);
  ASSERT_TRUE(users_->CreateUser(&c1, create, &user).ok());
  v1::GetUserRequest missing;
  missing.set_id("01JAAAAAAAAAAAAAAAAAAAAAAA");
  grpc::ClientContext c2;
  Authorize(&c2);
  EXPECT_EQ(users_->GetUser(&c2, missing, &user).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext c3;  // no token
  testing::SetDeadline(&c3);
  EXPECT_EQ(users_->GetUser(&c3, missing, &user).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  WaitForMetric(
      "chatgenius_rpc_requests_total{method=\"chatgenius.db.v1.UserService/CreateUser\","
      "code=\"OK\"} 1");
  WaitForMetric(
      "chatgenius_rpc_requests_total{method=\"chatgenius.db.v1.UserService/GetUser\","
      "code=\"NOT_FOUND\"} 1");
  WaitForMetric(
      "chatgenius_rpc_duration_seconds_bucket{method=\"chatgenius.db.v1.UserService/CreateUser\","
      "code=\"OK\",le=\"+Inf\"} 1");
  WaitForMetric("chatgenius_auth_refused_total 1");
  const std::string text = Scrape();
  EXPECT_TRUE(absl::StrContains(text, "# TYPE chatgenius_rpc_duration_seconds histogram\n"));
  absl::StatusOr<std::vector<MigrationFile>> migrations = BuiltinMigrations();
  ASSERT_TRUE(migrations.ok() && !migrations->empty());
  EXPECT_TRUE(absl::StrContains(
      text, absl::StrCat("chatgenius_schema_version ", migrations->back().version, "\n")))
      << "the newest built-in migration, applied at start\n"
      << text;
  EXPECT_TRUE(absl::StrContains(
      text, absl::StrCat("chatgenius_schema_expected_version ", migrations->back().version, "\n")));
  EXPECT_TRUE(absl::StrContains(text, "chatgenius_schema_current 1\n"));
  EXPECT_TRUE(absl::StrContains(text, "chatgenius_ready 1\n"));
  EXPECT_TRUE(absl::StrContains(
      text,
      absl::StrCat("chatgenius_pool_max_size ", server_->server()->pool().Stats().max_size, "\n")));
  EXPECT_TRUE(absl::StrContains(text, "chatgenius_pool_sv_idle "));
  EXPECT_TRUE(absl::StrContains(text, "chatgenius_tunnel_enabled 0\n"));
  // Every limit has its series (zeros included), named by its setting, and
  // the cancel watcher's counters are there.
  EXPECT_TRUE(absl::StrContains(text, "# TYPE chatgenius_limit_hits_total counter\n"));
  for (const char* setting :
       {"MAX_RESPONSE_BYTES", "MAX_ATTACHMENTS_PER_MESSAGE", "MAX_EMOJI_PER_MESSAGE",
        "MAX_REACTIONS_PER_USER_PER_MESSAGE", "STORAGE_URL_SCHEMES", "EVENT_STREAM_QUEUE",
        "EVENT_STREAM_QUEUE_BYTES", "EVENT_STREAM_WRITE_TIMEOUT_MS", "MAX_EVENT_STREAMS",
        "MAX_EVENT_STREAMS_PER_CALLER", "POSTGRES_LOCK_TIMEOUT_MS",
        "POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_MS"}) {
    EXPECT_TRUE(absl::StrContains(
        text, absl::StrCat("chatgenius_limit_hits_total{limit=\"", setting, "\"} ")))
        << setting;
  }
  EXPECT_TRUE(absl::StrContains(text, "chatgenius_db_connections_cut_total "));
  EXPECT_TRUE(absl::StrContains(text, "chatgenius_db_cancels_sent_total "));
  EXPECT_TRUE(absl::StrContains(text, "chatgenius_events_listen_connected 1\n"));

  int status = 0;
  Scrape("/other", &status);
  EXPECT_EQ(status, 404);
}

TEST_F(ObservabilityTest, EventStreamsAreCountedWhileOpen) {
  v1::CreateUserRequest create;
  create.mutable_user()->set_username("listener");
  create.mutable_user()->set_email("listener@example.com");
  create.mutable_user()->set_display_name("Listener");
  v1::User user;
  grpc::ClientContext c1;
  Authorize(&c1);
  ASSERT_TRUE(users_->CreateUser(&c1, create, &user).ok());

  auto events = v1::EventService::NewStub(server_->channel());
  grpc::ClientContext stream_context;
  Authorize(&stream_context);
  v1::SubscribeRequest subscribe;
  subscribe.set_user_id(user.id());
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader =
      events->Subscribe(&stream_context, subscribe);
  WaitForMetric("chatgenius_events_subscribers 1");
  stream_context.TryCancel();
  reader->Finish();
  WaitForMetric("chatgenius_events_subscribers 0");
  WaitForMetric(
      "chatgenius_rpc_requests_total{method=\"chatgenius.db.v1.EventService/Subscribe\","
      "code=\"CANCELLED\"} 1");
}

// A client that hangs up is not a server error: the call is counted and
// logged with the code the client saw (CANCELLED), below error level, so an
// error-ratio alert does not fire on clients closing their health watches.
TEST_F(ObservabilityTest, AClientHangingUpIsCountedAsTheClientSawIt) {
  ConfigureLogging(LogFormat::kJson, LogLevel::kDebug);
  ::testing::internal::CaptureStderr();
  auto health = grpc::health::v1::Health::NewStub(server_->channel());
  grpc::ClientContext watch_context;
  testing::SetDeadline(&watch_context, absl::Seconds(30));
  grpc::health::v1::HealthCheckRequest request;
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> watch =
      health->Watch(&watch_context, request);
  HealthCheckResponse first;
  ASSERT_TRUE(watch->Read(&first)) << "the current status comes at once";
  watch_context.TryCancel();
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::CANCELLED);
  WaitForMetric(
      "chatgenius_rpc_requests_total{method=\"grpc.health.v1.Health/Watch\","
      "code=\"CANCELLED\"} 1");
  const std::string log = ::testing::internal::GetCapturedStderr();
  ConfigureLogging(LogFormat::kText, LogLevel::kInfo);
  EXPECT_FALSE(
      absl::StrContains(Scrape(), "method=\"grpc.health.v1.Health/Watch\",code=\"UNKNOWN\""))
      << Scrape();
  EXPECT_TRUE(
      absl::StrContains(log, "\"method\":\"grpc.health.v1.Health/Watch\",\"code\":\"CANCELLED\""))
      << log;
  EXPECT_FALSE(absl::StrContains(log, "\"level\":\"error\"")) << log;
}

TEST_F(ObservabilityTest, RequestIdsAreKeptOrMadeAndLoggedWithoutTheToken) {
  ConfigureLogging(LogFormat::kJson, LogLevel::kDebug);
  ::testing::internal::CaptureStderr();
  v1::GetUserRequest missing;
  missing.set_id("01JAAAAAAAAAAAAAAAAAAAAAAA");
  v1::User user;

  grpc::ClientContext kept;
  Authorize(&kept);
  kept.AddMetadata("x-request-id", "req-42");
  EXPECT_EQ(users_->GetUser(&kept, missing, &user).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext made;
  Authorize(&made);
  made.AddMetadata("x-request-id", "not usable!");
  EXPECT_EQ(users_->GetUser(&made, missing, &user).error_code(), grpc::StatusCode::NOT_FOUND);
  WaitForMetric(
      "chatgenius_rpc_requests_total{method=\"chatgenius.db.v1.UserService/GetUser\","
      "code=\"NOT_FOUND\"} 2");
  const std::string log = ::testing::internal::GetCapturedStderr();
  ConfigureLogging(LogFormat::kText, LogLevel::kInfo);

  auto header = [](const grpc::ClientContext& c) {
    auto it = c.GetServerInitialMetadata().find("x-request-id");
    return it == c.GetServerInitialMetadata().end()
               ? std::string()
               : std::string(it->second.data(), it->second.size());
  };
  EXPECT_EQ(header(kept), "req-42");
  const std::string made_id = header(made);
  EXPECT_EQ(made_id.size(), 26u) << "a ULID replaces an unusable id: " << made_id;

  EXPECT_TRUE(absl::StrContains(
      log,
      "\"msg\":\"rpc\",\"request_id\":\"req-42\",\"method\":\"chatgenius.db.v1.UserService/"
      "GetUser\",\"code\":\"NOT_FOUND\""))
      << log;
  EXPECT_TRUE(absl::StrContains(log, absl::StrCat("\"request_id\":\"", made_id, "\"")));
  EXPECT_TRUE(absl::StrContains(log, "\"caller\":\"chat-gateway\""));
  EXPECT_FALSE(absl::StrContains(log, kToken)) << "tokens are never logged";
  EXPECT_FALSE(absl::StrContains(log, "not usable!"));
}

}  // namespace
}  // namespace chatgenius
