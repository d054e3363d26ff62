// event_bench: post -> event delivery latency at several subscriber counts,
// and the server's RSS idle and with the streams open. Run by bench/run.sh
// against the real server binary; prints one table.
//
// The streams are spread over --readers threads, each with a connection
// and a completion queue of its own, so one client thread parsing every
// event is not what the figure measures; the table also gives the load
// generator's CPU per delivered event (it shares the machine's cores).
//
//   event_bench --target=127.0.0.1:PORT --server_pid=PID --subscribers=1,100,1000
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/process_stats.h"
#include "client/client.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "server address");
ABSL_FLAG(int, server_pid, 0, "server process id, for its RSS");
ABSL_FLAG(std::string, subscribers, "1,100,1000", "subscriber counts to measure");
ABSL_FLAG(int, messages, 200, "messages posted per measurement");
ABSL_FLAG(int, interval_ms, 5, "pause between posts");
ABSL_FLAG(int, readers, 4, "reader threads, each with its own connection and completion queue");
ABSL_FLAG(std::string, latencies_file, "",
          "write every delivery latency here as 'subscribers ms' lines (for --plot)");

namespace v1 = ::chatgenius::db::v1;

namespace {

using chatgenius::bench::RssKiB;
using chatgenius::bench::SelfCpuSeconds;

// A reader: its own connection (a distinct channel argument keeps gRPC
// from sharing one subchannel between them), completion queue and thread.
struct Reader {
  std::unique_ptr<v1::EventService::Stub> stub;
  grpc::CompletionQueue cq;
  std::thread thread;
  std::vector<double> latencies;  // only its own thread writes, until joined
};

// Completion-queue tags: stream index * 4 + what completed.
constexpr intptr_t kStarted = 0, kRegistered = 1, kRead = 2;
intptr_t Tag(int stream, intptr_t what) { return static_cast<intptr_t>(stream) * 4 + what; }

struct Stream {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientAsyncReader<v1::Event>> reader;
  v1::Event event;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  chatgenius::client::ClientOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  auto client = chatgenius::client::Client::Create(options);
  if (!client.ok()) return 1;
  auto& db = **client;
  const std::string suffix = absl::StrCat(absl::ToUnixMillis(absl::Now()));
  v1::CreateUserRequest cu;
  cu.mutable_user()->set_username("bench" + suffix);
  cu.mutable_user()->set_email("bench" + suffix + "@example.com");
  auto user = db.CreateUser(cu);
  v1::CreateChannelRequest cc;
  cc.mutable_channel()->set_name("bench-" + suffix);
  cc.mutable_channel()->set_type(v1::CHANNEL_TYPE_PUBLIC);
  cc.set_creator_id(user.ok() ? user->id() : "");
  auto channel = user.ok() ? db.CreateChannel(cc) : absl::StatusOr<v1::Channel>(user.status());
  if (!channel.ok()) {
    std::fprintf(stderr, "setup failed: %s\n", channel.status().ToString().c_str());
    return 1;
  }
  const int pid = absl::GetFlag(FLAGS_server_pid);
  const int64_t idle_rss = pid > 0 ? RssKiB(pid) : -1;
  std::printf("%-12s %10s %10s %10s %12s %14s %12s\n", "subscribers", "p50_ms", "p99_ms",
              "delivered", "server_rss_MiB", "generator_us", "post_p50_ms");
  FILE* latencies_out = absl::GetFlag(FLAGS_latencies_file).empty()
                            ? nullptr
                            : std::fopen(absl::GetFlag(FLAGS_latencies_file).c_str(), "w");
  for (absl::string_view count_text : absl::StrSplit(absl::GetFlag(FLAGS_subscribers), ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(count_text, &n) || n <= 0) continue;
    const int messages = absl::GetFlag(FLAGS_messages);
    // Post i's send time (ns since the epoch), read by every reader.
    std::vector<std::atomic<int64_t>> sent(messages);
    for (auto& t : sent) t.store(0);
    const int reader_count = std::max(1, std::min(absl::GetFlag(FLAGS_readers), n));
    std::vector<std::unique_ptr<Reader>> readers(reader_count);
    std::vector<std::unique_ptr<Stream>> streams(n);
    v1::SubscribeRequest follow;
    follow.add_channel_ids(channel->id());
    follow.set_viewer_id(channel->created_by());
    for (int r = 0; r < reader_count; ++r) {
      readers[r] = std::make_unique<Reader>();
      grpc::ChannelArguments args;
      args.SetInt("chatgenius.bench_reader", r);
      args.SetMaxReceiveMessageSize(-1);
      readers[r]->stub = v1::EventService::NewStub(grpc::CreateCustomChannel(
          absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials(), args));
    }
    for (int i = 0; i < n; ++i) {
      streams[i] = std::make_unique<Stream>();
      Reader& r = *readers[i % reader_count];
      streams[i]->reader = r.stub->AsyncSubscribe(&streams[i]->context, follow, &r.cq,
                                                  reinterpret_cast<void*>(Tag(i, kStarted)));
    }
    std::atomic<int64_t> delivered{0};
    std::atomic<int> registered{0};
    for (auto& reader : readers) {
      Reader* r = reader.get();
      r->thread = std::thread([&, r] {
        void* tag;
        bool ok;
        while (r->cq.Next(&tag, &ok)) {
          const intptr_t t = reinterpret_cast<intptr_t>(tag);
          Stream& s = *streams[t / 4];
          if (!ok) continue;
          if (t % 4 == kStarted) {
            // The stream's chatgenius-start-after comes once the server has
            // registered it: every later post reaches it.
            s.reader->ReadInitialMetadata(reinterpret_cast<void*>(t - kStarted + kRegistered));
            continue;
          }
          if (t % 4 == kRegistered) registered.fetch_add(1);
          if (t % 4 == kRead && s.event.kind() == v1::EVENT_KIND_MESSAGE_CREATED) {
            const int64_t now = absl::GetCurrentTimeNanos();
            // Content "bench <n> <i>": i indexes the send times.
            const std::string& content = s.event.message().content();
            int i = -1;
            if (absl::SimpleAtoi(content.substr(content.rfind(' ') + 1), &i) && i >= 0 &&
                i < messages && sent[i].load() > 0) {
              r->latencies.push_back((now - sent[i].load()) / 1e6);
              delivered.fetch_add(1);
            }
          }
          s.reader->Read(&s.event, reinterpret_cast<void*>(t - t % 4 + kRead));
        }
      });
    }
    for (absl::Time until = absl::Now() + absl::Seconds(60);
         registered.load() < n && absl::Now() < until;) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    if (registered.load() < n) {
      std::fprintf(stderr, "only %d of %d streams started\n", registered.load(), n);
    }
    const int64_t open_rss = pid > 0 ? RssKiB(pid) : -1;
    const double cpu0 = SelfCpuSeconds();
    std::vector<double> post_ms;  // each PostMessage call, for the reply's share
    for (int i = 0; i < messages; ++i) {
      v1::PostMessageRequest post;
      post.set_channel_id(channel->id());
      post.set_author_id(user->id());
      post.set_content(absl::StrCat("bench ", n, " ", i));
      sent[i].store(absl::GetCurrentTimeNanos());
      if (!db.PostMessage(post).ok()) std::fprintf(stderr, "post failed\n");
      post_ms.push_back((absl::GetCurrentTimeNanos() - sent[i].load()) / 1e6);
      absl::SleepFor(absl::Milliseconds(absl::GetFlag(FLAGS_interval_ms)));
    }
    const int64_t expected = static_cast<int64_t>(messages) * n;
    for (absl::Time until = absl::Now() + absl::Seconds(30);
         absl::Now() < until && delivered.load() < expected;) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    const double generator_cpu = SelfCpuSeconds() - cpu0;
    for (auto& s : streams) s->context.TryCancel();
    for (auto& r : readers) r->cq.Shutdown();
    std::vector<double> latencies;
    for (auto& r : readers) {
      r->thread.join();
      latencies.insert(latencies.end(), r->latencies.begin(), r->latencies.end());
    }
    if (latencies_out != nullptr) {
      for (double ms : latencies) std::fprintf(latencies_out, "%d %.3f\n", n, ms);
    }
    std::printf("%-12d %10.2f %10.2f %9.1f%% %12.1f %14.1f %12.2f\n", n, Percentile(latencies, 0.5),
                Percentile(latencies, 0.99), 100.0 * latencies.size() / expected, open_rss / 1024.0,
                latencies.empty() ? 0.0 : generator_cpu * 1e6 / latencies.size(),
                Percentile(post_ms, 0.5));
    std::fflush(stdout);
  }
  if (latencies_out != nullptr) std::fclose(latencies_out);
  std::printf("server RSS idle: %.1f MiB\n", idle_rss / 1024.0);
  return 0;
}
