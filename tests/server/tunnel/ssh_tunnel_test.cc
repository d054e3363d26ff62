// SshTunnel against a real OpenSSH sshd on loopback and a real PostgreSQL
// behind it.
#include "server/tunnel/ssh_tunnel.h"

#include <openssl/md5.h>

#include <cstdlib>
#include <set>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/support/private_sshd.h"
#include "tests/support/test_database.h"

namespace chatgenius {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

class SshTunnelTest : public ::testing::Test {
 protected:
  TunnelSettings Settings() {
    TunnelSettings s;
    s.ssh_host = "127.0.0.1";
    s.ssh_port = sshd_.port();
    s.ssh_user = sshd_.user();
    s.key_path = sshd_.client_key();
    s.known_hosts_path = sshd_.known_hosts();
    s.remote_host = Env("TEST_POSTGRES_HOST");
    int port = 0;
    EXPECT_TRUE(absl::SimpleAtoi(Env("TEST_POSTGRES_PORT"), &port)) << "TEST_POSTGRES_PORT";
    s.remote_port = port;
    s.retry_delay = absl::Milliseconds(100);
    s.max_retry_delay = absl::Milliseconds(400);
    s.health_check_interval = absl::Seconds(1);
    return s;
  }

  std::string ConnInfo(const SshTunnel& tunnel) {
    std::string conninfo = absl::StrCat(
        "host=", tunnel.local_host(), " port=", tunnel.local_port(), " dbname=", db_.name(),
        " user=", Env("TEST_POSTGRES_USER").empty() ? "postgres" : Env("TEST_POSTGRES_USER"),
        " sslmode=disable connect_timeout=5");
    return conninfo;
  }

  testing::PrivateSshd sshd_;
  testing::TestDatabase db_;
};

class RecordingListener : public TunnelListener {
 public:
  void OnTunnelStateChange(const TunnelStatus& status) override {
    absl::MutexLock lock(&mu_);
    states_.push_back(status.state);
  }
  bool Saw(TunnelState state) {
    absl::MutexLock lock(&mu_);
    return std::find(states_.begin(), states_.end(), state) != states_.end();
  }

 private:
  absl::Mutex mu_;
  std::vector<TunnelState> states_;
};

TEST_F(SshTunnelTest, QueriesCrossTheTunnelThroughAPrivateSocket) {
  SshTunnel tunnel(Settings());
  ASSERT_TRUE(tunnel.Start().ok());
  ASSERT_TRUE(tunnel.WaitForState(TunnelState::kUp, absl::Seconds(10)));
  struct stat st;
  ASSERT_EQ(stat(tunnel.local_host().c_str(), &st), 0) << tunnel.local_host();
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "only this user may reach the socket directory";

  pqxx::connection conn(ConnInfo(tunnel));
  pqxx::work txn(conn);
  EXPECT_EQ(txn.exec("SELECT 40 + 2")[0][0].as<int>(), 42);
  std::string client =
      txn.exec("SELECT coalesce(host(inet_client_addr()), 'unix')")[0][0].as<std::string>();
  EXPECT_EQ(client, "127.0.0.1") << "PostgreSQL sees sshd as its client, not a local socket";
  txn.commit();
  TunnelStatus status = tunnel.status();
  EXPECT_EQ(status.open_channels, 1);
  EXPECT_GT(status.bytes_to_remote, 0);
  EXPECT_GT(status.bytes_from_remote, 0);

  const std::string dir = tunnel.local_host();
  tunnel.Stop();
  EXPECT_NE(stat(dir.c_str(), &st), 0) << "Stop removes the socket and its directory";
  EXPECT_EQ(tunnel.status().state, TunnelState::kStopped);
}

TEST_F(SshTunnelTest, LoopbackTcpEndpointOnRequest) {
  TunnelSettings s = Settings();
  s.local_tcp = true;
  s.local_port = 0;
  SshTunnel tunnel(s);
  ASSERT_TRUE(tunnel.Start().ok());
  EXPECT_EQ(tunnel.local_host(), "127.0.0.1");
  EXPECT_GT(tunnel.local_port(), 0);
  pqxx::connection conn(ConnInfo(tunnel));
  pqxx::work txn(conn);
  EXPECT_EQ(txn.exec("SELECT 1")[0][0].as<int>(), 1);
}

TEST_F(SshTunnelTest, UnknownHostKeyIsRefusedWithFingerprint) {
  TunnelSettings s = Settings();
  s.known_hosts_path = sshd_.empty_known_hosts();
  SshTunnel tunnel(s);
  absl::Status status = tunnel.Start();
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.message(), "unknown host key")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), absl::StrCat("[127.0.0.1]:", sshd_.port())))
      << "names the host: " << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "ssh-ed25519")) << "key type: " << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "SHA256:")) << "fingerprint: " << status;
  EXPECT_TRUE(absl::StrContains(status.message(), sshd_.empty_known_hosts()))
      << "names the file: " << status;
}

TEST_F(SshTunnelTest, ChangedHostKeyIsRefused) {
  TunnelSettings s = Settings();
  s.known_hosts_path = sshd_.wrong_known_hosts();
  s.accept_new_host_key = true;  // must not matter for a CHANGED key
  SshTunnel tunnel(s);
  absl::Status status = tunnel.Start();
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.message(), "HOST KEY CHANGED")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "SHA256:")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), sshd_.wrong_known_hosts())) << status;
}

TEST_F(SshTunnelTest, AcceptNewRecordsAFirstSeenKey) {
  TunnelSettings s = Settings();
  std::string file = sshd_.dir() + "/accept_new_known_hosts";
  s.known_hosts_path = file;
  s.accept_new_host_key = true;
  {
    SshTunnel tunnel(s);
    ASSERT_TRUE(tunnel.Start().ok());
    EXPECT_TRUE(tunnel.WaitForState(TunnelState::kUp, absl::Seconds(10)));
  }
  s.accept_new_host_key = false;
  SshTunnel again(s);
  EXPECT_TRUE(again.Start().ok()) << "the recorded key is trusted from now on";
}

TEST_F(SshTunnelTest, WrongClientKeyIsRefusedClearly) {
  TunnelSettings s = Settings();
  s.key_path = sshd_.unauthorized_key();
  SshTunnel tunnel(s);
  absl::Status status = tunnel.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "refused public key")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), sshd_.unauthorized_key())) << status;

  // A missing key is a configuration error, found before any connection
  // (here to a port nothing listens on).
  s.key_path = sshd_.dir() + "/does-not-exist";
  s.ssh_port = 1;
  SshTunnel missing(s);
  absl::Status no_key = missing.Start();
  EXPECT_EQ(no_key.code(), absl::StatusCode::kFailedPrecondition) << no_key;
  EXPECT_TRUE(absl::StrContains(no_key.message(), "SSH_KEY_PATH")) << no_key;
}

TEST_F(SshTunnelTest, EachConnectionGetsItsOwnChannelAndBackend) {
  SshTunnel tunnel(Settings());
  ASSERT_TRUE(tunnel.Start().ok());
  constexpr int kSessions = 10;
  std::vector<std::unique_ptr<pqxx::connection>> conns;
  std::set<int> pids;
  for (int i = 0; i < kSessions; ++i) {
    conns.push_back(std::make_unique<pqxx::connection>(ConnInfo(tunnel)));
    pqxx::nontransaction t(*conns.back());
    pids.insert(t.exec("SELECT pg_backend_pid()")[0][0].as<int>());
  }
  EXPECT_EQ(pids.size(), static_cast<size_t>(kSessions)) << "distinct backends";
  EXPECT_EQ(tunnel.status().open_channels, kSessions) << "one channel per connection";

  // Interleaved queries on all sessions at once return their own results.
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int i = 0; i < kSessions; ++i) {
    threads.emplace_back([&, i] {
      for (int q = 0; q < 50; ++q) {
        pqxx::nontransaction t(*conns[i]);
        int want = i * 1000 + q;
        std::string got = t.exec("SELECT repeat(" + t.quote(std::to_string(want)) + ", 100)")[0][0]
                              .as<std::string>();
        std::string expected;
        for (int k = 0; k < 100; ++k) expected += std::to_string(want);
        if (got != expected) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0) << "no connection ever sees another's bytes";
}

TEST_F(SshTunnelTest, FiftyMegabyteResultCrossesIntact) {
  SshTunnel tunnel(Settings());
  ASSERT_TRUE(tunnel.Start().ok());
  pqxx::connection conn(ConnInfo(tunnel));
  pqxx::nontransaction t(conn);
  // 1,638,400 x 32 hex characters = 50 MiB.
  pqxx::row r =
      t.exec1("SELECT repeat(md5('chatgenius'), 1638400), md5(repeat(md5('chatgenius'), 1638400))");
  std::string data = r[0].as<std::string>();
  ASSERT_EQ(data.size(), 50u * 1024 * 1024);
  unsigned char digest[MD5_DIGEST_LENGTH];
  MD5(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  EXPECT_EQ(absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), 16)),
            r[1].as<std::string>())
      << "checksum computed here must match PostgreSQL's";
  EXPECT_GE(tunnel.status().bytes_from_remote, static_cast<int64_t>(data.size()));
}

TEST_F(SshTunnelTest, ReconnectsAfterSshdIsKilledAndRestarted) {
  RecordingListener listener;
  SshTunnel tunnel(Settings());
  tunnel.AddListener(&listener);
  ASSERT_TRUE(tunnel.Start().ok());
  ASSERT_TRUE(tunnel.WaitForState(TunnelState::kUp, absl::Seconds(10)));
  auto conn = std::make_unique<pqxx::connection>(ConnInfo(tunnel));

  sshd_.Kill();
  absl::Time until = absl::Now() + absl::Seconds(10);
  while (tunnel.IsUp() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(tunnel.IsUp()) << "a killed sshd takes the tunnel down";
  EXPECT_THROW(pqxx::nontransaction(*conn).exec("SELECT 1"), std::exception)
      << "the connection that crossed the dead session is broken";
  EXPECT_FALSE(tunnel.status().last_error.empty());

  ASSERT_TRUE(sshd_.Start());
  ASSERT_TRUE(tunnel.WaitForState(TunnelState::kUp, absl::Seconds(10)))
      << "the tunnel reconnects by itself; last error: " << tunnel.status().last_error;
  pqxx::connection fresh(ConnInfo(tunnel));
  EXPECT_EQ(pqxx::nontransaction(fresh).exec("SELECT 7")[0][0].as<int>(), 7);
  EXPECT_GE(tunnel.status().reconnects_total, 1);
  EXPECT_TRUE(listener.Saw(TunnelState::kConnecting) || listener.Saw(TunnelState::kBackoff));
}

TEST_F(SshTunnelTest, HungServerIsDetectedWithinTwoIntervals) {
  TunnelSettings s = Settings();
  SshTunnel tunnel(s);
  ASSERT_TRUE(tunnel.Start().ok());
  ASSERT_TRUE(tunnel.WaitForState(TunnelState::kUp, absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(1500));  // one keepalive answered
  EXPECT_GT(tunnel.status().last_keepalive, absl::InfinitePast()) << "keepalives are answered";

  absl::Time paused = absl::Now();
  sshd_.Pause();  // stopped, not closed: TCP stays up, nothing answers
  while (tunnel.IsUp() && absl::Now() - paused < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  absl::Duration detected = absl::Now() - paused;
  EXPECT_FALSE(tunnel.IsUp());
  EXPECT_LE(detected, 2 * s.health_check_interval + absl::Milliseconds(300))
      << "detected after " << absl::FormatDuration(detected);
  EXPECT_TRUE(absl::StrContains(tunnel.status().last_error, "keepalive"))
      << tunnel.status().last_error;
  sshd_.Resume();
}

TEST(ReconnectDelayTest, DoublesFromTheBaseUpToTheCapWhateverTheRetryCount) {
  const absl::Duration base = absl::Milliseconds(200), cap = absl::Seconds(30);
  EXPECT_EQ(ReconnectDelay(1, base, cap, 1.0), absl::Milliseconds(200));
  EXPECT_EQ(ReconnectDelay(2, base, cap, 1.0), absl::Milliseconds(400));
  EXPECT_EQ(ReconnectDelay(4, base, cap, 1.0), absl::Milliseconds(1600))
      << "past SSH_MAX_RETRIES (3) the schedule goes on doubling, it does not jump to the cap";
  EXPECT_EQ(ReconnectDelay(12, base, cap, 1.0), cap);
  EXPECT_EQ(ReconnectDelay(1000, base, cap, 1.0), cap) << "no overflow";
  EXPECT_EQ(ReconnectDelay(3, base, cap, 0.5), absl::Milliseconds(400)) << "jitter scales it";
}

TEST_F(SshTunnelTest, ShortOutagesRecoverWithinADoubledDelayAfterTheRetriesRanOut) {
  // The cap is far above what a short outage needs: recovering near the cap
  // would mean the schedule jumped to it once the retries ran out.
  TunnelSettings s = Settings();
  s.max_retries = 2;
  s.retry_delay = absl::Milliseconds(100);
  s.max_retry_delay = absl::Seconds(20);
  SshTunnel tunnel(s);
  ASSERT_TRUE(tunnel.Start().ok());
  sshd_.Kill();
  ASSERT_TRUE(tunnel.WaitForState(TunnelState::kMaxRetriesExceeded, absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(500));  // the outage goes on a little
  ASSERT_TRUE(sshd_.Start());
  const absl::Time back = absl::Now();
  ASSERT_TRUE(tunnel.WaitForState(TunnelState::kUp, absl::Seconds(25)));
  const absl::Duration recovered = absl::Now() - back;
  EXPECT_LT(recovered, absl::Seconds(5))
      << "up " << absl::FormatDuration(recovered) << " after sshd answered again";
}

TEST_F(SshTunnelTest, MaxRetriesExceededIsReportedThenRecovered) {
  RecordingListener listener;
  TunnelSettings s = Settings();
  s.max_retries = 2;
  SshTunnel tunnel(s);
  tunnel.AddListener(&listener);
  ASSERT_TRUE(tunnel.Start().ok());
  sshd_.Kill();
  ASSERT_TRUE(tunnel.WaitForState(TunnelState::kMaxRetriesExceeded, absl::Seconds(10)))
      << "state: " << TunnelStateName(tunnel.status().state);
  // Listeners are called just after the state is published.
  for (absl::Time until = absl::Now() + absl::Seconds(2);
       !listener.Saw(TunnelState::kMaxRetriesExceeded) && absl::Now() < until;) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(listener.Saw(TunnelState::kMaxRetriesExceeded)) << "listeners hear the event";
  EXPECT_GE(tunnel.status().consecutive_failures, 2);

  ASSERT_TRUE(sshd_.Start());
  EXPECT_TRUE(tunnel.WaitForState(TunnelState::kUp, absl::Seconds(10)))
      << "it keeps retrying and recovers without a restart";
  EXPECT_EQ(tunnel.status().consecutive_failures, 0);
}

}  // namespace
}  // namespace chatgenius
