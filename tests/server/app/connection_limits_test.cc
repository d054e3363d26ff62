// gRPC limits through a real server: per client connection
// (GRPC_MAX_CONCURRENT_STREAMS, GRPC_MAX_CONNECTION_AGE_MS) and the bounded
// thread pool of the unary services (GRPC_MAX_THREADS).
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <dirent.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <set>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
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

// The ids of this process's threads now.
std::set<int> ThreadIds() {
  std::set<int> ids;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ids.insert(std::atoi(e->d_name));
    }
    closedir(d);
  }
  return ids;
}

class HandlerThreadsTest : public testing::DomainTest {};

TEST_F(HandlerThreadsTest, ConcurrentCallersReuseHandlerThreads) {
  // gRPC's sync server keeps 2 idle threads by default: with more callers
  // than that, a thread that finished a call exited and the next call
  // started a new one (~500 thread creations a second in the write bench).
  v1::User ada = User("ada");
  constexpr int kCallers = 8;
  constexpr int kCallsEach = 60;
  const std::set<int> before = ThreadIds();
  std::set<int> seen;
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    while (!done.load()) {
      for (int id : ThreadIds()) {
        if (before.count(id) == 0) seen.insert(id);
      }
      absl::SleepFor(absl::Microseconds(200));
    }
  });
  std::vector<std::thread> callers;
  std::atomic<int> failed{0};
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&] {
      auto stub = v1::UserService::NewStub(testing::SeparateConnection(server_.address()));
      for (int n = 0; n < kCallsEach; ++n) {
        v1::GetUserRequest get;
        get.set_id(ada.id());
        v1::User out;
        grpc::ClientContext context;
        testing::SetDeadline(&context);
        if (!stub->GetUser(&context, get, &out).ok()) ++failed;
      }
    });
  }
  for (std::thread& t : callers) t.join();
  done = true;
  sampler.join();
  EXPECT_EQ(failed.load(), 0);
  std::cout << kCallers * kCallsEach << " calls from " << kCallers << " callers: " << seen.size()
            << " threads started in this process\n";
  // The sampler, the callers and their channels' threads, and at most
  // kCallers more handler threads: a few dozen, not one per call.
  EXPECT_LT(seen.size(), 60u) << "handler threads are kept for the next call";
}

class ThreadLimitTest : public testing::DomainTest {
 protected:
  ThreadLimitTest() : DomainTest([](Config& c) { c.grpc_max_threads = 6; }, {}) {}
};

TEST_F(ThreadLimitTest, CallsPastTheThreadLimitAreRefusedAtOnceAndHealthStillAnswers) {
  v1::User held = User("held");
  // A row lock taken outside the service: renames of `held` block in
  // PostgreSQL, each holding one handler thread.
  pqxx::connection holder(db_.conninfo());
  pqxx::work lock(holder);
  lock.exec_params("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", held.id());

  constexpr int kCalls = 16;
  std::vector<grpc::Status> results(kCalls);
  std::vector<absl::Duration> took(kCalls);
  std::vector<std::thread> callers;
  std::shared_ptr<grpc::Channel> connection = testing::SeparateConnection(server_.address());
  for (int i = 0; i < kCalls; ++i) {
    callers.emplace_back([&, i] {
      auto stub = v1::UserService::NewStub(connection);
      v1::UpdateUserRequest request;
      request.mutable_user()->set_id(held.id());
      request.mutable_user()->set_display_name(absl::StrCat("name", i));
      request.mutable_update_mask()->add_paths("display_name");
      grpc::ClientContext context;
      testing::SetDeadline(&context, absl::Seconds(20));
      v1::User out;
      const absl::Time start = absl::Now();
      results[i] = stub->UpdateUser(&context, request, &out);
      took[i] = absl::Now() - start;
    });
  }
  // Give every call time to reach the server; the refused ones are back.
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(server_.HealthStatus("liveness"), grpc::health::v1::HealthCheckResponse::SERVING)
      << "health checks need no sync thread";
  EXPECT_EQ(server_.HealthStatus(""), grpc::health::v1::HealthCheckResponse::SERVING);
  lock.abort();
  for (std::thread& t : callers) t.join();

  int refused = 0, served = 0;
  for (int i = 0; i < kCalls; ++i) {
    if (results[i].error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
      EXPECT_LT(took[i], absl::Seconds(2)) << "refused at once, not after waiting";
    } else {
      EXPECT_TRUE(results[i].ok()) << results[i].error_message();
      ++served;
    }
  }
  std::cout << "thread limit: " << refused << " refused, " << served << " served\n";
  EXPECT_GT(refused, 0) << "16 blocked calls exceed GRPC_MAX_THREADS=6";
  EXPECT_GT(served, 0) << "the calls that got a thread finish once the lock is gone";
  EXPECT_LE(served, 6) << "no more calls ran than there are threads";
  grpc::ClientContext after;
  testing::SetDeadline(&after);
  v1::GetUserRequest get;
  get.set_id(held.id());
  v1::User out;
  EXPECT_TRUE(users_->GetUser(&after, get, &out).ok()) << "threads are free again";
}

}  // namespace
}  // namespace chatgenius
