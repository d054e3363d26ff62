// event_bench: post -> event delivery latency at several subscriber counts,
// and the server's RSS idle and with the streams open. Run by bench/run.sh
// against the real server binary; prints one table.
//
//   event_bench --target=127.0.0.1:PORT --server_pid=PID --subscribers=1,100,1000
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/client.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "server address");
ABSL_FLAG(int, server_pid, 0, "server process id, for its RSS");
ABSL_FLAG(std::string, subscribers, "1,100,1000", "subscriber counts to measure");
ABSL_FLAG(int, messages, 200, "messages posted per measurement");
ABSL_FLAG(int, interval_ms, 5, "pause between posts");
ABSL_FLAG(std::string, latencies_file, "",
          "write every delivery latency here as 'subscribers ms' lines (for --plot)");

namespace v1 = ::chatgenius::db::v1;

namespace {

int64_t RssKiB(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      int64_t kib = 0;
      std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kib)) return kib;
    }
  }
  return -1;
}

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
  std::printf("%-12s %10s %10s %10s %12s\n", "subscribers", "p50_ms", "p99_ms", "delivered",
              "server_rss_MiB");
  FILE* latencies_out = absl::GetFlag(FLAGS_latencies_file).empty()
                            ? nullptr
                            : std::fopen(absl::GetFlag(FLAGS_latencies_file).c_str(), "w");
  for (absl::string_view count_text : absl::StrSplit(absl::GetFlag(FLAGS_subscribers), ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(count_text, &n) || n <= 0) continue;
    grpc::CompletionQueue cq;
    struct Stream {
      grpc::ClientContext context;
      std::unique_ptr<grpc::ClientAsyncReader<v1::Event>> reader;
      v1::Event event;
    };
    std::vector<std::unique_ptr<Stream>> streams(n);
    auto stub = v1::EventService::NewStub(db.channel());
    v1::SubscribeRequest follow;
    follow.add_channel_ids(channel->id());
    follow.set_viewer_id(channel->created_by());
    for (int i = 0; i < n; ++i) {
      streams[i] = std::make_unique<Stream>();
      streams[i]->reader = stub->AsyncSubscribe(
          &streams[i]->context, follow, &cq, reinterpret_cast<void*>(static_cast<intptr_t>(i * 2)));
    }
    // Posting times by message content, and latencies as they arrive.
    absl::Mutex mu;
    std::map<std::string, absl::Time> sent;
    std::vector<double> latencies;
    std::thread reader([&] {
      void* tag;
      bool ok;
      while (cq.Next(&tag, &ok)) {
        intptr_t t = reinterpret_cast<intptr_t>(tag);
        Stream& s = *streams[t / 2];
        if (!ok) continue;
        if (t % 2 == 1 && s.event.kind() == v1::EVENT_KIND_MESSAGE_CREATED) {
          absl::Time now = absl::Now();
          absl::MutexLock lock(&mu);
          auto it = sent.find(s.event.message().content());
          if (it != sent.end()) latencies.push_back(absl::ToDoubleMilliseconds(now - it->second));
        }
        s.reader->Read(&s.event, reinterpret_cast<void*>(t | 1));
      }
    });
    absl::SleepFor(absl::Seconds(2));  // streams register with the hub
    const int64_t open_rss = pid > 0 ? RssKiB(pid) : -1;
    const int messages = absl::GetFlag(FLAGS_messages);
    for (int i = 0; i < messages; ++i) {
      v1::PostMessageRequest post;
      post.set_channel_id(channel->id());
      post.set_author_id(user->id());
      post.set_content(absl::StrCat("bench ", n, " ", i));
      {
        absl::MutexLock lock(&mu);
        sent[post.content()] = absl::Now();
      }
      if (!db.PostMessage(post).ok()) std::fprintf(stderr, "post failed\n");
      absl::SleepFor(absl::Milliseconds(absl::GetFlag(FLAGS_interval_ms)));
    }
    const size_t expected = static_cast<size_t>(messages) * n;
    for (absl::Time until = absl::Now() + absl::Seconds(30); absl::Now() < until;) {
      {
        absl::MutexLock lock(&mu);
        if (latencies.size() >= expected) break;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    for (auto& s : streams) s->context.TryCancel();
    cq.Shutdown();
    reader.join();
    absl::MutexLock lock(&mu);
    if (latencies_out != nullptr) {
      for (double ms : latencies) std::fprintf(latencies_out, "%d %.3f\n", n, ms);
    }
    std::printf("%-12d %10.2f %10.2f %9.1f%% %12.1f\n", n, Percentile(latencies, 0.5),
                Percentile(latencies, 0.99), 100.0 * latencies.size() / expected,
                open_rss / 1024.0);
    std::fflush(stdout);
  }
  if (latencies_out != nullptr) std::fclose(latencies_out);
  std::printf("server RSS idle: %.1f MiB\n", idle_rss / 1024.0);
  return 0;
}
