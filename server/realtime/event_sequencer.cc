#include "server/realtime/event_sequencer.h"

#include <algorithm>
#include <optional>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/common/log.h"
#include "server/db/cancel_watcher.h"
#include "server/db/db_connection.h"
#include "server/metrics/prometheus_text.h"
#include "server/realtime/reconnect_loop.h"
#include "server/store/event_store.h"

namespace chatgenius {

namespace {

// Rounds remembered for the watermark; past it the oldest are dropped,
// which only delays W (a later pair settles it further).
constexpr size_t kMaxPending = 4096;

}  // namespace

EventSequencer::EventSequencer(SequencerSettings settings, std::function<void()> on_stamped)
    : settings_(std::move(settings)), on_stamped_(std::move(on_stamped)) {}

EventSequencer::~EventSequencer() { Stop(); }

void EventSequencer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void EventSequencer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void EventSequencer::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

SequencerStatistics EventSequencer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void EventSequencer::WaitForWork(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return woken_ || stopping_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  woken_ = false;
}

void EventSequencer::Run() {
  auto stopping = [this] {
    absl::MutexLock lock(&mu_);
    return stopping_;
  };
  auto sleep = [this](absl::Duration d) {
    absl::MutexLock lock(&mu_);
    auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stop), d);
  };
  RunReconnecting({"event sequencer", settings_.reconnect_delay, stopping, sleep,
                   [&](const std::function<void()>& connected) {
                     DbConnection conn(absl::StrCat(settings_.conninfo,
                                                    " application_name=chatgenius-db-sequencer"));
                     EventStore::PrepareSequencerOn(conn);
                     connected();
                     Contend(conn, stopping, sleep);
                   },
                   [this] {
                     absl::MutexLock lock(&mu_);
                     stats_.leader = false;
                   }});
  absl::MutexLock lock(&mu_);
  stats_.leader = false;
}

void EventSequencer::Contend(DbConnection& conn, const std::function<bool()>& stopping,
                             const std::function<void(absl::Duration)>& sleep) {
  while (!stopping()) {
    bool lead = false;
    {
      CancelWatcher::Registration watch =
          Watcher().Watch(conn.cancel_target(), nullptr, absl::Now() + settings_.round_timeout);
      pqxx::nontransaction t(conn);
      lead = EventStore::TryLeadIn(t);
    }
    if (lead) {
      Lead(conn);
    } else {
      sleep(settings_.contend_interval);
    }
  }
}

void EventSequencer::Lead(DbConnection& conn) {
  {
    pqxx::nontransaction t(conn);
    watermark_ = EventStore::WatermarkIn(t);
  }
  persisted_watermark_ = watermark_;
  persisted_at_ = absl::InfinitePast();
  pending_.clear();
  {
    absl::MutexLock lock(&mu_);
    stats_.leader = true;
    ++stats_.leaderships_total;
    stats_.watermark = watermark_;
  }
  LogInfo(absl::StrCat("event sequencer: leading from event id ", watermark_));
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    // A full batch means more are waiting: go again at once.
    if (Round(conn) >= settings_.batch) continue;
    WaitForWork(settings_.poll_interval);
  }
}

CancelWatcher& EventSequencer::Watcher() const {
  return CancelWatcher::GivenOrGlobal(settings_.cancel_watcher);
}

void EventSequencer::AdvanceWatermark(const StampRound& round, int64_t high, bool want_xid) {
  if (round.stamped < settings_.batch) {
    // Every committed, unstamped id in [W, H] was visible and is stamped
    // now. A pair whose xid is below this snapshot's xmin: every
    // transaction that had drawn an id up to its H has ended, committed
    // ones were visible to this round — all stamped.
    while (!pending_.empty() && pending_.front().xid <= round.xmin) {
      watermark_ = std::max(watermark_, pending_.front().high_id + 1);
      pending_.pop_front();
    }
  }
  if (want_xid) pending_.push_back({high, round.xid});
  while (pending_.size() > kMaxPending) pending_.pop_front();
}

int64_t EventSequencer::Round(DbConnection& conn) {
  const absl::Time started = absl::Now();
  CancelWatcher::Registration watch =
      Watcher().Watch(conn.cancel_target(), nullptr, absl::Now() + settings_.round_timeout);
  int64_t high = 0;
  {
    // Before the round's xid is assigned: every transaction that drew an
    // id up to `high` already had an xid below it (AppendIn takes the xid
    // first, and xids are handed out in order).
    pqxx::nontransaction t(conn);
    high = EventStore::IdHighWaterIn(t);
  }
  // Nothing drawn since the watermark passed it: no event can be waiting
  // (a new one needs a new id). Idle polls stop here.
  if (high < watermark_) {
    absl::MutexLock lock(&mu_);
    ++stats_.rounds_total;
    return 0;
  }
  // A new pair only when ids were drawn since the last one; the xid costs
  // nothing more when the round writes anyway.
  const bool want_xid = pending_.empty() || pending_.back().high_id != high;
  // Kept for the next leader at most once a second, in this round's own
  // statement: a stored watermark that lags is only a larger first round,
  // while updating that row every round would grow a HOT chain every
  // reader of it walks.
  std::optional<int64_t> keep;
  if (watermark_ != persisted_watermark_ && absl::Now() - persisted_at_ >= absl::Seconds(1)) {
    keep = watermark_;
  }
  StampRound round;
  {
    // One statement in autocommit: one round trip, one commit (no WAL
    // flush when it stamped nothing).
    pqxx::nontransaction t(conn);
    round = EventStore::StampIn(t, watermark_, high, settings_.batch, want_xid, keep);
  }
  if (keep) {
    persisted_watermark_ = *keep;
    persisted_at_ = absl::Now();
  }
  AdvanceWatermark(round, high, want_xid);
  {
    absl::MutexLock lock(&mu_);
    ++stats_.rounds_total;
    stats_.round_time_total += absl::Now() - started;
    stats_.stamped_total += round.stamped;
    if (round.last_seq > 0) stats_.position = round.last_seq;
    stats_.watermark = watermark_;
  }
  if (round.stamped > 0 && on_stamped_) on_stamped_();
  return round.stamped;
}

void AppendSequencerMetrics(const SequencerStatistics& seq, std::string* out) {
  AppendGauge(out, "chatgenius_events_sequencer_leader",
              "1 while this process stamps the database's events.", seq.leader ? 1 : 0);
  AppendCounter(out, "chatgenius_events_stamped_total", "Events this process gave a position.",
                seq.stamped_total);
  AppendCounter(out, "chatgenius_events_sequencer_rounds_total", "Stamping rounds run here.",
                seq.rounds_total);
  AppendCounter(out, "chatgenius_events_sequencer_round_seconds_total",
                "Time spent in stamping rounds here.", absl::ToDoubleSeconds(seq.round_time_total));
  AppendGauge(out, "chatgenius_events_sequencer_watermark",
              "Event id below which every event is stamped (as last seen here).", seq.watermark);
}

}  // namespace chatgenius
