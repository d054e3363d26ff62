// Load generator: GetMessage and ListMessages(50) through the service (our
// client library, one channel, N threads), and the same SQL statements run
// directly with libpqxx (prepared, on at most --connections connections:
// the service's pool limit) and through PgBouncer (transaction pooling, so
// unnamed statements). Then keyset vs OFFSET paging deep in a 900k-message
// channel and a 10k one. Prints one table per figure with the ratios.
//
//   load_bench --target=127.0.0.1:50051 --direct='host=... dbname=bench'
//              --pgbouncer='host=127.0.0.1 port=6432 dbname=bench'

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/process_stats.h"
#include "client/client.h"
#include "server/store/channel_store.h"
#include "server/store/message_store.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "the service");
ABSL_FLAG(std::string, direct, "", "libpq conninfo of PostgreSQL itself");
ABSL_FLAG(std::string, pgbouncer, "", "libpq conninfo of PgBouncer in front of it (optional)");
ABSL_FLAG(std::string, floor_target, "",
          "bench/grpc_floor: the same calls to a server that does no work (optional)");
ABSL_FLAG(std::string, plot_data, "",
          "write the throughput points here, one line per method and concurrency (for --plot)");
ABSL_FLAG(std::string, concurrency, "1,16,64", "client concurrency levels");
ABSL_FLAG(double, seconds, 3, "duration of each throughput measurement");
ABSL_FLAG(int, connections, 10, "direct connections: the service's POOL_MAX_SIZE");
ABSL_FLAG(int, latency_samples, 200, "calls per paging latency figure");
ABSL_FLAG(int, server_pid, 0,
          "the service's pid: also report its CPU time per call (from /proc), and the load "
          "generator's own");
ABSL_FLAG(std::string, methods, "",
          "only these read RPCs (comma-separated: get,list,replies,search,channels; empty = all), "
          "e.g. to profile one at a time");
ABSL_FLAG(std::string, compare_targets, "",
          "name=host:port,...: only compare these services' GetMessage and ListMessages "
          "throughput (e.g. primary only vs with replicas), interleaved, ratios to the first");

namespace {

using chatgenius::bench::ProcessCpuSeconds;
using chatgenius::bench::SelfCpuSeconds;

namespace v1 = ::chatgenius::db::v1;
using chatgenius::MessageStore;

std::string Id(const char* prefix, int64_t n) {
  std::string digits = std::to_string(n);
  return absl::StrCat(prefix, std::string(23 - digits.size(), '0'), digits);
}
const std::string kViewer = Id("01A", 0);
const std::string kBig = Id("01C", 0);
// The service's default page byte budget (MAX_RESPONSE_BYTES), passed to its SQL.
constexpr int kResponseBudget = chatgenius::ContentLimits{}.max_response_bytes;
const std::string kSmall = Id("01C", 1);

// A random top-level message of the big channel.
std::string RandomBigMessage(std::mt19937_64& rng) {
  int64_t n = static_cast<int64_t>(rng() % 900000);
  if (n % 100 >= 1 && n % 100 <= 3) n -= n % 100;
  return Id("01M", n);
}

struct Result {
  double per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  int64_t errors = 0;
  int64_t calls = 0;
};

// CpuPerCall: microseconds of CPU per call, server and load generator.
struct CpuPerCall {
  double server_us = 0;
  double client_us = 0;
};

// Run starts `threads` workers; each makes its call function once (its own
// connection) and calls it until the time is up.
Result Run(int threads, absl::Duration duration,
           const std::function<std::function<bool(std::mt19937_64&)>(int)>& make_worker) {
  std::vector<std::vector<double>> latencies(threads);
  std::atomic<int64_t> errors{0};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  absl::Time end;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::function<bool(std::mt19937_64&)> call = make_worker(t);
      std::mt19937_64 rng(t + 1);
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      while (absl::Now() < end) {
        const absl::Time start = absl::Now();
        if (!call(rng)) errors.fetch_add(1);
        latencies[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
      }
    });
  }
  while (ready.load() < threads) absl::SleepFor(absl::Milliseconds(1));
  const absl::Time start = absl::Now();
  end = start + duration;
  go = true;
  for (std::thread& w : workers) w.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Result r;
  r.errors = errors.load();
  r.calls = static_cast<int64_t>(all.size());
  if (all.empty()) return r;
  r.per_second = static_cast<double>(all.size()) / seconds;
  r.p50_ms = all[all.size() / 2];
  r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return r;
}

std::unique_ptr<chatgenius::client::Client> NewClient(const std::string& target) {
  chatgenius::client::ClientOptions options;
  options.target = target;
  options.default_deadline = absl::Seconds(10);
  options.max_attempts = 1;
  auto c = chatgenius::client::Client::Create(options);
  if (!c.ok()) {
    std::fprintf(stderr, "client: %s\n", c.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*c);
}

// The read RPCs measured. kGet and kList are the two the floor server
// answers too; the rest are measured against direct SQL and PgBouncer.
enum class Method { kGet, kList, kReplies, kSearch, kChannels };

// Each method's --methods key and its name in the tables, in enum order.
struct MethodNames {
  const char* key;
  const char* name;
};
constexpr MethodNames kMethodNames[] = {{"get", "GetMessage"},
                                        {"list", "ListMsgs(50)"},
                                        {"replies", "ThreadReplies"},
                                        {"search", "Search(lunch)"},
                                        {"channels", "ListChannels"}};

const char* MethodName(Method m) { return kMethodNames[static_cast<int>(m)].name; }

// A thread parent of the big channel (every 100th row; 3 replies each).
std::string RandomParent(std::mt19937_64& rng) {
  return Id("01M", static_cast<int64_t>(rng() % 9000) * 100);
}

std::function<bool(std::mt19937_64&)> RpcCall(chatgenius::client::Client* client, Method m) {
  if (m == Method::kGet) {
    return [client](std::mt19937_64& rng) {
      v1::GetMessageRequest r;
      r.set_id(RandomBigMessage(rng));
      r.set_viewer_id(kViewer);
      return client->GetMessage(r).ok();
    };
  }
  if (m == Method::kList) {
    return [client](std::mt19937_64&) {
      v1::ListMessagesRequest r;
      r.set_channel_id(kBig);
      r.set_viewer_id(kViewer);
      r.set_page_size(50);
      auto page = client->ListMessages(r);
      return page.ok() && page->messages_size() == 50;
    };
  }
  if (m == Method::kReplies) {
    return [client](std::mt19937_64& rng) {
      v1::ListThreadRepliesRequest r;
      r.set_thread_parent_id(RandomParent(rng));
      r.set_viewer_id(kViewer);
      r.set_page_size(50);
      v1::ListThreadRepliesResponse page;
      auto context = client->NewContext();
      return client->messages().ListThreadReplies(context.get(), r, &page).ok() &&
             page.replies_size() == 3;
    };
  }
  if (m == Method::kSearch) {
    return [client](std::mt19937_64&) {
      v1::SearchMessagesRequest r;
      r.set_user_id(kViewer);
      r.set_query("lunch");
      r.set_page_size(50);
      v1::SearchMessagesResponse page;
      auto context = client->NewContext();
      return client->messages().SearchMessages(context.get(), r, &page).ok() &&
             page.hits_size() == 50;
    };
  }
  return [client](std::mt19937_64&) {
    v1::ListChannelsRequest r;
    r.set_member_id(kViewer);
    r.set_viewer_id(kViewer);
    r.set_page_size(50);
    v1::ListChannelsResponse page;
    auto context = client->NewContext();
    return client->channels().ListChannels(context.get(), r, &page).ok() &&
           page.channels_size() == 50;
  };
}

// SqlCall runs the service's own statement: prepared on a direct
// connection, unnamed (exec_params) through PgBouncer's transaction pooling.
std::function<bool(std::mt19937_64&)> SqlCall(const std::string& conninfo, Method m,
                                              bool prepared) {
  auto connection = std::make_shared<pqxx::connection>(conninfo);
  // The statements the store runs for the call, in order.
  std::vector<std::string> sql;
  switch (m) {
    case Method::kGet:
      sql = {MessageStore::GetSql()};
      break;
    case Method::kList:
      sql = {MessageStore::ListOlderSql()};
      break;
    case Method::kReplies:  // the parent (visible to the viewer), then its page
      sql = {MessageStore::GetSql(), MessageStore::RepliesSql()};
      break;
    case Method::kSearch:
      sql = {MessageStore::SearchSql()};
      break;
    case Method::kChannels:
      sql = {chatgenius::ChannelStore::ListForMemberSql()};
      break;
  }
  if (prepared) {
    for (size_t i = 0; i < sql.size(); ++i) connection->prepare(absl::StrCat("s", i), sql[i]);
  }
  const int candidates = chatgenius::ContentLimits{}.search_max_candidates;
  return [connection, m, sql, prepared, candidates](std::mt19937_64& rng) {
    try {
      pqxx::nontransaction tx(*connection);
      auto exec = [&](size_t i, auto&&... args) {
        return prepared ? tx.exec_prepared(absl::StrCat("s", i), args...)
                        : tx.exec_params(sql[i], args...);
      };
      switch (m) {
        case Method::kGet:
          return exec(0, kViewer, RandomBigMessage(rng)).size() == 1;
        case Method::kList:
          return exec(0, kViewer, kBig, "~", 50, kResponseBudget).size() == 50;
        case Method::kReplies: {
          const std::string parent = RandomParent(rng);
          if (exec(0, kViewer, parent).size() != 1) return false;
          return exec(1, kViewer, parent, "", 51, kResponseBudget).size() == 3;
        }
        case Method::kSearch: {
          const std::optional<std::string> none;
          const std::optional<int64_t> no_time;
          return exec(0, kViewer, "lunch", "{}", "", no_time, no_time, none, "", 51, candidates,
                      kResponseBudget)
                     .size() == 51;
        }
        case Method::kChannels:
          return exec(0, kViewer, false, "", 51).size() == 51;
      }
      return false;
    } catch (const std::exception& e) {
      return false;
    }
  };
}

// Wanted: --methods names m (or is empty).
bool Wanted(Method m) {
  const std::string methods = absl::GetFlag(FLAGS_methods);
  if (methods.empty()) return true;
  for (absl::string_view s : absl::StrSplit(methods, ',')) {
    if (s == kMethodNames[static_cast<int>(m)].key) return true;
  }
  return false;
}

// Levels is --concurrency as numbers.
std::vector<int> Levels() {
  std::vector<int> levels;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_concurrency), ',')) {
    int c = 0;
    if (absl::SimpleAtoi(s, &c)) levels.push_back(c);
  }
  return levels;
}

void Throughput() {
  const std::vector<int> levels = Levels();
  const absl::Duration d = absl::Seconds(absl::GetFlag(FLAGS_seconds));
  const int max_conns = absl::GetFlag(FLAGS_connections);
  const std::string bouncer = absl::GetFlag(FLAGS_pgbouncer);
  std::unique_ptr<chatgenius::client::Client> client = NewClient(absl::GetFlag(FLAGS_target));
  std::unique_ptr<chatgenius::client::Client> floor;
  if (!absl::GetFlag(FLAGS_floor_target).empty()) {
    floor = NewClient(absl::GetFlag(FLAGS_floor_target));
  }
  FILE* plot = nullptr;
  if (!absl::GetFlag(FLAGS_plot_data).empty()) {
    plot = std::fopen(absl::GetFlag(FLAGS_plot_data).c_str(), "w");
    if (plot != nullptr) std::fprintf(plot, "# method conc service direct pgbouncer floor limit\n");
  }
  struct CpuRow {
    Method method;
    int concurrency;
    CpuPerCall cpu;
  };
  std::vector<CpuRow> cpu_rows;
  // The server's own background work (sequencer and hub polls, readiness
  // probes) runs whether or not calls come: measured idle first, it is
  // taken out of each point, or slow calls would carry seconds of it.
  double idle_cpu_per_second = 0;
  if (absl::GetFlag(FLAGS_server_pid) > 0) {
    const double before = ProcessCpuSeconds(absl::GetFlag(FLAGS_server_pid));
    absl::SleepFor(absl::Seconds(2));
    idle_cpu_per_second = (ProcessCpuSeconds(absl::GetFlag(FLAGS_server_pid)) - before) / 2;
  }
  std::printf(
      "== RPC throughput: service vs the same SQL direct (prepared, <= %d connections), via "
      "PgBouncer (transaction pooling, pool %d), and the composition limit 1/(1/floor + "
      "1/direct) where floor is the same call to bench/grpc_floor (no work); goal service/direct "
      ">= 0.8\n",
      max_conns, max_conns);
  std::printf("%-13s %5s | %9s %7s %7s | %9s %7s %7s | %9s %7s %7s | %8s %8s | %8s %8s\n", "method",
              "conc", "service/s", "p50 ms", "p99 ms", "direct/s", "p50 ms", "p99 ms",
              "pgbouncer/s", "p50 ms", "p99 ms", "svc/dir", "svc/pgb", "floor/s", "svc/lim");
  for (Method m :
       {Method::kGet, Method::kList, Method::kReplies, Method::kSearch, Method::kChannels}) {
    if (!Wanted(m)) continue;
    // The floor answers only GetMessage and ListMessages.
    const bool has_floor = m == Method::kGet || m == Method::kList;
    for (int c : levels) {
      const int server_pid = absl::GetFlag(FLAGS_server_pid);
      const double server0 = server_pid > 0 ? ProcessCpuSeconds(server_pid) : 0;
      const double client0 = SelfCpuSeconds();
      const absl::Time started = absl::Now();
      Result svc = Run(c, d, [&](int) { return RpcCall(client.get(), m); });
      const double elapsed = absl::ToDoubleSeconds(absl::Now() - started);
      CpuPerCall cpu;
      if (svc.calls > 0) {
        cpu.client_us = (SelfCpuSeconds() - client0) * 1e6 / static_cast<double>(svc.calls);
        if (server_pid > 0) {
          const double busy =
              ProcessCpuSeconds(server_pid) - server0 - idle_cpu_per_second * elapsed;
          cpu.server_us = std::max(0.0, busy) * 1e6 / static_cast<double>(svc.calls);
        }
      }
      cpu_rows.push_back({m, c, cpu});
      Result dir = Run(std::min(c, max_conns), d, [&](int) {
        return SqlCall(absl::GetFlag(FLAGS_direct), m, /*prepared=*/true);
      });
      Result pgb;
      if (!bouncer.empty()) {
        pgb = Run(c, d, [&](int) { return SqlCall(bouncer, m, /*prepared=*/false); });
      }
      Result flr;
      if (floor != nullptr && has_floor) {
        flr = Run(c, d, [&](int) { return RpcCall(floor.get(), m); });
      }
      const double limit = flr.per_second > 0 && dir.per_second > 0
                               ? 1 / (1 / flr.per_second + 1 / dir.per_second)
                               : 0;
      const char* name = MethodName(m);
      std::printf(
          "%-13s %5d | %9.0f %7.2f %7.2f | %9.0f %7.2f %7.2f | %9.0f %7.2f %7.2f | %8.2f %8.2f | "
          "%8.0f %8.2f%s\n",
          name, c, svc.per_second, svc.p50_ms, svc.p99_ms, dir.per_second, dir.p50_ms, dir.p99_ms,
          pgb.per_second, pgb.p50_ms, pgb.p99_ms, svc.per_second / dir.per_second,
          pgb.per_second > 0 ? svc.per_second / pgb.per_second : 0.0, flr.per_second,
          limit > 0 ? svc.per_second / limit : 0.0,
          svc.errors + dir.errors + pgb.errors + flr.errors > 0
              ? absl::StrFormat("  (errors %d/%d/%d/%d)", svc.errors, dir.errors, pgb.errors,
                                flr.errors)
                    .c_str()
              : "");
      if (plot != nullptr && has_floor) {
        std::fprintf(plot, "%s %d %.0f %.0f %.0f %.0f %.0f\n",
                     m == Method::kGet ? "GetMessage" : "ListMessages", c, svc.per_second,
                     dir.per_second, pgb.per_second, flr.per_second, limit);
      }
      std::fflush(stdout);
    }
  }
  if (plot != nullptr) std::fclose(plot);
  if (absl::GetFlag(FLAGS_server_pid) > 0) {
    std::printf(
        "\n== CPU per service call (the server process from /proc, less its idle %.1f ms/s of "
        "background work; the load generator, which shares the 2 cores, from getrusage), "
        "microseconds\n",
        idle_cpu_per_second * 1e3);
    std::printf("%-13s %5s | %12s %14s\n", "method", "conc", "server us", "generator us");
    for (const CpuRow& row : cpu_rows) {
      std::printf("%-13s %5d | %12.0f %14.0f\n", MethodName(row.method), row.concurrency,
                  row.cpu.server_us, row.cpu.client_us);
    }
  }
}

double MedianMs(int samples, const std::function<bool()>& call) {
  std::vector<double> ms;
  for (int i = 0; i < samples; ++i) {
    const absl::Time start = absl::Now();
    if (!call()) {
      std::fprintf(stderr, "paging call failed\n");
      std::exit(1);
    }
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void Paging() {
  const int samples = absl::GetFlag(FLAGS_latency_samples);
  pqxx::connection c(absl::GetFlag(FLAGS_direct));
  // OFFSET paging of the same listing: the keyset predicate replaced by an
  // OFFSET of the same depth.
  const std::string keyset = MessageStore::ListOlderSql();
  const std::string predicate =
      "(m.channel_id, m.id) < ($2::text, $3::text) AND (m.channel_id, m.id) > ($2::text, "
      "''::text)";
  if (keyset.find(predicate) == std::string::npos) {
    std::fprintf(stderr, "ListOlderSql changed; update the OFFSET variant\n");
    std::exit(1);
  }
  const std::string offset =
      absl::StrReplaceAll(keyset, {{predicate, "m.channel_id = $2 AND $3::text IS NOT NULL"},
                                   {"LIMIT $4", "LIMIT $4 OFFSET $6"}});
  c.prepare("keyset", keyset);
  c.prepare("offset", offset);
  std::unique_ptr<chatgenius::client::Client> client = NewClient(absl::GetFlag(FLAGS_target));

  struct Case {
    const char* name;
    std::string channel;
    std::string cursor;  // list messages older than this one
  };
  const Case cases[] = {
      {"900k channel, middle", kBig, Id("01M", 450000)},
      {"10k channel, middle", kSmall, Id("01M", 905000)},
      {"900k channel, newest", kBig, "~"},
      {"10k channel, newest", kSmall, "~"},
  };
  std::printf(
      "\n== ListMessages(50) latency (median of %d): keyset vs OFFSET on the same data; goal "
      "keyset 900k/10k <= 1.5\n",
      samples);
  std::printf("%-22s %8s | %10s %10s %10s | %9s\n", "page", "depth", "rpc ms", "keyset ms",
              "offset ms", "off/key");
  double rpc_ms[4], key_ms[4];
  for (int i = 0; i < 4; ++i) {
    const Case& k = cases[i];
    int64_t depth = 0;
    {
      pqxx::nontransaction tx(c);
      depth = tx.exec_params1(
                    "SELECT count(*) FROM messages WHERE channel_id = $1 AND "
                    "thread_parent_id IS NULL AND id > $2",
                    k.channel, k.cursor)[0]
                  .as<int64_t>();
    }
    rpc_ms[i] = MedianMs(samples, [&] {
      v1::ListMessagesRequest r;
      r.set_channel_id(k.channel);
      r.set_viewer_id(kViewer);
      r.set_page_size(50);
      if (k.cursor != "~") r.set_before_message_id(k.cursor);
      auto page = client->ListMessages(r);
      return page.ok() && page->messages_size() == 50;
    });
    key_ms[i] = MedianMs(samples, [&] {
      pqxx::nontransaction tx(c);
      return tx.exec_prepared("keyset", kViewer, k.channel, k.cursor, 50, kResponseBudget).size() ==
             50;
    });
    const double off_ms = MedianMs(std::max(5, samples / 20), [&] {
      pqxx::nontransaction tx(c);
      return tx.exec_prepared("offset", kViewer, k.channel, k.cursor, 50, kResponseBudget, depth)
                 .size() == 50;
    });
    std::printf("%-22s %8lld | %10.3f %10.3f %10.3f | %9.1f\n", k.name,
                static_cast<long long>(depth), rpc_ms[i], key_ms[i], off_ms, off_ms / key_ms[i]);
    std::fflush(stdout);
  }
  std::printf(
      "keyset 900k/10k at the middle: rpc %.2f, sql %.2f; newest page: rpc %.2f, sql %.2f\n",
      rpc_ms[0] / rpc_ms[1], key_ms[0] / key_ms[1], rpc_ms[2] / rpc_ms[3], key_ms[2] / key_ms[3]);
}

// CompareTargets measures the same calls against several services (each
// point interleaved over the targets, 3 rounds, the median kept), so the
// targets share the machine's noise.
void CompareTargets() {
  std::vector<std::pair<std::string, std::unique_ptr<chatgenius::client::Client>>> targets;
  for (absl::string_view entry : absl::StrSplit(absl::GetFlag(FLAGS_compare_targets), ',')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(entry, absl::MaxSplits('=', 1));
    targets.emplace_back(kv.first, NewClient(kv.second));
  }
  const std::vector<int> levels = Levels();
  const absl::Duration d = absl::Seconds(absl::GetFlag(FLAGS_seconds));
  std::printf("%-13s %5s", "method", "conc");
  for (const auto& t : targets) std::printf(" | %14s/s %8s", t.first.c_str(), "p99 ms");
  for (size_t i = 1; i < targets.size(); ++i) {
    std::printf(" | %s/%s", targets[i].first.c_str(), targets[0].first.c_str());
  }
  std::printf("\n");
  for (Method m : {Method::kGet, Method::kList}) {
    if (!Wanted(m)) continue;
    for (int c : levels) {
      std::vector<std::vector<Result>> rounds(targets.size());
      int64_t errors = 0;
      for (int round = 0; round < 3; ++round) {
        for (size_t i = 0; i < targets.size(); ++i) {
          Result r = Run(c, d / 3, [&](int) { return RpcCall(targets[i].second.get(), m); });
          errors += r.errors;
          rounds[i].push_back(r);
        }
      }
      std::vector<Result> median;
      for (auto& r : rounds) {
        std::sort(r.begin(), r.end(),
                  [](const Result& a, const Result& b) { return a.per_second < b.per_second; });
        median.push_back(r[1]);
      }
      std::printf("%-13s %5d", MethodName(m), c);
      for (const Result& r : median) std::printf(" | %16.0f %8.2f", r.per_second, r.p99_ms);
      for (size_t i = 1; i < median.size(); ++i) {
        std::printf(" | %*.2f",
                    static_cast<int>(targets[i].first.size() + targets[0].first.size() + 1),
                    median[i].per_second / median[0].per_second);
      }
      if (errors > 0) std::printf("  (errors %lld)", static_cast<long long>(errors));
      std::printf("\n");
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_compare_targets).empty()) {
    CompareTargets();
    return 0;
  }
  Throughput();
  Paging();
  return 0;
}
