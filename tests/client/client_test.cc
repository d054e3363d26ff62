// The client library against real servers: typed calls, errors, round robin
// over replicas, a dead replica, retry policy scope, and event
// subscriptions (with a cursor, and live-only) that resume across a server
// restart without a gap.
#include "client/client.h"

#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/private_postgres.h"
#include "tests/support/test_database.h"
#include "tests/support/test_server.h"

namespace chatgenius::client {
namespace {

namespace v1 = ::chatgenius::db::v1;

std::unique_ptr<Client> MakeClient(const std::string& target) {
  ClientOptions options;
  options.target = target;
  absl::StatusOr<std::unique_ptr<Client>> c = Client::Create(options);
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(*c);
}

v1::User MakeUser(Client& c, const std::string& name) {
  v1::CreateUserRequest r;
  r.mutable_user()->set_username(name);
  r.mutable_user()->set_email(name + "@example.com");
  absl::StatusOr<v1::User> u = c.CreateUser(r);
  EXPECT_TRUE(u.ok()) << u.status();
  return u.ok() ? *u : v1::User();
}

v1::Channel MakeChannel(Client& c, const v1::User& creator, const std::string& name,
                        v1::ChannelType type = v1::CHANNEL_TYPE_PUBLIC) {
  v1::CreateChannelRequest r;
  r.mutable_channel()->set_name(name);
  r.mutable_channel()->set_type(type);
  r.set_creator_id(creator.id());
  absl::StatusOr<v1::Channel> channel = c.CreateChannel(r);
  EXPECT_TRUE(channel.ok()) << channel.status();
  return channel.ok() ? *channel : v1::Channel();
}

TEST(ClientTest, TypedCallsReturnValuesAndServerErrors) {
  testing::TestDatabase db;
  testing::TestServer server(db.config());
  auto client = MakeClient(server.address());
  v1::User ada = MakeUser(*client, "ada");
  absl::StatusOr<v1::User> got = client->GetUser(ada.id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->username(), "ada");

  v1::CreateUserRequest bad;
  bad.mutable_user()->set_username("Bad Name");
  bad.mutable_user()->set_email("x@y.z");
  absl::StatusOr<v1::User> refused = client->CreateUser(bad);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "user.username")) << refused.status();
  EXPECT_EQ(client->GetUser("01ARYZ6S41TSV4RRFFQ69G5FAV").status().code(),
            absl::StatusCode::kNotFound);

  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> health =
      client->Check("liveness");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(*health, grpc::health::v1::HealthCheckResponse::SERVING);
  absl::StatusOr<v1::MigrationStatus> migrations = client->GetMigrationStatus();
  ASSERT_TRUE(migrations.ok());
  EXPECT_TRUE(migrations->up_to_date());
}

// The retried methods come from the protos' idempotency_level options; this
// is the reviewed list (a method marked or unmarked there must show up here).
TEST(ClientTest, TheProtosMarkExactlyTheMethodsSafeToRunTwice) {
  const std::vector<std::string> methods = IdempotentMethods();
  const std::set<std::string> got(methods.begin(), methods.end());
  const std::set<std::string> want = {
      "chatgenius.db.v1.UserService/GetUser",
      "chatgenius.db.v1.UserService/LookupUser",
      "chatgenius.db.v1.UserService/BatchGetUsers",
      "chatgenius.db.v1.UserService/ListUsers",
      "chatgenius.db.v1.UserService/SetUserStatus",
      "chatgenius.db.v1.UserService/GetUserStatus",
      "chatgenius.db.v1.ChannelService/GetChannel",
      "chatgenius.db.v1.ChannelService/ArchiveChannel",
      "chatgenius.db.v1.ChannelService/UnarchiveChannel",
      "chatgenius.db.v1.ChannelService/ListChannels",
      "chatgenius.db.v1.ChannelService/AddMember",
      "chatgenius.db.v1.ChannelService/ListMembers",
      "chatgenius.db.v1.ChannelService/GetOrCreateDirectChannel",
      "chatgenius.db.v1.ChannelService/MarkRead",
      "chatgenius.db.v1.ChannelService/GetReadState",
      "chatgenius.db.v1.MessageService/GetMessage",
      "chatgenius.db.v1.MessageService/ListMessages",
      "chatgenius.db.v1.MessageService/ListThreadReplies",
      "chatgenius.db.v1.MessageService/SearchMessages",
      "chatgenius.db.v1.MessageService/ListAttachments",
      "chatgenius.db.v1.ReactionService/AddReaction",
      "chatgenius.db.v1.ReactionService/ListReactions",
      "chatgenius.db.v1.MigrationService/GetMigrationStatus",
      "chatgenius.db.v1.MigrationService/ApplyMigrations",
      "chatgenius.db.v1.AdminService/GetPoolStats",
      "chatgenius.db.v1.AdminService/GetTunnelStatus",
      "chatgenius.db.v1.AdminService/GetDatabaseHosts",
      "chatgenius.db.v1.AdminService/GetServerInfo",
  };
  EXPECT_EQ(got, want);
  EXPECT_EQ(methods.size(), got.size()) << "no method listed twice";
}

TEST(ClientTest, RetryPolicyCoversOnlyIdempotentMethods) {
  const std::string config = ServiceConfigJson(4);
  EXPECT_TRUE(absl::StrContains(config, R"("method":"GetUser")"));
  EXPECT_TRUE(absl::StrContains(config, R"("method":"ListMessages")"));
  EXPECT_TRUE(absl::StrContains(config, "round_robin"));
  EXPECT_TRUE(absl::StrContains(config, R"("retryableStatusCodes":["UNAVAILABLE"])"));
  EXPECT_FALSE(absl::StrContains(config, R"("method":"PostMessage")"))
      << "a post without client_msg_id could be stored twice";
  EXPECT_FALSE(absl::StrContains(config, R"("method":"CreateUser")"));
  EXPECT_FALSE(absl::StrContains(config, R"("method":"DeleteMessage")"));
  EXPECT_FALSE(absl::StrContains(ServiceConfigJson(1), "retryPolicy"));
}

TEST(ClientTest, RoundRobinSpreadsCallsOverReplicasAndSkipsADeadOne) {
  testing::TestDatabase db;
  testing::TestServer a(db.config());
  testing::TestServer b(db.config());
  ASSERT_TRUE(
      a.WaitForHealth("", grpc::health::v1::HealthCheckResponse::SERVING, absl::Seconds(10)));
  ASSERT_TRUE(
      b.WaitForHealth("", grpc::health::v1::HealthCheckResponse::SERVING, absl::Seconds(10)));
  const int dead = testing::FreeLoopbackPort();
  auto client = MakeClient(absl::StrCat("ipv4:127.0.0.1:", a.server()->port(), ",127.0.0.1:", dead,
                                        ",127.0.0.1:", b.server()->port()));
  std::set<int64_t> servers;
  int failures = 0;
  for (int i = 0; i < 30; ++i) {
    absl::StatusOr<v1::ServerInfo> info = client->GetServerInfo();
    if (!info.ok()) {
      ++failures;
      continue;
    }
    servers.insert(info->start_time().seconds() * 1000000000LL + info->start_time().nanos());
  }
  EXPECT_EQ(failures, 0) << "the dead address never fails a call";
  EXPECT_EQ(servers.size(), 2u) << "calls reach both live replicas";
}

TEST(ClientTest, SubscriptionResumesAcrossAServerRestart) {
  testing::TestDatabase db;
  Config config = db.config();
  config.listen_address = absl::StrCat("127.0.0.1:", testing::FreeLoopbackPort());
  auto first = std::make_unique<testing::TestServer>(config);
  auto client = MakeClient(config.listen_address);
  v1::User ada = MakeUser(*client, "ada");
  const v1::Channel general = MakeChannel(*client, ada, "general");

  v1::SubscribeRequest follow;
  follow.add_channel_ids(general.id());
  follow.set_viewer_id(ada.id());
  // A cursor (the channel's creation event) rather than "live only", so
  // nothing depends on when the stream registers.
  follow.set_after_event_id(db.LatestEventPosition());
  auto events = client->Subscribe(follow);
  v1::Event e;

  v1::PostMessageRequest post;
  post.set_channel_id(general.id());
  post.set_author_id(ada.id());
  post.set_content("before the restart");
  ASSERT_TRUE(client->PostMessage(post).ok());
  ASSERT_TRUE(events->Next(&e)) << events->status();
  EXPECT_EQ(e.message().content(), "before the restart");
  const int64_t before_restart = e.id();

  first.reset();  // the server goes away: the stream ends UNAVAILABLE
  testing::TestServer second(config);
  post.set_content("after the restart");
  // PostMessage is not retried by the library; a caller retries it with the
  // same client_msg_id, which makes the retry safe.
  post.set_client_msg_id("after-restart-1");
  absl::StatusOr<v1::Message> posted = client->PostMessage(post);
  for (absl::Time until = absl::Now() + absl::Seconds(10);
       !posted.ok() && posted.status().code() == absl::StatusCode::kUnavailable &&
       absl::Now() < until;) {
    absl::SleepFor(absl::Milliseconds(100));
    posted = client->PostMessage(post);
  }
  ASSERT_TRUE(posted.ok()) << posted.status();
  ASSERT_TRUE(events->Next(&e)) << events->status();
  EXPECT_EQ(e.message().content(), "after the restart")
      << "resumed after the last delivered event: nothing missed, nothing repeated";
  EXPECT_GT(e.id(), before_restart);
  events->Cancel();
  EXPECT_FALSE(events->Next(&e));
}

TEST(ClientTest, SubscriptionThatLostAccessIsNotResumed) {
  testing::TestDatabase db;
  testing::TestServer server(db.config());
  auto client = MakeClient(server.address());
  v1::User ada = MakeUser(*client, "ada");
  v1::User bob = MakeUser(*client, "bob");
  const v1::Channel secret = MakeChannel(*client, ada, "secret", v1::CHANNEL_TYPE_PRIVATE);
  v1::AddMemberRequest add;
  add.set_channel_id(secret.id());
  add.set_user_id(bob.id());
  add.set_actor_id(ada.id());
  ASSERT_TRUE(client->AddMember(add).ok());

  // Until the hub has connected, streams are refused UNAVAILABLE and the
  // client retries: a retry after the removal below would be refused at
  // its start instead of seeing the leave.
  ASSERT_TRUE(server.WaitForEventHub());
  v1::SubscribeRequest follow;
  follow.add_channel_ids(secret.id());
  follow.set_viewer_id(bob.id());
  auto events = client->Subscribe(follow);  // returns once the stream started
  auto channels = v1::ChannelService::NewStub(server.channel());
  v1::RemoveMemberRequest remove;
  remove.set_channel_id(secret.id());
  remove.set_user_id(bob.id());
  remove.set_actor_id(ada.id());
  google::protobuf::Empty empty;
  grpc::ClientContext context;
  ASSERT_TRUE(channels->RemoveMember(&context, remove, &empty).ok());

  v1::Event e;
  ASSERT_TRUE(events->Next(&e)) << events->status();
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_MEMBER_LEFT);
  EXPECT_FALSE(events->Next(&e)) << "a stream that lost access ends; the client must not "
                                    "resume it (that would replay to a non-member)";
  EXPECT_EQ(events->status().code(), absl::StatusCode::kPermissionDenied) << events->status();
}

TEST(ClientTest, LiveOnlySubscriptionMissesNothingWhileTheServerIsDown) {
  testing::TestDatabase db;
  Config config = db.config();
  config.listen_address = absl::StrCat("127.0.0.1:", testing::FreeLoopbackPort());
  auto first = std::make_unique<testing::TestServer>(config);
  testing::TestServer other(db.config());  // another replica; stays up
  auto client = MakeClient(config.listen_address);
  auto writer = MakeClient(other.address());
  v1::User ada = MakeUser(*writer, "ada");
  const v1::Channel general = MakeChannel(*writer, ada, "general");

  v1::SubscribeRequest live;  // after_event_id 0: live only
  live.add_channel_ids(general.id());
  live.set_viewer_id(ada.id());
  auto events = client->Subscribe(live);  // returns once the stream started
  auto wait_for_subscriber = [](testing::TestServer& server) {
    for (absl::Time until = absl::Now() + absl::Seconds(20);
         server.server()->hub().stats().subscribers < 1 && absl::Now() < until;) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    return server.server()->hub().stats().subscribers == 1;
  };
  first.reset();  // the stream breaks before it delivered anything

  v1::PostMessageRequest post;
  post.set_channel_id(general.id());
  post.set_author_id(ada.id());
  post.set_content("while the server was down");
  ASSERT_TRUE(writer->PostMessage(post).ok());
  testing::TestServer second(config);
  v1::Event e;
  std::thread reader([&] {
    // The subscription reconnects inside Next.
    ASSERT_TRUE(events->Next(&e)) << events->status();
  });
  if (!wait_for_subscriber(second)) {
    events->Cancel();
    reader.join();
    FAIL() << "the subscription did not come back: " << events->status();
  }
  post.set_content("after the restart");
  ASSERT_TRUE(writer->PostMessage(post).ok());
  reader.join();
  ASSERT_EQ(e.message().content(), "while the server was down")
      << "resumed from where the live stream started, not from 'live' again";
  ASSERT_TRUE(events->Next(&e)) << events->status();
  EXPECT_EQ(e.message().content(), "after the restart");
  events->Cancel();
}

}  // namespace
}  // namespace chatgenius::client
