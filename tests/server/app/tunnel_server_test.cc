// The whole server through the SSH tunnel: RPCs cross it, readiness and
// AdminService follow it, it recovers from a killed sshd by itself (quickly
// after outages short and long, at the default backoff), and a frozen sshd
// (SIGSTOP: TCP up, nothing answers) holds no call or pool connection past
// its deadline plus POSTGRES_CANCEL_GRACE_MS.
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <thread>
#include <vector>

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
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
  return testing::TunnelledThrough(db.config(), sshd);
}

grpc::Status CreateUser(testing::TestServer& server, const std::string& name,
                        absl::Duration deadline = absl::Seconds(5)) {
  auto stub = v1::UserService::NewStub(server.channel());
  v1::CreateUserRequest request;
  request.mutable_user()->set_username(name);
  request.mutable_user()->set_email(name + "@example.com");
  v1::User out;
  grpc::ClientContext context;
  testing::SetDeadline(&context, deadline);
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

TEST(TunnelServerTest, OutagesOfTwoAndTwentySecondsRecoverWithinFiveSecondsWhateverTheBackoff) {
  testing::PrivateSshd sshd;
  testing::TestDatabase db;
  Config c = TunnelConfig(db, sshd);
  // A backoff of 7.5-15 s (15 s with jitter), like a doubled delay late in
  // a long outage: the next SSH attempt after the 2 s outage is due at
  // least 5.5 s after sshd is back, so only the bastion probe (every
  // 500 ms while the port refuses) can bring the tunnel back within 5 s.
  c.ssh_retry_delay = absl::Seconds(15);
  c.ssh_retry_max_delay = absl::Seconds(15);
  testing::TestServer server(c);
  ASSERT_TRUE(server.WaitForHealth("", HealthCheckResponse::SERVING, absl::Seconds(15)));
  for (absl::Duration outage : {absl::Seconds(2), absl::Seconds(20)}) {
    sshd.Kill();
    ASSERT_TRUE(server.WaitForHealth("", HealthCheckResponse::NOT_SERVING, absl::Seconds(10)));
    absl::SleepFor(outage);
    ASSERT_TRUE(sshd.Start());
    const absl::Time back = absl::Now();
    ASSERT_TRUE(server.WaitForHealth("", HealthCheckResponse::SERVING, absl::Seconds(40)));
    const absl::Duration recovered = absl::Now() - back;
    std::cout << "outage " << outage << ": SERVING " << recovered << " after sshd answered\n";
    EXPECT_LT(recovered, absl::Seconds(5))
        << "after a " << outage << " outage, SERVING " << recovered << " after sshd was back";
  }
  EXPECT_TRUE(CreateUser(server, "after_outages").ok());
}

TEST(TunnelServerTest, FrozenSshdHoldsNoCallOrConnectionPastDeadlinePlusGrace) {
  testing::PrivateSshd sshd;
  testing::TestDatabase db;
  Config c = TunnelConfig(db, sshd);
  // Keepalives as slow as the default, so the tunnel does not notice the
  // freeze during the drill: only the CancelWatcher's cut-off frees calls.
  c.ssh_health_check_interval = absl::Seconds(30);
  c.postgres_cancel_grace = absl::Milliseconds(300);
  c.postgres_connect_timeout = absl::Seconds(2);
  testing::TestServer server(c);
  ASSERT_TRUE(server.WaitForHealth("", HealthCheckResponse::SERVING, absl::Seconds(15)));
  ASSERT_TRUE(CreateUser(server, "before").ok());

  std::atomic<bool> stop{false};
  std::atomic<int> calls{0}, failed{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 3; ++t) {
    load.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        grpc::Status s =
            CreateUser(server, absl::StrCat("frozen_", t, "_", i), absl::Milliseconds(800));
        ++calls;
        if (!s.ok()) ++failed;
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(300));
  sshd.Pause();  // TCP stays up, nothing answers: a black-holed bastion
  absl::SleepFor(absl::Milliseconds(2500));
  stop = true;
  for (std::thread& t : load) t.join();
  EXPECT_GT(failed.load(), 0) << "calls during the freeze fail (at their deadlines)";
  // Every handler lets go: deadline (0.8 s) + grace (0.3 s) for calls on a
  // session, the connect timeout (2 s) for one opening a connection.
  int in_use = -1;
  for (absl::Time until = absl::Now() + absl::Seconds(5); absl::Now() < until;) {
    in_use = server.server()->pool().Stats().in_use;
    if (in_use == 0) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(in_use, 0) << "no pool connection is held on the frozen tunnel";
  EXPECT_EQ(server.HealthStatus("liveness"), HealthCheckResponse::SERVING)
      << "the process itself is fine";
  EXPECT_TRUE(server.WaitForHealth("", HealthCheckResponse::NOT_SERVING, absl::Seconds(5)))
      << "readiness drops: its probe is cut off like any call";

  sshd.Resume();
  EXPECT_TRUE(server.WaitForHealth("", HealthCheckResponse::SERVING, absl::Seconds(15)))
      << "the service recovers when the bastion answers again";
  grpc::Status after = CreateUser(server, "after_thaw");
  EXPECT_TRUE(after.ok()) << after.error_message();
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
