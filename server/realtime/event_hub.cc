#include "server/realtime/event_hub.h"

#include <poll.h>

#include <algorithm>

#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/metrics/prometheus_text.h"
#include "server/realtime/reconnect_loop.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

}  // namespace

// Collects the sequencer's NOTIFYs: the payload is the highest position
// its round gave (anything else, e.g. an operator's bare NOTIFY, means
// "read to find out").
class EventHub::WakeUp : public pqxx::notification_receiver {
 public:
  explicit WakeUp(pqxx::connection_base& conn)
      : pqxx::notification_receiver(conn, kEventNotifyChannel) {}
  void operator()(const std::string& payload, int /*backend_pid*/) override {
    int64_t seq = 0;
    if (absl::SimpleAtoi(payload, &seq) && seq > 0) {
      highest = std::max(highest, seq);
    } else {
      unknown = true;
    }
  }
  // Whether what arrived since the last call may be past `position`.
  bool NewerThan(int64_t position) {
    const bool newer = unknown || highest > position;
    unknown = false;
    return newer;
  }

 private:
  int64_t highest = 0;
  bool unknown = false;
};

EventHub::EventHub(HubSettings settings, EventStore* store)
    : settings_(std::move(settings)), store_(store) {}

EventHub::~EventHub() { Stop(); }

void EventHub::Start() {
  if (!wake_.status().ok()) {
    LogError(absl::StrCat("event hub: ", wake_.status().message(),
                          "; Stop and Wake will wait for a poll tick"));
  }
  thread_ = std::thread([this] { Run(); });
  retention_thread_ = std::thread([this] { RunRetention(); });
}

void EventHub::Stop() {
  {
    // Under the lock, like fan-out: a subscriber is only destroyed after its
    // Remove, which waits for this loop.
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    for (EventSubscriber* s : subscribers_) s->OnHubStopped();
    subscribers_.clear();
    stats_.subscribers = 0;
  }
  if (!stop_.HasBeenNotified()) stop_.Notify();
  wake_.Wake();
  if (thread_.joinable()) thread_.join();
  if (retention_thread_.joinable()) retention_thread_.join();
}

void EventHub::Wake() { wake_.Wake(); }

absl::StatusOr<int64_t> EventHub::Add(EventSubscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return absl::UnavailableError("the server is shutting down");
  if (!initialized_) {
    return absl::UnavailableError("the event feed is not connected to the database yet; retry");
  }
  subscribers_.insert(subscriber);
  stats_.subscribers = static_cast<int>(subscribers_.size());
  return position_;
}

void EventHub::Remove(EventSubscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(subscriber);
  stats_.subscribers = static_cast<int>(subscribers_.size());
}

HubStatistics EventHub::stats() const {
  absl::MutexLock lock(&mu_);
  HubStatistics s = stats_;
  s.position = position_;
  return s;
}

void EventHub::CatchUp(pqxx::connection& conn) {
  while (!stop_.HasBeenNotified()) {
    int64_t after;
    {
      absl::MutexLock lock(&mu_);
      after = position_;
      ++stats_.reads_total;
    }
    absl::StatusOr<std::vector<StoredEvent>> events;
    bool cut = false;
    {
      pqxx::nontransaction txn(conn);
      events = EventStore::ReadIn(txn, after, settings_.batch_size, settings_.batch_bytes, &cut);
    }
    if (!events.ok()) {
      LogError(absl::StrCat("event hub: ", events.status().ToString()));
      return;
    }
    if (events->empty()) return;
    EventBatch batch;
    batch.reserve(events->size());
    for (StoredEvent& e : *events)
      batch.push_back(std::make_shared<const StoredEvent>(std::move(e)));
    {
      // Fan-out and the position move together, so Add's answer is exact:
      // a new subscriber gets OnEvents for everything after it.
      absl::MutexLock lock(&mu_);
      for (EventSubscriber* s : subscribers_) s->OnEvents(batch);
      position_ = batch.back()->event.id();
      stats_.events_total += static_cast<int64_t>(batch.size());
    }
    if (static_cast<int>(batch.size()) < settings_.batch_size && !cut) return;
  }
}

void EventHub::RunRetention() {
  while (!stop_.HasBeenNotified()) {
    int64_t pruned = 0;
    while (!stop_.HasBeenNotified()) {
      // A batch is short; a bounded one also bounds how long Stop waits
      // for this thread when the database has gone silent.
      absl::StatusOr<int64_t> batch = store_->Prune(settings_.retention, settings_.prune_batch,
                                                    absl::Now() + absl::Seconds(10));
      if (!batch.ok()) {
        LogWarning(absl::StrCat("event hub: pruning: ", batch.status().ToString()));
        break;
      }
      pruned += *batch;
      if (*batch < settings_.prune_batch) break;
    }
    if (pruned > 0) {
      LogInfo(absl::StrCat("event hub: pruned ", pruned, " events older than ",
                           absl::FormatDuration(settings_.retention)));
    }
    stop_.WaitForNotificationWithTimeout(settings_.prune_interval);
  }
}

void EventHub::Run() {
  bool connected_before = false;
  RunReconnecting({"event hub: LISTEN connection", settings_.reconnect_delay,
                   [this] { return stop_.HasBeenNotified(); },
                   [this](absl::Duration d) { stop_.WaitForNotificationWithTimeout(d); },
                   [&](const std::function<void()>& connected) {
                     pqxx::connection conn(absl::StrCat(settings_.conninfo,
                                                        " application_name=chatgenius-db-listen"));
                     EventStore::PrepareReaderOn(conn);
                     WakeUp wake(conn);  // LISTEN before reading, so no commit falls between
                     Connected(conn, connected_before);
                     connected();
                     connected_before = true;
                     Listen(conn, wake);
                   },
                   [this] {
                     absl::MutexLock lock(&mu_);
                     stats_.connected = false;
                   }});
}

void EventHub::Connected(pqxx::connection& conn, bool reconnect) {
  {
    absl::MutexLock lock(&mu_);
    if (!initialized_) {
      // Live streams start at the present; older events are replayed from
      // the database by the streams that ask for them.
      pqxx::nontransaction txn(conn);
      position_ = EventStore::LatestPositionIn(txn);
      initialized_ = true;
    }
    stats_.connected = true;
    if (reconnect) ++stats_.reconnects_total;
  }
  if (reconnect) LogInfo("event hub: reconnected; catching up by id");
}

void EventHub::Listen(pqxx::connection& conn, WakeUp& wake) {
  bool read = true;
  while (!stop_.HasBeenNotified()) {
    if (read) CatchUp(conn);
    // Wait for a wake-up on the connection, Stop's pipe, or the poll
    // interval: await_notification plus a way to be woken.
    pollfd fds[2] = {{conn.sock(), POLLIN, 0}, {wake_.fd(), POLLIN, 0}};
    const int ready = poll(fds, 2, static_cast<int>(absl::ToInt64Milliseconds(kPollInterval)));
    // Read after a local Wake or a poll interval without news; after
    // NOTIFYs only if one says a position past what this hub has (the
    // local sequencer's round wakes it twice: in-process, then by NOTIFY
    // once the first read already fanned the round out).
    read = ready <= 0 || (fds[1].revents & POLLIN) != 0;
    if (fds[1].revents & POLLIN) {
      wake_.Drain();
      if (stop_.HasBeenNotified()) return;
    }
    conn.get_notifs();
    int64_t position;
    {
      absl::MutexLock lock(&mu_);
      position = position_;
    }
    if (wake.NewerThan(position)) read = true;
  }
}

void AppendHubMetrics(const HubStatistics& hub, std::string* out) {
  AppendGauge(out, "chatgenius_events_listen_connected", "1 while the LISTEN connection is up.",
              hub.connected ? 1 : 0);
  AppendGauge(out, "chatgenius_events_position", "Last event id fanned out.", hub.position);
  AppendCounter(out, "chatgenius_events_fanned_out_total", "Events read from the log.",
                hub.events_total);
  AppendCounter(out, "chatgenius_events_hub_reads_total", "Queries of the event log by the hub.",
                hub.reads_total);
}

}  // namespace chatgenius
