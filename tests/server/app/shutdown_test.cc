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
#include "tests/support/server_process.h"
#include "tests/support/test_database.h"

namespace chatgenius {
namespace {

using grpc::health::v1::HealthCheckResponse;

TEST(ShutdownTest, SigtermDrainsThenExitsZero) {
  testing::TestDatabase db;
  Config c = db.config();
  const int port = testing::FreeLoopbackPort();
  pid_t pid = testing::StartServerProcess(c, port, {{"SHUTDOWN_DRAIN_MS", "1500"}});
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
