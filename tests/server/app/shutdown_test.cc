// SIGTERM on the real binary: readiness drops at once while calls are still
// served during the drain delay, then the process exits 0.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "tests/support/private_postgres.h"
#include "tests/support/test_database.h"

namespace chatgenius {
namespace {

using grpc::health::v1::HealthCheckResponse;

TEST(ShutdownTest, SigtermDrainsThenExitsZero) {
  testing::TestDatabase db;
  Config c = db.config();
  const int port = testing::FreeLoopbackPort();
  const std::string binary =
      std::string(std::getenv("TEST_SRCDIR")) + "/chatgenius_db/server/chatgenius-db-server";
  pid_t pid = fork();
  if (pid == 0) {
    setenv("LISTEN_ADDRESS", absl::StrCat("127.0.0.1:", port).c_str(), 1);
    setenv("POSTGRES_HOST", c.postgres_host.c_str(), 1);
    setenv("POSTGRES_PORT", std::to_string(c.postgres_port).c_str(), 1);
    setenv("POSTGRES_DB", c.postgres_db.c_str(), 1);
    setenv("POSTGRES_USER", c.postgres_user.c_str(), 1);
    setenv("POSTGRES_SSLMODE", "disable", 1);
    setenv("HEALTH_PROBE_INTERVAL_MS", "100", 1);
    setenv("SHUTDOWN_DRAIN_MS", "1500", 1);
    execl(binary.c_str(), binary.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  client::ClientOptions options;
  options.target = absl::StrCat("127.0.0.1:", port);
  options.max_attempts = 1;
  auto db_client = client::Client::Create(options);
  ASSERT_TRUE(db_client.ok());
  client::Client& cl = **db_client;
  bool ready = false;
  for (absl::Time until = absl::Now() + absl::Seconds(20); !ready && absl::Now() < until;) {
    auto s = cl.Check("");
    ready = s.ok() && *s == HealthCheckResponse::SERVING;
    if (!ready) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(ready);

  absl::Time sent = absl::Now();
  kill(pid, SIGTERM);
  absl::SleepFor(absl::Milliseconds(400));
  auto during = cl.Check("");
  ASSERT_TRUE(during.ok()) << "still answering during the drain: " << during.status();
  EXPECT_EQ(*during, HealthCheckResponse::NOT_SERVING) << "readiness drops at once";
  absl::StatusOr<db::v1::MigrationStatus> served = cl.GetMigrationStatus();
  EXPECT_TRUE(served.ok()) << "calls are still served while load balancers notice: "
                           << served.status();

  int status = 0;
  waitpid(pid, &status, 0);
  absl::Duration took = absl::Now() - sent;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "exit status " << status;
  EXPECT_GE(took, absl::Milliseconds(1400)) << "it waited out the drain delay";
}

}  // namespace
}  // namespace chatgenius
