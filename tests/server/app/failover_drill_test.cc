// Failover drill on a real HA engine (pg_auto_failover: a monitor and two
// nodes with synchronous replication). Four writers post through the
// service, an event subscription follows the channel, and the primary's
// node is killed outright (keeper, postmaster and backends SIGKILLed: a
// host failure). The engine promotes the standby; the service — never
// restarted — must resume writes by itself (its sessions name both nodes
// with target_session_attrs=read-write), keep every acknowledged write,
// move the LISTEN session and the sequencer to the new primary, and the
// subscription must get every acknowledged message exactly once, in order.
#include <atomic>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "tests/support/auto_failover.h"
#include "tests/support/test_server.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;
using grpc::health::v1::HealthCheckResponse;

struct Ack {
  std::string id;
  absl::Time started;  // the call that was acknowledged
  absl::Time at;
};

TEST(FailoverDrillTest, WritesResumeOnThePromotedStandbyWithNothingLostAndNoEventGap) {
  testing::AutoFailoverCluster ha("chat");
  ASSERT_TRUE(ha.ok());
  const std::vector<int> ports = ha.node_ports();
  const int old_primary = ha.PrimaryPort();
  ASSERT_EQ(old_primary, ports[0]) << ha.Describe();

  Config config;
  config.listen_address = "127.0.0.1:0";
  config.postgres_host = absl::StrCat("127.0.0.1:", ports[0], ",127.0.0.1:", ports[1]);
  config.postgres_db = "chat";
  config.postgres_sslmode = "disable";
  config.postgres_connect_timeout = absl::Seconds(2);
  config.health_probe_interval = absl::Milliseconds(100);
  config.pool_idle_check_after = absl::ZeroDuration();
  testing::TestServer server(config);
  ASSERT_TRUE(server.WaitForHealth("", HealthCheckResponse::SERVING, absl::Seconds(30)));
  ASSERT_TRUE(server.WaitForEventHub());

  client::ClientOptions options;
  options.target = server.address();
  options.default_deadline = absl::Seconds(3);
  absl::StatusOr<std::unique_ptr<client::Client>> made = client::Client::Create(options);
  ASSERT_TRUE(made.ok()) << made.status();
  client::Client& db = **made;
  v1::CreateUserRequest u;
  u.mutable_user()->set_username("ada");
  u.mutable_user()->set_email("ada@example.com");
  absl::StatusOr<v1::User> ada = db.CreateUser(u);
  ASSERT_TRUE(ada.ok()) << ada.status();
  v1::CreateChannelRequest c;
  c.mutable_channel()->set_name("general");
  c.mutable_channel()->set_type(v1::CHANNEL_TYPE_PUBLIC);
  c.set_creator_id(ada->id());
  absl::StatusOr<v1::Channel> channel = db.CreateChannel(c);
  ASSERT_TRUE(channel.ok()) << channel.status();

  // The subscription: every message-created event, in delivery order.
  v1::SubscribeRequest subscribe;
  subscribe.add_channel_ids(channel->id());
  subscribe.set_viewer_id(ada->id());
  std::unique_ptr<client::EventSubscription> events = db.Subscribe(subscribe);
  std::mutex mu;
  std::vector<std::string> delivered;
  std::vector<int64_t> event_ids;
  std::thread reader([&] {
    v1::Event event;
    while (events->Next(&event)) {
      if (event.kind() != v1::EVENT_KIND_MESSAGE_CREATED) continue;
      std::lock_guard<std::mutex> lock(mu);
      delivered.push_back(event.message().id());
      event_ids.push_back(event.id());
    }
  });

  // Four writers; each retries a failed post with the same client_msg_id
  // (the documented safe retry), so an acknowledgement is per message.
  std::atomic<bool> stop{false};
  std::vector<Ack> acks;
  std::map<std::string, int> failures;  // by code
  std::vector<std::thread> writers;
  // However the test ends, the threads stop before what they use goes.
  struct Joiner {
    std::function<void()> done;
    ~Joiner() { done(); }
  } joiner{[&] {
    stop = true;
    for (std::thread& t : writers) {
      if (t.joinable()) t.join();
    }
    events->Cancel();
    if (reader.joinable()) reader.join();
  }};
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop.load(); ++i) {
        v1::PostMessageRequest p;
        p.set_channel_id(channel->id());
        p.set_author_id(ada->id());
        p.set_content(absl::StrCat("writer ", w, " message ", i));
        p.set_client_msg_id(absl::StrCat("w", w, "-", i));
        while (!stop.load()) {
          const absl::Time started = absl::Now();
          absl::StatusOr<v1::Message> m = db.PostMessage(p);
          {
            std::lock_guard<std::mutex> lock(mu);
            if (m.ok()) {
              acks.push_back({m->id(), started, absl::Now()});
              break;
            }
            ++failures[absl::StatusCodeToString(m.status().code())];
          }
          absl::SleepFor(absl::Milliseconds(50));
        }
      }
    });
  }

  absl::SleepFor(absl::Seconds(2));
  ASSERT_TRUE(ha.KillNode(old_primary));
  const absl::Time killed_at = absl::Now();  // everything of the node is dead by now
  // Writes must resume by themselves: the first acknowledged call started
  // after the kill (replies already on their way do not count). Then 2 s
  // more of writes.
  absl::Time first_after = absl::InfiniteFuture();
  const absl::Time give_up = killed_at + absl::Seconds(90);
  while (absl::Now() < give_up) {
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const Ack& a : acks) {
        if (a.started > killed_at) first_after = std::min(first_after, a.at);
      }
    }
    if (first_after != absl::InfiniteFuture() && absl::Now() > first_after + absl::Seconds(2)) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  stop = true;
  for (std::thread& t : writers) t.join();
  ASSERT_NE(first_after, absl::InfiniteFuture())
      << "no write succeeded within 90 s of the kill; monitor: " << ha.Describe();

  absl::Time last_before = absl::InfinitePast();
  int before = 0;
  int after = 0;
  for (const Ack& a : acks) {
    if (a.started <= killed_at) {
      last_before = std::max(last_before, a.at);
      ++before;
    } else {
      ++after;
    }
  }
  const int new_primary = ha.PrimaryPort();
  EXPECT_EQ(new_primary, ports[1]) << ha.Describe();
  std::cout << "failover: last acknowledged write before the kill -> first after: "
            << absl::FormatDuration(first_after - last_before) << " (kill -> first write "
            << absl::FormatDuration(first_after - killed_at) << "); acknowledged " << before
            << " before, " << after << " after; failed attempts:";
  for (const auto& [code, n] : failures) std::cout << " " << code << "=" << n;
  std::cout << std::endl;
  EXPECT_GT(before, 20);
  EXPECT_GT(after, 20);
  // A bound several times what the engine needs with these settings (5 s
  // demote timeout + a health check): "writes resume by themselves".
  EXPECT_LT(first_after - killed_at, absl::Seconds(30));

  // Every acknowledged write is on the new primary, once.
  std::set<std::string> acked;
  for (const Ack& a : acks)
    EXPECT_TRUE(acked.insert(a.id).second) << "acknowledged twice: " << a.id;
  {
    pqxx::connection conn(
        absl::StrCat("host=127.0.0.1 port=", new_primary, " dbname=chat user=postgres"));
    pqxx::nontransaction txn(conn);
    std::set<std::string> stored;
    for (const pqxx::row& row : txn.exec("SELECT id FROM messages")) stored.insert(row[0].c_str());
    for (const std::string& id : acked) EXPECT_TRUE(stored.count(id)) << "lost: " << id;
  }

  // The stream continues from its cursor across the failover: every
  // acknowledged message once, in increasing event order.
  const absl::Time drain_by = absl::Now() + absl::Seconds(30);
  while (absl::Now() < drain_by) {
    {
      std::lock_guard<std::mutex> lock(mu);
      std::set<std::string> got(delivered.begin(), delivered.end());
      bool all = true;
      for (const std::string& id : acked) all = all && got.count(id) > 0;
      if (all) break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  events->Cancel();
  reader.join();
  std::set<std::string> seen;
  for (size_t i = 0; i < delivered.size(); ++i) {
    EXPECT_TRUE(seen.insert(delivered[i]).second) << "delivered twice: " << delivered[i];
    if (i > 0) EXPECT_LT(event_ids[i - 1], event_ids[i]) << "out of order at " << i;
  }
  for (const std::string& id : acked) EXPECT_TRUE(seen.count(id)) << "never delivered: " << id;
  // Readiness follows the new primary.
  EXPECT_TRUE(server.WaitForHealth("", HealthCheckResponse::SERVING, absl::Seconds(10)));
}

}  // namespace
}  // namespace chatgenius
