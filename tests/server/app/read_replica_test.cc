// Read replicas against real PostgreSQL: a private primary and a streaming
// standby made from it with pg_basebackup -R, and the real server with
// POSTGRES_REPLICA_HOSTS naming the standby. What is checked is what a
// caller and an operator rely on: reads are served by the standby, a
// caller's reads see its own writes whatever the standby's lag, a read
// without the token is stale by at most POSTGRES_REPLICA_MAX_LAG_MS, and a
// standby that stops, lags or is promoted stops serving reads without any
// call failing.
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/create_channel.h>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chatgenius/db/v1/message_service.grpc.pb.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "server/db/lsn.h"
#include "server/db/replica.h"
#include "server/db/wal_clock.h"
#include "tests/support/private_postgres.h"
#include "tests/support/private_sshd.h"
#include "tests/support/test_server.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;
using grpc::health::v1::HealthCheckResponse;

std::string ConnInfo(int port) {
  return absl::StrCat("host=127.0.0.1 port=", port, " dbname=postgres user=postgres");
}

// Sql runs `sql` on the cluster at `port` and returns the first field.
std::string Sql(int port, const std::string& sql) {
  pqxx::connection conn(ConnInfo(port));
  pqxx::nontransaction txn(conn);
  pqxx::result r = txn.exec(sql);
  return r.empty() || r[0][0].is_null() ? "" : r[0][0].c_str();
}

class ReadReplicaTest : public ::testing::Test {
 protected:
  ReadReplicaTest() : standby_(testing::PrivatePostgres::StandbyOf{primary_}) {}

  void StartServer(absl::Duration max_lag, absl::Duration lsn_wait,
                   absl::Duration check = absl::Milliseconds(50),
                   const std::function<void(Config&)>& adjust = nullptr) {
    Config config = primary_.ServerConfig();
    config.postgres_replica_hosts = {HostPort{"127.0.0.1", standby_.port()}};
    config.postgres_replica_max_lag = max_lag;
    config.postgres_replica_wait = lsn_wait;
    config.postgres_replica_check = check;
    if (adjust) adjust(config);
    server_ = std::make_unique<testing::TestServer>(config);
    ASSERT_TRUE(server_->WaitForHealth("", HealthCheckResponse::SERVING, absl::Seconds(20)));
    client::ClientOptions options;
    options.target = server_->address();
    absl::StatusOr<std::unique_ptr<client::Client>> c = client::Client::Create(options);
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
    untokened_ = v1::MessageService::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
    replica_name_ = absl::StrCat("127.0.0.1:", standby_.port());
  }

  v1::DatabaseHosts Hosts() {
    absl::StatusOr<v1::DatabaseHosts> hosts = client_->GetDatabaseHosts();
    EXPECT_TRUE(hosts.ok()) << hosts.status();
    if (!hosts.ok() || hosts->replicas_size() != 1) {
      ADD_FAILURE() << "want one replica";
      return v1::DatabaseHosts();
    }
    EXPECT_EQ(hosts->replicas(0).name(), replica_name_);
    return *hosts;
  }

  // WaitFor polls GetDatabaseHosts until `want` holds for the replica.
  bool WaitFor(const std::function<bool(const v1::ReplicaHost&)>& want, absl::Duration timeout) {
    const absl::Time end = absl::Now() + timeout;
    while (absl::Now() < end) {
      v1::DatabaseHosts hosts = Hosts();
      if (hosts.replicas_size() == 1 && want(hosts.replicas(0))) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }
  bool WaitForRotation(bool in, absl::Duration timeout = absl::Seconds(20)) {
    return WaitFor([in](const v1::ReplicaHost& r) { return r.in_rotation() == in; }, timeout);
  }
  // WaitForReplay waits until the standby has replayed what this test's
  // client wrote (so reads without a token see it too).
  bool WaitForReplay() {
    absl::StatusOr<Lsn> token = ParseLsn(client_->consistency_token());
    if (!token.ok()) return false;
    return WaitFor(
        [&](const v1::ReplicaHost& r) {
          absl::StatusOr<Lsn> replayed = ParseLsn(r.replay_lsn());
          return replayed.ok() && *replayed >= *token && r.in_rotation();
        },
        absl::Seconds(20));
  }

  // Seed: a user, their public channel and one message, written through
  // the client (which keeps their write positions).
  void Seed() {
    v1::CreateUserRequest u;
    u.mutable_user()->set_username("ada");
    u.mutable_user()->set_email("ada@example.com");
    absl::StatusOr<v1::User> ada = client_->CreateUser(u);
    ASSERT_TRUE(ada.ok()) << ada.status();
    ada_ = *ada;
    v1::CreateChannelRequest c;
    c.mutable_channel()->set_name("general");
    c.mutable_channel()->set_type(v1::CHANNEL_TYPE_PUBLIC);
    c.set_creator_id(ada_.id());
    absl::StatusOr<v1::Channel> general = client_->CreateChannel(c);
    ASSERT_TRUE(general.ok()) << general.status();
    channel_ = *general;
    message_ = Post("first");
  }

  v1::Message Post(const std::string& content) {
    v1::PostMessageRequest p;
    p.set_channel_id(channel_.id());
    p.set_author_id(ada_.id());
    p.set_content(content);
    absl::StatusOr<v1::Message> m = client_->PostMessage(p);
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *m : v1::Message();
  }

  absl::StatusOr<v1::Message> Get(const std::string& id) {
    v1::GetMessageRequest r;
    r.set_id(id);
    r.set_viewer_id(ada_.id());
    return client_->GetMessage(r);
  }

  // GetUntokened reads as a caller that sends no chatgenius-min-lsn.
  grpc::Status GetUntokened(const std::string& id, v1::Message* out) {
    v1::GetMessageRequest r;
    r.set_id(id);
    r.set_viewer_id(ada_.id());
    grpc::ClientContext context;
    testing::SetDeadline(&context);
    return untokened_->GetMessage(&context, r, out);
  }

  // StandbyClientBackends counts client sessions on the standby other than
  // the one asking.
  int StandbyClientBackends() {
    return std::stoi(Sql(standby_.port(),
                         "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client "
                         "backend' AND pid <> pg_backend_pid()"));
  }

  testing::PrivatePostgres primary_;
  testing::PrivatePostgres standby_;
  std::unique_ptr<testing::TestServer> server_;
  std::unique_ptr<client::Client> client_;
  std::unique_ptr<v1::MessageService::Stub> untokened_;
  std::string replica_name_;
  v1::User ada_;
  v1::Channel channel_;
  v1::Message message_;
};

TEST_F(ReadReplicaTest, ABusyReplicaIsNotTakenForADeadOne) {
  ReplicaSettings settings;
  settings.name = "standby";
  settings.pool.conninfo = ConnInfo(standby_.port());
  settings.pool.max_size = 1;
  Replica replica(settings);
  // Every read connection is taken (a long query, say): the check has a
  // connection of its own and still answers.
  absl::StatusOr<PooledConnection> held = replica.pool().Acquire(absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(held.ok()) << held.status();
  WalClock clock(absl::Seconds(10));
  replica.Check(clock, absl::Now() + absl::Milliseconds(500));
  ReplicaStatus status = replica.Status(absl::Seconds(1));
  EXPECT_EQ(status.state, ReplicaState::kStreaming) << status.last_error;
  EXPECT_GT(status.replay_lsn, 0u);
  EXPECT_FALSE(status.in_rotation) << "no primary position sampled: nothing proves it is fresh";
  // A primary position it has replayed, sampled now: fresh, in rotation.
  clock.Record(absl::Now(), status.replay_lsn);
  replica.Check(clock, absl::Now() + absl::Milliseconds(500));
  status = replica.Status(absl::Seconds(1));
  EXPECT_TRUE(status.in_rotation);
  EXPECT_LT(status.staleness, absl::Seconds(1));
  // Stopped: down, and what it had replayed no longer counts.
  ASSERT_TRUE(standby_.Stop());
  replica.Check(clock, absl::Now() + absl::Milliseconds(500));
  status = replica.Status(absl::Seconds(1));
  EXPECT_EQ(status.state, ReplicaState::kDown);
  EXPECT_FALSE(status.in_rotation);
  EXPECT_EQ(status.replay_lsn, 0u) << "a replica that failed proves nothing until checked again";
}

TEST_F(ReadReplicaTest, ReadsRunOnTheStandbyAndSeeTheCallersOwnWrites) {
  // A generous wait: every read must be able to wait for the standby.
  StartServer(absl::Seconds(1), absl::Seconds(5));
  ASSERT_TRUE(WaitForRotation(true)) << "the standby never entered rotation";
  ASSERT_NO_FATAL_FAILURE(Seed());
  EXPECT_FALSE(client_->consistency_token().empty()) << "writes report their WAL position";

  const v1::DatabaseHosts before = Hosts();
  for (int i = 0; i < 20; ++i) {
    // Each read follows a write of this client's: it carries the write's
    // position and must see the write.
    v1::Message posted = Post(absl::StrCat("message ", i));
    absl::StatusOr<v1::Message> read = Get(posted.id());
    ASSERT_TRUE(read.ok()) << "read " << i << ": " << read.status();
    EXPECT_EQ(read->content(), absl::StrCat("message ", i));
  }
  const v1::DatabaseHosts after = Hosts();
  EXPECT_EQ(after.replicas(0).reads_total() - before.replicas(0).reads_total(), 20)
      << "every read went to the standby";
  EXPECT_EQ(after.primary_reads_total(), before.primary_reads_total());
  EXPECT_EQ(after.fallback_lsn_not_replayed_total(), 0);
  EXPECT_GT(StandbyClientBackends(), 0) << "the service holds sessions on the standby";
  EXPECT_EQ(after.replicas(0).state(), "streaming");
  EXPECT_TRUE(after.replicas(0).has_staleness());

  const std::string metrics = server_->server()->RenderMetrics();
  EXPECT_NE(metrics.find(absl::StrCat("chatgenius_db_replica_in_rotation{replica=\"", replica_name_,
                                      "\"} 1")),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(absl::StrCat("chatgenius_db_reads_total{host=\"", replica_name_, "\"}")),
            std::string::npos);
}

TEST_F(ReadReplicaTest, WithReplayPausedTokenReadsStayCorrectAndOthersAreStaleWithinTheBound) {
  const absl::Duration max_lag = absl::Seconds(3);
  StartServer(max_lag, absl::Milliseconds(20));
  ASSERT_TRUE(WaitForRotation(true));
  ASSERT_NO_FATAL_FAILURE(Seed());
  ASSERT_TRUE(WaitForReplay()) << "the standby never replayed the seed";

  Sql(standby_.port(), "SELECT pg_wal_replay_pause()");
  const absl::Time paused_by = absl::Now() + absl::Seconds(10);
  while (Sql(standby_.port(), "SELECT pg_get_wal_replay_pause_state()") != "paused") {
    ASSERT_LT(absl::Now(), paused_by) << "replay did not pause";
    absl::SleepFor(absl::Milliseconds(10));
  }
  const v1::DatabaseHosts before = Hosts();
  const absl::Time written = absl::Now();
  const v1::Message fresh = Post("written while replay is paused");

  // The writer's own read carries the position: the standby cannot serve
  // it within POSTGRES_REPLICA_WAIT_MS, so the primary does.
  absl::StatusOr<v1::Message> own = Get(fresh.id());
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->content(), "written while replay is paused");
  // A reader without the token is served by the standby, stale.
  v1::Message stale;
  grpc::Status s = GetUntokened(fresh.id(), &stale);
  const absl::Duration stale_after = absl::Now() - written;
  ASSERT_LT(stale_after, max_lag) << "too slow to observe the stale window";
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  const v1::DatabaseHosts during = Hosts();
  EXPECT_EQ(during.fallback_lsn_not_replayed_total() - before.fallback_lsn_not_replayed_total(), 1);
  EXPECT_EQ(during.replicas(0).reads_total() - before.replicas(0).reads_total(), 1)
      << "the untokened read";

  // Past the bound the standby leaves rotation and nobody reads stale.
  ASSERT_TRUE(WaitForRotation(false, absl::Seconds(10)));
  EXPECT_GE(absl::Now() - written, max_lag - absl::Milliseconds(200))
      << "left rotation before its staleness could reach the bound";
  const v1::DatabaseHosts out = Hosts();
  EXPECT_EQ(out.replicas(0).state(), "streaming") << "lagging, not down";
  EXPECT_GE(out.replicas(0).staleness().seconds(), 2);
  v1::Message now_fresh;
  s = GetUntokened(fresh.id(), &now_fresh);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(now_fresh.content(), "written while replay is paused");
  EXPECT_GT(Hosts().fallback_none_in_rotation_total(), out.fallback_none_in_rotation_total());

  // Replay resumes: back in rotation, reads on the standby again.
  Sql(standby_.port(), "SELECT pg_wal_replay_resume()");
  ASSERT_TRUE(WaitForRotation(true));
  const int64_t reads = Hosts().replicas(0).reads_total();
  s = GetUntokened(fresh.id(), &now_fresh);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Hosts().replicas(0).reads_total(), reads + 1);
}

TEST_F(ReadReplicaTest, AStandbyThatStopsLeavesRotationWithoutFailingACall) {
  StartServer(absl::Seconds(1), absl::Milliseconds(20));
  ASSERT_TRUE(WaitForRotation(true));
  ASSERT_NO_FATAL_FAILURE(Seed());
  ASSERT_TRUE(WaitForReplay());
  ASSERT_TRUE(standby_.Stop());
  // Reads racing the stop: the standby's failures are retried on the primary.
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<v1::Message> read = Get(message_.id());
    ASSERT_TRUE(read.ok()) << "read " << i << ": " << read.status();
    v1::Message untokened;
    grpc::Status s = GetUntokened(message_.id(), &untokened);
    ASSERT_TRUE(s.ok()) << "untokened read " << i << ": " << s.error_message();
  }
  ASSERT_TRUE(
      WaitFor([](const v1::ReplicaHost& r) { return r.state() == "down"; }, absl::Seconds(10)));
  v1::ReplicaHost down = Hosts().replicas(0);
  EXPECT_FALSE(down.in_rotation());
  EXPECT_FALSE(down.last_error().empty());
  EXPECT_GT(down.checks_failed_total(), 0);
  EXPECT_NE(server_->server()->RenderMetrics().find(
                absl::StrCat("chatgenius_db_replica_up{replica=\"", replica_name_, "\"} 0")),
            std::string::npos);

  ASSERT_TRUE(standby_.Start());
  ASSERT_TRUE(WaitForRotation(true)) << "the restarted standby did not come back";
  const int64_t reads = Hosts().replicas(0).reads_total();
  v1::Message again;
  grpc::Status s = GetUntokened(message_.id(), &again);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Hosts().replicas(0).reads_total(), reads + 1);
}

TEST_F(ReadReplicaTest, AReadTheStandbyCannotAnswerRunsOnThePrimary) {
  // Checks seconds apart, so the reads below reach the stopped standby
  // before any check notices: the read itself must fall back.
  StartServer(absl::Seconds(20), absl::Milliseconds(20), absl::Seconds(5));
  ASSERT_TRUE(WaitForRotation(true));
  ASSERT_NO_FATAL_FAILURE(Seed());
  ASSERT_TRUE(WaitForReplay());
  const std::string checked = Hosts().replicas(0).checked_time().DebugString();
  ASSERT_TRUE(
      WaitFor([&](const v1::ReplicaHost& r) { return r.checked_time().DebugString() != checked; },
              absl::Seconds(10)));
  const absl::Time next_check = absl::Now() + absl::Seconds(5);
  ASSERT_TRUE(standby_.Stop());
  const v1::DatabaseHosts before = Hosts();
  ASSERT_TRUE(before.replicas(0).in_rotation())
      << "a check ran during the stop; too slow a machine";
  for (int i = 0; i < 5; ++i) {
    v1::Message read;
    grpc::Status s = GetUntokened(message_.id(), &read);
    ASSERT_TRUE(s.ok()) << "read " << i << ": " << s.error_message();
    EXPECT_EQ(read.content(), "first");
  }
  ASSERT_LT(absl::Now(), next_check) << "a check may have run; the test proved nothing";
  const v1::DatabaseHosts after = Hosts();
  EXPECT_EQ(after.fallback_replica_failed_total() - before.fallback_replica_failed_total(), 1)
      << "the first read failed on the standby and ran again on the primary";
  EXPECT_EQ(after.replicas(0).state(), "down") << "and took it out of rotation at once";
  EXPECT_EQ(after.primary_reads_total() - before.primary_reads_total(), 5);
}

TEST_F(ReadReplicaTest, ThroughTheSshTunnelEachReplicaHasAForwardOfItsOwn) {
  testing::PrivateSshd sshd;
  // The standby too is named as the SSH host sees it.
  StartServer(absl::Seconds(1), absl::Milliseconds(20), absl::Milliseconds(50),
              [&](Config& c) { c = testing::TunnelledTo(c, sshd, "127.0.0.1", primary_.port()); });
  ASSERT_TRUE(WaitForRotation(true));
  ASSERT_NO_FATAL_FAILURE(Seed());
  ASSERT_TRUE(WaitForReplay());
  const int64_t reads = Hosts().replicas(0).reads_total();
  v1::Message read;
  grpc::Status s = GetUntokened(message_.id(), &read);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Hosts().replicas(0).reads_total(), reads + 1);
  // The replica's sessions run through the bastion: frozen, its checks
  // time out (a direct connection would still answer).
  sshd.Pause();
  const bool down =
      WaitFor([](const v1::ReplicaHost& r) { return r.state() == "down"; }, absl::Seconds(10));
  sshd.Resume();
  EXPECT_TRUE(down) << "the standby kept answering with the bastion frozen: not tunnelled";
  EXPECT_TRUE(WaitForRotation(true)) << "back once the bastion answers";
}

TEST_F(ReadReplicaTest, APromotedStandbyLeavesRotation) {
  StartServer(absl::Seconds(1), absl::Milliseconds(20));
  ASSERT_TRUE(WaitForRotation(true));
  ASSERT_NO_FATAL_FAILURE(Seed());
  ASSERT_TRUE(standby_.Promote());
  ASSERT_TRUE(
      WaitFor([](const v1::ReplicaHost& r) { return r.state() == "promoted"; }, absl::Seconds(10)));
  const v1::DatabaseHosts before = Hosts();
  EXPECT_FALSE(before.replicas(0).in_rotation());
  v1::Message read;
  grpc::Status s = GetUntokened(message_.id(), &read);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const v1::DatabaseHosts after = Hosts();
  EXPECT_EQ(after.replicas(0).reads_total(), before.replicas(0).reads_total())
      << "a promoted host is somebody's primary now, not our replica";
  EXPECT_EQ(after.primary_reads_total(), before.primary_reads_total() + 1);
}

TEST_F(ReadReplicaTest, APrimaryTurnedReadOnlyHasItsConnectionsReplaced) {
  StartServer(absl::Seconds(1), absl::Milliseconds(20));
  ASSERT_NO_FATAL_FAILURE(Seed());
  const int64_t broken = server_->server()->pool().Stats().broken_total;
  // What an HA engine does to a primary it demotes.
  Sql(primary_.port(), "ALTER SYSTEM SET default_transaction_read_only = on");
  Sql(primary_.port(), "SELECT pg_reload_conf()");
  absl::SleepFor(absl::Milliseconds(300));  // the backends take the reload between commands
  v1::PostMessageRequest p;
  p.set_channel_id(channel_.id());
  p.set_author_id(ada_.id());
  p.set_content("refused");
  absl::StatusOr<v1::Message> refused = client_->PostMessage(p);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_GT(server_->server()->pool().Stats().broken_total, broken)
      << "the read-only session was discarded, not lent again";

  Sql(primary_.port(), "ALTER SYSTEM RESET default_transaction_read_only");
  Sql(primary_.port(), "SELECT pg_reload_conf()");
  absl::SleepFor(absl::Milliseconds(300));
  p.set_content("accepted");
  absl::StatusOr<v1::Message> accepted = client_->PostMessage(p);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
}

}  // namespace
}  // namespace chatgenius
