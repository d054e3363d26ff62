// The chatgenius-db binary, run as an operator would, against a real server.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "server/common/ulid.h"
#include "tests/support/legacy_schema.h"
#include "tests/support/test_database.h"
#include "tests/support/test_server.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

struct CliRun {
  int exit_code;
  std::string output;  // stdout and stderr
};

std::string CliBinary() {
  return std::string(std::getenv("TEST_SRCDIR")) + "/chatgenius_db/client/cli";
}

CliRun Shell(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

CliRun Cli(const std::string& args, const std::string& env = "") {
  return Shell(absl::StrCat(env, " ", CliBinary(), " ", args, " 2>&1"));
}

class CliTest : public ::testing::Test {
 protected:
  CliTest() : server_(db_.config()) {
    server_.WaitForHealth("", grpc::health::v1::HealthCheckResponse::SERVING, absl::Seconds(10));
    target_ = absl::StrCat("--target=", server_.address());
  }
  testing::TestDatabase db_;
  testing::TestServer server_;
  std::string target_;
};

TEST_F(CliTest, HealthExitCodeFollowsReadiness) {
  CliRun ready = Cli(absl::StrCat(target_, " health"));
  EXPECT_EQ(ready.exit_code, 0) << ready.output;
  EXPECT_TRUE(absl::StrContains(ready.output, "SERVING")) << ready.output;
  CliRun json = Cli(absl::StrCat(target_, " --json health --service=liveness"));
  EXPECT_EQ(json.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(json.output, R"("status":"SERVING")")) << json.output;

  Config broken;
  broken.listen_address = "127.0.0.1:0";
  broken.postgres_host = "127.0.0.1";
  broken.postgres_port = 1;
  broken.health_probe_interval = absl::Milliseconds(50);
  testing::TestServer unready(broken);
  absl::SleepFor(absl::Milliseconds(300));
  CliRun down = Cli(absl::StrCat("--target=", unready.address(), " health"));
  EXPECT_EQ(down.exit_code, 1) << "NOT_SERVING must fail a container HEALTHCHECK: " << down.output;
  EXPECT_TRUE(absl::StrContains(down.output, "NOT_SERVING")) << down.output;
  CliRun nobody = Cli("--target=127.0.0.1:1 --timeout_ms=500 health");
  EXPECT_EQ(nobody.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(nobody.output, "error: ")) << nobody.output;
}

TEST_F(CliTest, MigrateStatusValidateAndUp) {
  CliRun status = Cli(absl::StrCat(target_, " migrate status"));
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_TRUE(absl::StrContains(status.output, "up to date")) << status.output;
  EXPECT_TRUE(absl::StrContains(status.output, "APPLIED")) << status.output;
  CliRun json = Cli(absl::StrCat(target_, " --json migrate status"));
  EXPECT_TRUE(absl::StrContains(json.output, R"("upToDate":true)")) << json.output;
  EXPECT_EQ(Cli(absl::StrCat(target_, " migrate validate")).exit_code, 0);
  EXPECT_EQ(Cli(absl::StrCat(target_, " migrate up")).exit_code, 0);
  CliRun bad = Cli(absl::StrCat(target_, " migrate sideways"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

TEST_F(CliTest, OperatorViews) {
  CliRun pool = Cli(absl::StrCat(target_, " --json pool stats"));
  EXPECT_EQ(pool.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(pool.output, R"("maxSize":10)")) << pool.output;
  CliRun tunnel = Cli(absl::StrCat(target_, " tunnel status"));
  EXPECT_TRUE(absl::StrContains(tunnel.output, "TUNNEL_STATE_DISABLED")) << tunnel.output;
  CliRun info = Cli(absl::StrCat(target_, " server info"));
  EXPECT_TRUE(absl::StrContains(info.output, "postgres_version")) << info.output;
  // No replicas configured: none listed, POSTGRES_REPLICA_MAX_LAG_MS shown.
  CliRun hosts = Cli(absl::StrCat(target_, " hosts"));
  EXPECT_EQ(hosts.exit_code, 0) << hosts.output;
  EXPECT_TRUE(absl::StrContains(hosts.output, "max_lag")) << hosts.output;
  EXPECT_FALSE(absl::StrContains(hosts.output, "replicas")) << hosts.output;
}

TEST_F(CliTest, ModelCommandsAndErrors) {
  CliRun user = Cli(absl::StrCat(target_, " create-user --username=ada --email=ada@example.com"));
  ASSERT_EQ(user.exit_code, 0) << user.output;
  const std::string ada = user.output.substr(0, 26);
  CliRun dup = Cli(absl::StrCat(target_, " create-user --username=ada --email=other@example.com"));
  EXPECT_EQ(dup.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(dup.output, "error: ALREADY_EXISTS: user.username")) << dup.output;
  CliRun invalid = Cli(absl::StrCat(target_, " create-user --username=x --email=nope"));
  EXPECT_TRUE(absl::StrContains(invalid.output, "INVALID_ARGUMENT")) << invalid.output;

  auto client = client::Client::Create({server_.address()});
  ASSERT_TRUE(client.ok());
  v1::CreateChannelRequest cc;
  cc.mutable_channel()->set_name("general");
  cc.mutable_channel()->set_type(v1::CHANNEL_TYPE_PUBLIC);
  cc.set_creator_id(ada);
  absl::StatusOr<v1::Channel> general = (*client)->CreateChannel(cc);
  ASSERT_TRUE(general.ok()) << general.status();
  const std::string before = std::to_string(db_.LatestEventPosition());

  CliRun post = Cli(absl::StrCat(target_, " post-message --channel=", general->id(),
                                 " --author=", ada, " --content='hello from the CLI'"));
  ASSERT_EQ(post.exit_code, 0) << post.output;
  CliRun list =
      Cli(absl::StrCat(target_, " list-messages --channel=", general->id(), " --viewer=", ada));
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(list.output, "hello from the CLI")) << list.output;
  EXPECT_TRUE(absl::StrContains(list.output, "ada")) << list.output;

  CliRun tail = Cli(absl::StrCat(target_, " tail-events --channel=", general->id(),
                                 " --viewer=", ada, " --after=", before, " --count=1"));
  EXPECT_EQ(tail.exit_code, 0) << tail.output;
  EXPECT_TRUE(absl::StrContains(tail.output, "MESSAGE_CREATED")) << tail.output;
  CliRun unknown = Cli(absl::StrCat(target_, " frobnicate"));
  EXPECT_EQ(unknown.exit_code, 2);
}

// Everything a newcomer tries first, with the binary alone (no grpcurl,
// no code): users, a channel, joining, talking, reading, leaving.
TEST_F(CliTest, ANewcomerHoldsAConversationWithTheCliAlone) {
  auto run = [&](const std::string& args) {
    CliRun r = Cli(absl::StrCat(target_, " ", args));
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.output;
    return r.output;
  };
  auto id = [](const std::string& output) { return output.substr(0, 26); };
  const std::string ada = id(run("create-user --username=ada --email=ada@example.com"));
  const std::string bob = id(run("create-user --username=bob --email=bob@example.com"));
  const std::string general = id(run("create-channel --name=general --creator=" + ada));
  ASSERT_EQ(general.size(), 26u);
  run(absl::StrCat("add-member --channel=", general, " --member=", bob, " --actor=", bob));
  const std::string hello = id(run(absl::StrCat(
      "post-message --channel=", general, " --author=", ada, " --content='hello bob, welcome'")));

  EXPECT_TRUE(absl::StrContains(run("list-channels --user=" + bob), "general"));
  EXPECT_TRUE(absl::StrContains(
      run(absl::StrCat("get-message --message=", hello, " --viewer=", bob)), "hello bob, welcome"));
  EXPECT_TRUE(absl::StrContains(
      run(absl::StrCat("search-messages --user=", bob, " --query=welcome")), hello));
  EXPECT_TRUE(absl::StrContains(
      run(absl::StrCat("react --message=", hello, " --user=", bob, " --emoji=:wave:")), ":wave:"));
  EXPECT_TRUE(absl::StrContains(run(absl::StrCat("--json mark-read --channel=", general,
                                                 " --user=", bob, " --message=", hello)),
                                absl::StrCat("\"lastReadMessageId\":\"", hello, "\"")));
  EXPECT_TRUE(absl::StrContains(
      run(absl::StrCat("set-status --user=", bob, " --presence=away --text=lunch")), "lunch"));

  run(absl::StrCat("remove-member --channel=", general, " --member=", bob, " --actor=", bob));
  CliRun denied = Cli(absl::StrCat(target_, " get-message --message=", hello, " --viewer=", bob));
  EXPECT_EQ(denied.exit_code, 0) << "a public channel stays readable after leaving";
  run(absl::StrCat("archive-channel --channel=", general, " --actor=", ada));
  CliRun archived = Cli(absl::StrCat(target_, " post-message --channel=", general,
                                     " --author=", ada, " --content=late"));
  EXPECT_EQ(archived.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(archived.output, "error: FAILED_PRECONDITION: channel is archived"))
      << archived.output;
  EXPECT_TRUE(absl::StrContains(run("list-channels --user=" + ada + " --archived"), "yes"))
      << "listed as archived";
  run(absl::StrCat("unarchive-channel --channel=", general, " --actor=", ada));
  CliRun bad_role = Cli(absl::StrCat(target_, " add-member --channel=", general, " --member=", bob,
                                     " --actor=", ada, " --role=king"));
  EXPECT_EQ(bad_role.exit_code, 2) << "a usage error, refused before any call";
  EXPECT_TRUE(absl::StrContains(bad_role.output, "--role: must be member, admin or owner"))
      << bad_role.output;
}

TEST_F(CliTest, SetupCreatesAndMigratesThenVerifyLists) {
  Config c = db_.config();
  const std::string fresh = db_.name() + "_setup";
  const std::string env = absl::StrCat(
      "POSTGRES_HOST=", c.postgres_host, " POSTGRES_PORT=", c.postgres_port,
      " POSTGRES_USER=", c.postgres_user, " POSTGRES_SSLMODE=disable TEST_POSTGRES_DB=", fresh);
  CliRun setup = Cli("setup --test", env);
  EXPECT_EQ(setup.exit_code, 0) << setup.output;
  EXPECT_TRUE(absl::StrContains(setup.output, "created database " + fresh)) << setup.output;
  EXPECT_TRUE(absl::StrContains(setup.output, "schema at version")) << setup.output;
  CliRun again = Cli("setup --test", env);
  EXPECT_TRUE(absl::StrContains(again.output, "exists")) << again.output;
  CliRun verify = Cli("verify", absl::StrCat(env, " POSTGRES_DB=", fresh));
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_TRUE(absl::StrContains(verify.output, "server version: 15")) << verify.output;
  EXPECT_TRUE(absl::StrContains(verify.output, "messages")) << verify.output;
  EXPECT_TRUE(absl::StrContains(verify.output, "schema_migrations")) << verify.output;
  db_.AdminExec("DROP DATABASE IF EXISTS " + fresh + " WITH (FORCE)");
}

// import-legacy as an operator runs it: summary on stdout (JSON with
// --json), progress bars only on a terminal, the usual exit codes.
TEST_F(CliTest, ImportLegacyCopiesTheOldDatabaseAndShowsProgressOnATerminal) {
  testing::TestDatabase legacy;
  const std::string user = NewUlid(), channel = NewUlid(), message = NewUlid();
  legacy.Query(testing::LegacySchemaDdl());
  legacy.Query(
      absl::StrCat("INSERT INTO users (id, auth0_id, email, username, full_name) VALUES ('", user,
                   "', 'auth0|1', 'ada@example.com', 'Ada', 'Ada L');",
                   "INSERT INTO channels (id, name, type, created_by) VALUES ('", channel,
                   "', 'general', "
                   "'public', '",
                   user, "');", "INSERT INTO messages (id, channel_id, user_id, content) VALUES ('",
                   message, "', '", channel, "', '", user, "', 'from the old app')"));
  Config c = db_.config();
  const std::string env =
      absl::StrCat("POSTGRES_HOST=", c.postgres_host, " POSTGRES_PORT=", c.postgres_port,
                   " POSTGRES_USER=", c.postgres_user, " POSTGRES_DB=", c.postgres_db,
                   " POSTGRES_SSLMODE=disable");
  const std::string from = absl::StrCat("--from='", legacy.conninfo(), "'");

  CliRun dry = Cli(absl::StrCat("import-legacy --dry_run ", from), env);
  EXPECT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_TRUE(absl::StrContains(dry.output, "dry run: nothing was written")) << dry.output;
  EXPECT_FALSE(absl::StrContains(dry.output, "rows/s")) << "no bars without a terminal";

  // Under script(1) (util-linux) stderr is a terminal: a bar per table,
  // then the summary.
  CliRun tty = Shell(absl::StrCat(env, " script -qec \"", CliBinary(),
                                  " import-legacy --batch_size=1 ", from, "\" /dev/null 2>&1"));
  EXPECT_EQ(tty.exit_code, 0) << tty.output;
  EXPECT_TRUE(absl::StrContains(tty.output, "messages       [####################]")) << tty.output;
  EXPECT_TRUE(absl::StrContains(tty.output, "rows/s")) << tty.output;
  EXPECT_TRUE(absl::StrContains(tty.output, "IMPORTED")) << tty.output;

  EXPECT_EQ(db_.Query(absl::StrCat("SELECT content FROM messages WHERE id = '", message, "'")),
            "from the old app");

  CliRun again = Cli(absl::StrCat("--json import-legacy ", from), env);
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(absl::StrContains(again.output,
                                "{\"table\":\"users\",\"read\":1,\"imported\":0,"
                                "\"alreadyPresent\":1"))
      << again.output;

  EXPECT_EQ(Cli("import-legacy", env).exit_code, 2) << "--from is required";
  CliRun wrong = Cli(absl::StrCat("import-legacy --from='", db_.conninfo(), "'"), env);
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(wrong.output, "FAILED_PRECONDITION")) << wrong.output;
}

TEST_F(CliTest, ExampleProgramRunsAgainstARealServer) {
  const std::string example =
      std::string(std::getenv("TEST_SRCDIR")) + "/chatgenius_db/client/example/example";
  FILE* pipe = popen((example + " --target=" + server_.address() + " 2>&1").c_str(), "r");
  std::string output;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  int status = pclose(pipe);
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_TRUE(absl::StrContains(output, "Hello from the example!")) << output;
  EXPECT_TRUE(absl::StrContains(output, "EVENT_KIND_MESSAGE_CREATED")) << output;
}

}  // namespace
}  // namespace chatgenius
