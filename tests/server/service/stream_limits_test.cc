// The bounds on Subscribe streams (EventStreamLimits): a byte bound per
// stream queue, a write timeout for a client that stopped reading, and the
// number of streams per process and per caller — each hit through a real
// server, with the other streams unaffected.
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chatgenius/db/v1/event_service.grpc.pb.h"
#include "server/db/connection_pool.h"
#include "server/metrics/limit_hits.h"
#include "tests/support/domain_fixture.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;
using grpc::StatusCode;

struct Stream {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader;
  // Read to the end; the status and how many events came.
  std::pair<grpc::Status, int> Drain() {
    v1::Event e;
    int n = 0;
    while (reader->Read(&e)) ++n;
    return {reader->Finish(), n};
  }
};

std::unique_ptr<Stream> Open(v1::EventService::Stub* stub, const v1::User& viewer,
                             const v1::Channel& channel, const std::string& token = "") {
  auto s = std::make_unique<Stream>();
  testing::SetDeadline(&s->context, absl::Seconds(60));
  if (!token.empty()) s->context.AddMetadata("authorization", "Bearer " + token);
  v1::SubscribeRequest r;
  r.add_channel_ids(channel.id());
  r.set_viewer_id(viewer.id());
  s->reader = stub->Subscribe(&s->context, r);
  s->reader->WaitForInitialMetadata();
  return s;
}

// ResidentBytes is this process's resident set (VmRSS): the server runs
// in the test's process.
int64_t ResidentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "VmRSS:")) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

class SlowReaderTest : public testing::DomainTest {
 protected:
  explicit SlowReaderTest(std::function<void(Config&)> configure)
      : DomainTest(std::move(configure), {}) {
    ada_ = User("ada");
    general_ = Channel(ada_, "general");
    EXPECT_TRUE(server_.WaitForEventHub());
  }
  // Posts `n` messages of ~30 KB: a slow reader's windows fill quickly.
  void PostBig(int n) {
    const std::string big(30000, 'x');
    for (int i = 0; i < n; ++i) Post(general_, ada_, absl::StrCat(i, big));
  }
  void WaitForStreams(int n) {
    for (absl::Time until = absl::Now() + absl::Seconds(20);
         server_.server()->hub().stats().subscribers < n && absl::Now() < until;) {
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  v1::User ada_;
  v1::Channel general_;
};

class ByteBoundTest : public SlowReaderTest {
 protected:
  ByteBoundTest()
      : SlowReaderTest([](Config& c) {
          c.event_stream_queue = 100000;           // the count never trips
          c.event_stream_queue_bytes = 256 << 10;  // ~8 big events
        }) {}
};

TEST_F(ByteBoundTest, ASlowReadersQueueIsBoundedInBytes) {
  const int64_t hits = LimitHits::Get(Limit::kStreamQueueBytes);
  auto slow_stub = v1::EventService::NewStub(testing::SeparateConnection(server_.address(), true));
  auto fast_stub = v1::EventService::NewStub(testing::SeparateConnection(server_.address(), false));
  auto slow = Open(slow_stub.get(), ada_, general_);  // and never reads until the end
  auto fast = Open(fast_stub.get(), ada_, general_);
  WaitForStreams(2);
  std::atomic<int> fast_got{0};
  std::thread reader([&] {
    v1::Event e;
    while (fast_got < 150 && fast->reader->Read(&e)) ++fast_got;
  });
  // More than transport buffers absorb for the slow one; paced so that the
  // fast one, however busy the machine, is never more than 3 events (far
  // below the 256 KiB bound) behind: "keeps up" made exact.
  const std::string big(30000, 'x');
  for (int i = 0; i < 150; ++i) {
    Post(general_, ada_, absl::StrCat(i, big));
    for (absl::Time until = absl::Now() + absl::Seconds(20);
         fast_got < i - 2 && absl::Now() < until;) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    ASSERT_GE(fast_got.load(), i - 2) << "the fast reader stalled at " << i;
  }
  reader.join();  // the fast reader takes all 150 (or its 60 s deadline ends it)
  EXPECT_EQ(fast_got.load(), 150) << "a reader that keeps up gets everything";
  fast->context.TryCancel();
  fast->Drain();
  auto [status, got] = slow->Drain();
  EXPECT_EQ(status.error_code(), StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "bytes waiting")) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "after_event_id="))
      << status.error_message();
  EXPECT_LT(got, 150);
  EXPECT_EQ(LimitHits::Get(Limit::kStreamQueueBytes) - hits, 1)
      << "counted under EVENT_STREAM_QUEUE_BYTES";
}

TEST_F(ByteBoundTest, AStalledReaderDoesNotGrowTheServer) {
  // 800 messages of ~156 kB: 125 MB through the hub while one stream
  // never reads. Its queue may hold 256 KiB; without the bound it would
  // hold all of it until the stream ended.
  std::string big;
  for (int i = 0; i < 39000; ++i) big += "\xF0\x9F\x98\x80";
  for (int i = 0; i < 20; ++i) Post(general_, ada_, big);  // warm the allocator
  auto stub = v1::EventService::NewStub(testing::SeparateConnection(server_.address(), true));
  auto stalled = Open(stub.get(), ada_, general_);
  WaitForStreams(1);
  const int64_t before = ResidentBytes();
  for (int i = 0; i < 800; ++i) Post(general_, ada_, big);
  const int64_t after = ResidentBytes();
  std::cout << "resident set: " << before / (1 << 20) << " MiB before, " << after / (1 << 20)
            << " MiB after 125 MB of events past a stalled stream\n";
  EXPECT_LT(after - before, 48 << 20) << "the stalled stream holds at most its bound";
  auto [status, got] = stalled->Drain();
  EXPECT_EQ(status.error_code(), StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
}

class WriteTimeoutTest : public SlowReaderTest {
 protected:
  WriteTimeoutTest()
      : SlowReaderTest([](Config& c) {
          c.event_stream_queue = 100000;
          c.event_stream_queue_bytes = 1 << 30;  // neither bound trips
          c.event_stream_write_timeout = absl::Milliseconds(500);
        }) {}
};

TEST_F(WriteTimeoutTest, AClientThatStopsReadingIsCutOff) {
  const int64_t hits = LimitHits::Get(Limit::kStreamWriteTimeout);
  auto stub = v1::EventService::NewStub(testing::SeparateConnection(server_.address(), true));
  auto slow = Open(stub.get(), ada_, general_);
  WaitForStreams(1);
  PostBig(150);  // more than windows and transport buffers hold: a write in flight stalls
  absl::SleepFor(absl::Seconds(1));
  PostBig(2);  // events arriving behind a write stalled for > 500 ms
  auto [status, got] = slow->Drain();
  EXPECT_EQ(status.error_code(), StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "took no event")) << status.error_message();
  EXPECT_LT(got, 152);
  EXPECT_EQ(LimitHits::Get(Limit::kStreamWriteTimeout) - hits, 1)
      << "counted under EVENT_STREAM_WRITE_TIMEOUT_MS";
}

// A stream's own database calls (cursor checks, membership, replay reads)
// are bounded by STATEMENT_TIMEOUT_MS, like any call without a deadline:
// with the pool's only connection held, the stream ends DEADLINE_EXCEEDED
// at that bound, not UNAVAILABLE at the (longer) acquire timeout.
class StreamCallTimeoutTest : public SlowReaderTest {
 protected:
  StreamCallTimeoutTest()
      : SlowReaderTest([](Config& c) {
          c.pool_max_size = 1;
          c.pool_acquire_timeout = absl::Seconds(20);
          c.statement_timeout = absl::Seconds(1);
        }) {}
};

TEST_F(StreamCallTimeoutTest, AStreamsDatabaseCallsEndAtTheStatementTimeout) {
  absl::StatusOr<PooledConnection> held =
      server_.server()->pool().Acquire(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(held.ok()) << held.status();
  auto stub = v1::EventService::NewStub(testing::SeparateConnection(server_.address(), true));
  const absl::Time start = absl::Now();
  auto stream = Open(stub.get(), ada_, general_);
  auto [status, got] = stream->Drain();
  EXPECT_EQ(status.error_code(), StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_EQ(got, 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(15)) << "bounded by the statement timeout (1 s)";
}

constexpr char kTokens[] =
    "f32a02c54bd11004e2988582fa7a4a89650593f8592309c9a11be3781b4a4a80  chat-gateway\n"
    "28bfc45beaaf3948f86a6e59325166f5cae0f9d9be493f380bad4368f7225a63  ops  roles=admin\n";

class StreamCountTest : public testing::DomainTest {
 protected:
  StreamCountTest()
      : DomainTest(
            [](Config& c) {
              const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/tokens";
              std::ofstream(path) << kTokens;
              c.auth_tokens_file = path;
              c.max_event_streams = 3;
              c.max_event_streams_per_caller = 2;
            },
            {{"authorization", "Bearer s3cret-ops"}}) {
    ada_ = User("ada");
    general_ = Channel(ada_, "general");
    EXPECT_TRUE(server_.WaitForEventHub());
  }
  v1::User ada_;
  v1::Channel general_;
};

TEST_F(StreamCountTest, PerCallerAndPerProcessCounts) {
  const int64_t per_caller = LimitHits::Get(Limit::kEventStreamsPerCaller);
  const int64_t per_process = LimitHits::Get(Limit::kEventStreams);
  auto gateway = v1::EventService::NewStub(testing::SeparateConnection(server_.address(), false));
  auto ops = v1::EventService::NewStub(testing::SeparateConnection(server_.address(), false));
  auto g1 = Open(gateway.get(), ada_, general_, "s3cret-gateway");
  auto g2 = Open(gateway.get(), ada_, general_, "s3cret-gateway");
  auto g3 = Open(gateway.get(), ada_, general_, "s3cret-gateway");
  auto [refused, n] = g3->Drain();
  EXPECT_EQ(refused.error_code(), StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "MAX_EVENT_STREAMS_PER_CALLER"))
      << refused.error_message();
  auto o1 = Open(ops.get(), ada_, general_, "s3cret-ops");  // another caller: admitted
  auto o2 = Open(ops.get(), ada_, general_, "s3cret-ops");  // but the process is full
  auto [full, m] = o2->Drain();
  EXPECT_EQ(full.error_code(), StatusCode::RESOURCE_EXHAUSTED) << full.error_message();
  EXPECT_TRUE(absl::StrContains(full.error_message(), "MAX_EVENT_STREAMS")) << full.error_message();
  EXPECT_EQ(LimitHits::Get(Limit::kEventStreamsPerCaller) - per_caller, 1);
  EXPECT_EQ(LimitHits::Get(Limit::kEventStreams) - per_process, 1);
  // Streams that end give their places back.
  g1->context.TryCancel();
  g1->Drain();
  absl::SleepFor(absl::Milliseconds(300));
  auto g4 = Open(gateway.get(), ada_, general_, "s3cret-gateway");
  Post(general_, ada_, "still flowing");
  v1::Event e;
  EXPECT_TRUE(g4->reader->Read(&e)) << "admitted again once a place is free";
  EXPECT_TRUE(o1->reader->Read(&e)) << "the other caller's stream is unaffected";
  for (Stream* s : {g2.get(), o1.get(), g4.get()}) s->context.TryCancel();
  for (Stream* s : {g2.get(), o1.get(), g4.get()}) s->Drain();
}

}  // namespace
}  // namespace chatgenius
