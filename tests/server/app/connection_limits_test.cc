// gRPC limits per client connection (GRPC_MAX_CONCURRENT_STREAMS,
// GRPC_MAX_CONNECTION_AGE_MS) through a real server.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/time/clock.h"
#include "chatgenius/db/v1/event_service.grpc.pb.h"
#include "tests/support/domain_fixture.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

struct Stream {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader;
};

std::unique_ptr<Stream> Follow(v1::EventService::Stub* stub, const std::string& user) {
  auto s = std::make_unique<Stream>();
  testing::SetDeadline(&s->context, absl::Seconds(30));
  v1::SubscribeRequest r;
  r.set_user_id(user);
  s->reader = stub->Subscribe(&s->context, r);
  s->reader->WaitForInitialMetadata();
  return s;
}

class ConnectionLimitsTest : public testing::DomainTest {
 protected:
  ConnectionLimitsTest()
      : DomainTest(
            [](Config& c) {
              c.grpc_max_concurrent_streams = 2;
              c.grpc_max_connection_age = absl::Seconds(2);
              c.grpc_max_connection_age_grace = absl::Seconds(1);
            },
            {}) {}
};

TEST_F(ConnectionLimitsTest, AConnectionHoldsAtMostItsStreams) {
  v1::User ada = User("ada");
  std::shared_ptr<grpc::Channel> busy = testing::SeparateConnection(server_.address());
  auto events = v1::EventService::NewStub(busy);
  auto first = Follow(events.get(), ada.id());
  auto second = Follow(events.get(), ada.id());
  // A third call on the same connection waits for a free stream.
  auto users = v1::UserService::NewStub(busy);
  v1::GetUserRequest get;
  get.set_id(ada.id());
  v1::User out;
  grpc::ClientContext queued;
  testing::SetDeadline(&queued, absl::Milliseconds(800));
  EXPECT_EQ(users->GetUser(&queued, get, &out).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << "GRPC_MAX_CONCURRENT_STREAMS=2: no third stream on this connection";
  // Another connection is unaffected.
  grpc::ClientContext other;
  testing::SetDeadline(&other);
  EXPECT_TRUE(v1::UserService::NewStub(testing::SeparateConnection(server_.address()))
                  ->GetUser(&other, get, &out)
                  .ok());
  first->context.TryCancel();
  second->context.TryCancel();
  first->reader->Finish();
  second->reader->Finish();
}

TEST_F(ConnectionLimitsTest, ConnectionsAgeOutSoClientsRebalance) {
  v1::User ada = User("ada");
  std::shared_ptr<grpc::Channel> connection = testing::SeparateConnection(server_.address());
  auto events = v1::EventService::NewStub(connection);
  const absl::Time start = absl::Now();
  auto stream = Follow(events.get(), ada.id());
  v1::Event e;
  while (stream->reader->Read(&e)) {
  }
  const grpc::Status ended = stream->reader->Finish();
  const absl::Duration lived = absl::Now() - start;
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE) << ended.error_message();
  EXPECT_LT(lived, absl::Seconds(15)) << "age 2 s + grace 1 s, not the 30 s deadline";
  // The channel reconnects by itself for the next call.
  auto users = v1::UserService::NewStub(connection);
  v1::GetUserRequest get;
  get.set_id(ada.id());
  v1::User out;
  grpc::ClientContext again;
  testing::SetDeadline(&again);
  EXPECT_TRUE(users->GetUser(&again, get, &out).ok());
}

}  // namespace
}  // namespace chatgenius
