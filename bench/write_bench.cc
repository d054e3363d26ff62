// Write path, measured against PostgreSQL with fsync on: PostMessage through
// the service at 1 / 16 / 64 writers in distinct channels and 16 in one
// channel, side by side with the very same transaction run in-process
// (MessageStore::Post on a 10-connection pool: the SQL the service runs,
// without gRPC); the sequencer's stamping rate and backlog during the
// 64-writer run; and post -> event latency at 100 subscribers while 16
// writers post. Prints one table per figure with the ratios.
//
//   write_bench --target=127.0.0.1:50051 --direct='host=/run/pg port=5432 dbname=writes'
#include <unistd.h>
#include <algorithm>
#include <atomic>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <pqxx/pqxx>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "chatgenius/db/v1/event_service.grpc.pb.h"
#include "chatgenius/db/v1/message_service.grpc.pb.h"
#include "server/db/connection_pool.h"
#include "server/store/event_store.h"
#include "server/store/message_store.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "the service");
ABSL_FLAG(std::string, floor_target, "",
          "bench/grpc_floor: the same calls to a server that does no work (optional)");
ABSL_FLAG(std::string, direct, "", "libpq conninfo of the (fsync on) database the service uses");
ABSL_FLAG(std::string, writers, "1,16,64", "writer counts, each in its own channel");
ABSL_FLAG(double, seconds, 3, "duration of each side of each throughput comparison");
ABSL_FLAG(int, alternations, 3, "turns each side of a comparison runs in, alternating");
ABSL_FLAG(int, connections, 10, "in-process pool size: the service's POOL_MAX_SIZE");
ABSL_FLAG(int, subscribers, 100, "streams for the post -> event figure");
ABSL_FLAG(int, background_writers, 16, "writers posting elsewhere during the post -> event figure");
ABSL_FLAG(bool, only_latency, false, "skip the throughput figures");
ABSL_FLAG(std::string, background_rates, "0,25",
          "posts/s of each background writer for the post -> event figure (0: as fast as it can)");

namespace {

namespace v1 = ::chatgenius::db::v1;

constexpr int kMaxWriters = 64;

// Zero-padded digits are valid Crockford base32: valid ULIDs.
std::string Id(const char* prefix, int64_t n) {
  std::string digits = std::to_string(n);
  return absl::StrCat(prefix, std::string(23 - digits.size(), '0'), digits);
}
std::string UserId(int i) { return Id("01W", i); }
std::string OwnChannel(int i) { return Id("01C", i); }
const std::string kShared = Id("01S", 0);
const std::string kProbe = Id("01P", 0);
const std::string kViewer = Id("01V", 0);

// Setup: writers 0..63 each own a channel; writers 0..15 also share one;
// the probe channel has the prober (writer 0) and the viewer.
void CreateDataset(const std::string& conninfo) {
  pqxx::connection c(conninfo);
  pqxx::work t(c);
  for (int i = 0; i < kMaxWriters; ++i) {
    t.exec_params(
        "INSERT INTO users (id, email, username) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        UserId(i), absl::StrCat("w", i, "@bench.example"), absl::StrCat("writer", i));
    t.exec_params(
        "INSERT INTO channels (id, name, type, created_by) VALUES ($1, $2, 'public', $3) "
        "ON CONFLICT DO NOTHING",
        OwnChannel(i), absl::StrCat("own-", i), UserId(i));
    t.exec_params(
        "INSERT INTO channel_members (channel_id, user_id, role) VALUES ($1, $2, 'owner') "
        "ON CONFLICT DO NOTHING",
        OwnChannel(i), UserId(i));
  }
  t.exec_params(
      "INSERT INTO users (id, email, username) VALUES ($1, 'viewer@bench.example', 'viewer') "
      "ON CONFLICT DO NOTHING",
      kViewer);
  for (const auto& [id, name] : {std::pair{kShared, "shared"}, std::pair{kProbe, "probe"}}) {
    t.exec_params(
        "INSERT INTO channels (id, name, type, created_by) VALUES ($1, $2, 'public', $3) "
        "ON CONFLICT DO NOTHING",
        id, name, UserId(0));
  }
  for (int i = 0; i < 16; ++i) {
    t.exec_params(
        "INSERT INTO channel_members (channel_id, user_id, role) VALUES ($1, $2, 'member') "
        "ON CONFLICT DO NOTHING",
        kShared, UserId(i));
  }
  t.exec_params(
      "INSERT INTO channel_members (channel_id, user_id, role) VALUES ($1, $2, 'member'), "
      "($1, $3, 'member') ON CONFLICT DO NOTHING",
      kProbe, UserId(0), kViewer);
  t.commit();
}

// The calls of one side of a comparison, over all its alternations.
struct Sample {
  std::vector<double> latencies_ms;
  int64_t failures = 0;
  double seconds = 0;
  double busy_cpu_seconds = 0;  // the whole machine's, while this side ran
};

// BusyCpuSeconds is the machine's non-idle CPU time so far (/proc/stat:
// user, nice, system, irq, softirq; steal — a neighbour's — excluded).
// Client, server and PostgreSQL share the 2 cores, so CPU per post says
// what a side costs independently of how fast the VM happens to be.
double BusyCpuSeconds() {
  std::FILE* f = std::fopen("/proc/stat", "r");
  if (f == nullptr) return 0;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  const int n = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &system,
                            &idle, &iowait, &irq, &softirq);
  std::fclose(f);
  if (n != 7) return 0;
  return static_cast<double>(user + nice + system + irq + softirq) / sysconf(_SC_CLK_TCK);
}

struct Result {
  double per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  int64_t failures = 0;
  double cpu_ms_per_post = 0;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

Result Summarise(Sample& s) {
  Result r;
  r.failures = s.failures;
  r.per_second =
      s.seconds > 0 ? static_cast<double>(s.latencies_ms.size() - s.failures) / s.seconds : 0;
  r.p50_ms = Percentile(s.latencies_ms, 0.50);
  r.p99_ms = Percentile(s.latencies_ms, 0.99);
  const int64_t ok = static_cast<int64_t>(s.latencies_ms.size()) - s.failures;
  r.cpu_ms_per_post = ok > 0 ? s.busy_cpu_seconds * 1000 / static_cast<double>(ok) : 0;
  return r;
}

using PostFn = std::function<bool(int writer, int seq)>;

// RunInto calls `post(writer)` from `n` threads for `duration`, adding the
// calls to `out`.
void RunInto(int n, absl::Duration duration, const PostFn& post, Sample* out) {
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(n);
  std::atomic<int64_t> failures{0};
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  const double cpu_start = BusyCpuSeconds();
  for (int w = 0; w < n; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; !stop.load(); ++i) {
        const absl::Time t0 = absl::Now();
        if (!post(w, i)) ++failures;
        latencies[w].push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
      }
    });
  }
  absl::SleepFor(duration);
  stop = true;
  for (std::thread& t : threads) t.join();
  out->seconds += absl::ToDoubleSeconds(absl::Now() - start);
  out->busy_cpu_seconds += BusyCpuSeconds() - cpu_start;
  out->failures += failures.load();
  for (const auto& l : latencies)
    out->latencies_ms.insert(out->latencies_ms.end(), l.begin(), l.end());
}

struct Comparison {
  Result service, direct, floor;
  bool has_floor = false;
};

// Compare runs the sides in turns (service, in-process, [floor,] service,
// ...) `--alternations` times, `--seconds` per side in all: this VM's
// speed drifts with its neighbours over seconds, and one long run per side
// measured that drift as much as the sides.
Comparison Compare(int n, const PostFn& service, const PostFn& direct, const PostFn& floor) {
  const int turns = std::max(1, absl::GetFlag(FLAGS_alternations));
  const absl::Duration each = absl::Seconds(absl::GetFlag(FLAGS_seconds)) / turns;
  Sample s, d, f;
  for (int i = 0; i < turns; ++i) {
    RunInto(n, each, service, &s);
    RunInto(n, each, direct, &d);
    if (floor) RunInto(n, each, floor, &f);
  }
  Comparison c{Summarise(s), Summarise(d), Summarise(f), static_cast<bool>(floor)};
  return c;
}

// Posters through the service: one HTTP/2 connection per 8 writers.
class ServicePoster {
 public:
  explicit ServicePoster(const std::string& target) {
    for (int i = 0; i < kMaxWriters / 8; ++i) {
      grpc::ChannelArguments args;
      args.SetInt("grpc.channel_id", i);  // distinct connections
      stubs_.push_back(v1::MessageService::NewStub(
          grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args)));
    }
  }
  bool Post(const std::string& channel, int writer, int seq) {
    v1::PostMessageRequest r;
    r.set_channel_id(channel);
    r.set_author_id(UserId(writer));
    r.set_content(absl::StrCat("bench post ", writer, "/", seq));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::Message out;
    return stubs_[writer % stubs_.size()]->PostMessage(&context, r, &out).ok();
  }
  v1::MessageService::Stub* stub(int i) { return stubs_[i % stubs_.size()].get(); }

 private:
  std::vector<std::unique_ptr<v1::MessageService::Stub>> stubs_;
};

bool DirectPost(chatgenius::MessageStore& store, const std::string& channel, int writer, int seq) {
  chatgenius::NewMessage m;
  m.channel_id = channel;
  m.author_id = UserId(writer);
  m.content = absl::StrCat("direct post ", writer, "/", seq);
  return store.Post(m, absl::Now() + absl::Seconds(10)).ok();
}

void PrintHeader() {
  std::printf(
      "| writers | service (machine CPU per post) | same transaction in-process | ratio | "
      "gRPC hop, no work | composition limit | service / limit |\n"
      "|---|---|---|---|---|---|---|\n");
}

// A row: the service, the in-process transaction and their ratio; with a
// floor, also the hop's throughput and the composition limit
// 1 / (1/floor + 1/in-process) — what a service adding nothing to one gRPC
// hop and this transaction would reach — and the service's share of it.
void PrintRow(const std::string& label, const Comparison& c) {
  const Result& service = c.service;
  const Result& direct = c.direct;
  std::string floor = "—", limit = "—", share = "—";
  if (c.has_floor && c.floor.per_second > 0 && direct.per_second > 0) {
    const double composed = 1 / (1 / c.floor.per_second + 1 / direct.per_second);
    floor = absl::StrFormat("%.0f/s (%.2f CPU ms)", c.floor.per_second, c.floor.cpu_ms_per_post);
    limit = absl::StrFormat("%.0f/s", composed);
    share = absl::StrFormat("%.2f", service.per_second / composed);
  }
  std::printf(
      "| %s | %s/s (p50 %.1f ms, p99 %.1f ms; %.2f CPU ms) | %s/s (p50 %.1f, p99 %.1f; %.2f CPU "
      "ms) | %.2f | %s | %s | %s |\n",
      label.c_str(), absl::StrFormat("%.0f", service.per_second).c_str(), service.p50_ms,
      service.p99_ms, service.cpu_ms_per_post, absl::StrFormat("%.0f", direct.per_second).c_str(),
      direct.p50_ms, direct.p99_ms, direct.cpu_ms_per_post,
      direct.per_second > 0 ? service.per_second / direct.per_second : 0, floor.c_str(),
      limit.c_str(), share.c_str());
  if (service.failures + direct.failures + c.floor.failures > 0) {
    std::printf("|   failures: service %lld, direct %lld, floor %lld | | | | | | |\n",
                static_cast<long long>(service.failures), static_cast<long long>(direct.failures),
                static_cast<long long>(c.floor.failures));
  }
}

int64_t Scalar(pqxx::connection& c, const std::string& sql) {
  pqxx::nontransaction t(c);
  return t.exec1(sql)[0].as<int64_t>();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string conninfo = absl::GetFlag(FLAGS_direct);
  CreateDataset(conninfo);
  ServicePoster service(absl::GetFlag(FLAGS_target));
  std::unique_ptr<ServicePoster> floor;
  if (!absl::GetFlag(FLAGS_floor_target).empty()) {
    floor = std::make_unique<ServicePoster>(absl::GetFlag(FLAGS_floor_target));
  }
  chatgenius::PoolSettings settings;
  settings.conninfo = conninfo + " application_name=write_bench-in-process";
  settings.max_size = absl::GetFlag(FLAGS_connections);
  chatgenius::ConnectionPool pool(settings);
  chatgenius::Database db(&pool);
  chatgenius::MessageStore store(&db);
  pqxx::connection probe(conninfo + " application_name=write_bench-probe");
  std::string fsync, synchronous_commit;
  {
    pqxx::nontransaction t(probe);
    fsync = t.exec1("SHOW fsync")[0].as<std::string>();
    synchronous_commit = t.exec1("SHOW synchronous_commit")[0].as<std::string>();
  }
  std::printf("fsync = %s, synchronous_commit = %s\n", fsync.c_str(), synchronous_commit.c_str());

  if (!absl::GetFlag(FLAGS_only_latency)) {
    std::printf(
        "\n== PostMessage, writers in distinct channels (goal >= 0.8 of direct at 16 and 64)\n");
    PrintHeader();
    std::vector<int> counts;
    for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_writers), ',')) {
      int n = 0;
      if (absl::SimpleAtoi(s, &n)) counts.push_back(std::min(n, kMaxWriters));
    }
    int64_t stamped_per_second = 0, backlog_max = 0;
    double committed_per_second = 0;
    for (int n : counts) {
      const bool sample = n == counts.back();
      std::atomic<bool> sampling{sample};
      std::atomic<int64_t> max_backlog{0};
      const int64_t seq_before = Scalar(probe, "SELECT coalesce(max(seq), 0) FROM event_positions");
      const int64_t posts_before = Scalar(probe, "SELECT count(*) FROM messages");
      const absl::Time t0 = absl::Now();
      std::thread sampler([&] {
        if (!sample) return;
        // jit off: the planner cannot know the watermark's range is small,
        // and compiling the count took 8 ms of a core every 50 ms.
        pqxx::connection c(conninfo + " application_name=write_bench-sampler options='-c jit=off'");
        while (sampling.load()) {
          max_backlog = std::max<int64_t>(
              max_backlog.load(),
              // Only ids at or above the stored watermark can be waiting:
              // a count over the whole log cost PostgreSQL more CPU than
              // the sequencer does.
              Scalar(c,
                     "SELECT count(*) FROM events e "
                     "WHERE e.id >= (SELECT stamped_below FROM event_sequencer) "
                     "AND (SELECT 1 FROM event_positions p WHERE p.event_id = e.id) IS NULL"));
          absl::SleepFor(absl::Milliseconds(200));
        }
      });
      const Comparison c = Compare(
          n, [&](int w, int i) { return service.Post(OwnChannel(w), w, i); },
          [&](int w, int i) { return DirectPost(store, OwnChannel(w), w, i); },
          floor ? PostFn([&](int w, int i) { return floor->Post(OwnChannel(w), w, i); })
                : PostFn());
      sampling = false;
      sampler.join();
      if (sample) {
        absl::SleepFor(absl::Milliseconds(200));  // the last round
        const double elapsed = absl::ToDoubleSeconds(absl::Now() - t0);
        stamped_per_second = static_cast<int64_t>(
            (Scalar(probe, "SELECT coalesce(max(seq), 0) FROM event_positions") - seq_before) /
            elapsed);
        committed_per_second =
            (Scalar(probe, "SELECT count(*) FROM messages") - posts_before) / elapsed;
        backlog_max = max_backlog.load();
      }
      PrintRow(std::to_string(n), c);
    }

    std::printf("\n== PostMessage, 16 writers in one channel (goal >= 0.7 of direct)\n");
    PrintHeader();
    {
      const Comparison c = Compare(
          16, [&](int w, int i) { return service.Post(kShared, w, i); },
          [&](int w, int i) { return DirectPost(store, kShared, w, i); },
          floor ? PostFn([&](int w, int i) { return floor->Post(kShared, w, i); }) : PostFn());
      PrintRow("16, one channel", c);
    }

    std::printf(
        "\n== sequencer during the %d-writer comparison, both sides (goal: never the "
        "bottleneck)\n",
        counts.empty() ? 0 : counts.back());
    std::printf("| events stamped/s | posts committed/s | most events waiting for a position |\n");
    std::printf("|---|---|---|\n| %lld | %.0f | %lld |\n",
                static_cast<long long>(stamped_per_second), committed_per_second,
                static_cast<long long>(backlog_max));

  }  // !only_latency

  // post -> event: subscribers on the probe channel, writers elsewhere.
  for (absl::string_view rate_text : absl::StrSplit(absl::GetFlag(FLAGS_background_rates), ',')) {
    int rate = 0;
    if (!absl::SimpleAtoi(rate_text, &rate)) continue;
    const int subscribers = absl::GetFlag(FLAGS_subscribers);
    std::printf(
        "\n== post -> event p99 at %d subscribers while %d writers post %s (goal < 15 ms)\n",
        subscribers, absl::GetFlag(FLAGS_background_writers),
        rate == 0 ? "as fast as they can" : absl::StrCat(rate, "/s each").c_str());
    auto channel =
        grpc::CreateChannel(absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials());
    auto events = v1::EventService::NewStub(channel);
    absl::Mutex mu;
    std::map<std::string, absl::Time> posted_at, acked_at;
    std::vector<double> latencies;
    std::vector<std::pair<std::string, absl::Time>> arrivals;
    std::map<std::string, int64_t> seq_of;  // probe content -> its event's position
    // The sequencer's NOTIFYs (payload: the round's highest position) as a
    // hub on another replica would see them: when each round committed.
    std::vector<std::pair<int64_t, absl::Time>> rounds;
    std::atomic<bool> listening{true};
    std::thread listener([&] {
      pqxx::connection c(absl::GetFlag(FLAGS_direct) + " application_name=write_bench-listen");
      struct Receiver : pqxx::notification_receiver {
        Receiver(pqxx::connection_base& c, absl::Mutex* mu,
                 std::vector<std::pair<int64_t, absl::Time>>* out)
            : pqxx::notification_receiver(c, chatgenius::kEventNotifyChannel), mu(mu), out(out) {}
        void operator()(const std::string& payload, int) override {
          int64_t seq = 0;
          const absl::Time now = absl::Now();
          if (!absl::SimpleAtoi(payload, &seq)) return;
          absl::MutexLock lock(mu);
          out->emplace_back(seq, now);
        }
        absl::Mutex* mu;
        std::vector<std::pair<int64_t, absl::Time>>* out;
      } receiver(c, &mu, &rounds);
      while (listening.load()) c.await_notification(0, 50000);
    });
    std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
    std::vector<std::thread> readers;
    std::atomic<int> ready{0};
    for (int i = 0; i < subscribers; ++i) {
      contexts.push_back(std::make_unique<grpc::ClientContext>());
      grpc::ClientContext* context = contexts.back().get();
      readers.emplace_back([&, context] {
        v1::SubscribeRequest r;
        r.add_channel_ids(kProbe);
        r.set_viewer_id(kViewer);
        auto reader = events->Subscribe(context, r);
        reader->WaitForInitialMetadata();
        ++ready;
        v1::Event e;
        while (reader->Read(&e)) {
          const absl::Time now = absl::Now();
          absl::MutexLock lock(&mu);
          auto it = posted_at.find(e.message().content());
          if (it != posted_at.end()) {
            latencies.push_back(absl::ToDoubleMilliseconds(now - it->second));
            arrivals.emplace_back(e.message().content(), now);
            seq_of[e.message().content()] = e.id();
          }
        }
        (void)reader->Finish();
      });
    }
    while (ready.load() < subscribers) absl::SleepFor(absl::Milliseconds(10));
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 1; w <= absl::GetFlag(FLAGS_background_writers); ++w) {
      writers.emplace_back([&, w] {
        for (int i = 0; !stop.load(); ++i) {
          service.Post(OwnChannel(w), w, i);
          if (rate > 0) absl::SleepFor(absl::Seconds(1.0 / rate));
        }
      });
    }
    auto prober = v1::MessageService::NewStub(channel);
    for (int i = 0; i < 200; ++i) {
      v1::PostMessageRequest r;
      r.set_channel_id(kProbe);
      r.set_author_id(UserId(0));
      r.set_content(absl::StrCat("probe ", i));
      grpc::ClientContext context;
      v1::Message out;
      {
        // Keyed by content: an event may arrive before the reply does.
        absl::MutexLock lock(&mu);
        posted_at[r.content()] = absl::Now();
      }
      const bool ok = prober->PostMessage(&context, r, &out).ok();
      const absl::Time acked = absl::Now();
      if (ok) {
        absl::MutexLock lock(&mu);
        acked_at[r.content()] = acked;
      }
      // Not under the lock: readers and the listener take it per event.
      absl::SleepFor(absl::Milliseconds(10));
    }
    absl::SleepFor(absl::Milliseconds(500));
    stop = true;
    for (std::thread& t : writers) t.join();
    for (auto& c : contexts) c->TryCancel();
    for (std::thread& t : readers) t.join();
    listening = false;
    listener.join();
    std::vector<double> all, after_ack, to_round, to_first, to_last;
    {
      absl::MutexLock lock(&mu);
      all = latencies;
      std::map<std::string, std::pair<absl::Time, absl::Time>> first_last;
      for (const auto& [content, at] : arrivals) {
        auto it = acked_at.find(content);
        if (it != acked_at.end()) {
          after_ack.push_back(std::max(0.0, absl::ToDoubleMilliseconds(at - it->second)));
        }
        auto [fl, added] = first_last.try_emplace(content, at, at);
        if (!added) {
          fl->second.first = std::min(fl->second.first, at);
          fl->second.second = std::max(fl->second.second, at);
        }
      }
      for (const auto& [content, acked] : acked_at) {
        auto seq = seq_of.find(content);
        auto fl = first_last.find(content);
        if (seq == seq_of.end() || fl == first_last.end()) continue;
        to_first.push_back(std::max(0.0, absl::ToDoubleMilliseconds(fl->second.first - acked)));
        to_last.push_back(std::max(0.0, absl::ToDoubleMilliseconds(fl->second.second - acked)));
        for (const auto& [round_seq, at] : rounds) {
          if (round_seq >= seq->second) {
            to_round.push_back(std::max(0.0, absl::ToDoubleMilliseconds(at - acked)));
            break;
          }
        }
      }
    }
    const size_t expected = 200u * static_cast<size_t>(subscribers);
    const double p50 = Percentile(all, 0.5), p99 = Percentile(all, 0.99);
    const double a50 = Percentile(after_ack, 0.5), a99 = Percentile(after_ack, 0.99);
    std::printf(
        "| subscribers | deliveries matched | call start -> event p50 / p99 | "
        "reply -> event p50 / p99 |\n|---|---|---|---|\n");
    std::printf("| %d | %zu of %zu | %.1f / %.1f ms | %.1f / %.1f ms |\n", subscribers, all.size(),
                expected, p50, p99, a50, a99);
    // Where the time goes, per probe, from its reply: its round's commit
    // (the NOTIFY), the first and the last of the subscribers.
    std::printf(
        "| from the reply (per probe) | round committed (NOTIFY) | first subscriber | "
        "last subscriber |\n|---|---|---|---|\n");
    std::printf("| p50 / p99 | %.1f / %.1f ms | %.1f / %.1f ms | %.1f / %.1f ms |\n",
                Percentile(to_round, 0.5), Percentile(to_round, 0.99), Percentile(to_first, 0.5),
                Percentile(to_first, 0.99), Percentile(to_last, 0.5), Percentile(to_last, 0.99));
  }
  return 0;
}
