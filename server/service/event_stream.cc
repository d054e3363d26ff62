#include "server/service/event_stream.h"

#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/metrics/limit_hits.h"
#include "server/metrics/prometheus_text.h"
#include "server/realtime/event_filter.h"
#include "server/service/rpc_util.h"
#include "server/service/subscription.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

// Rows read per replay round trip.
constexpr int kReplayBatch = 500;

// One Subscribe stream. Lifetime: deleted when gRPC is done with it (OnDone)
// and no replay or write task still refers to it, whichever comes last.
class EventStream final : public grpc::ServerWriteReactor<v1::Event>, public EventSubscriber {
 public:
  // `admitted` is the service's verdict on the stream count; `release`
  // runs when the stream is gone (it counted).
  EventStream(grpc::CallbackServerContext* context, EventHub* hub, EventStore* store,
              WorkQueue* work, WorkQueue* fanout, const EventStreamLimits& limits,
              EventStreamStats* stats, const v1::SubscribeRequest& request,
              const EndUserAuth* end_users, const absl::Status& admitted,
              std::function<void()> release)
      : context_(context),
        hub_(hub),
        store_(store),
        work_(work),
        fanout_(fanout),
        limits_(limits),
        capacity_(limits.queue_events),
        stats_(stats),
        request_(request),
        release_(std::move(release)) {
    stats_->open.fetch_add(1);
    absl::Status s = admitted;
    if (s.ok()) s = RequireActingUser(context, request_, end_users);
    if (s.ok()) s = ValidateSubscribe(request_);
    if (!s.ok()) {
      FinishOnce(ToGrpcStatus(s));
      return;
    }
    ScheduleTask([this] { Begin(); }, WorkQueue::kStart);
  }

  void OnEvents(const EventBatch& batch) override {
    bool pump = false;
    std::optional<Overflow> overflow;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      if (replaying_) {
        // Filtered once replay is done: the filter must see events in id
        // order, and these come after everything being replayed. Only
        // events it must refuse whatever comes first are dropped now.
        for (const auto& e : batch) {
          if (!filter_->MayMatch(*e)) continue;
          live_backlog_.push_back(e);
          backlog_bytes_ += e->bytes;
        }
        if (OverflowLocked(live_backlog_.size(), backlog_bytes_)) {
          // Far behind while replaying: rather than ending the stream (whose
          // resume id could not have advanced, so the client would come
          // back to the same place for ever), let the replay read these
          // from the log too, at the client's pace. Memory stays bounded;
          // a client that stops reading is still cut off by the write
          // timeout.
          replay_end_ = live_backlog_.back()->event.id();
          live_backlog_.clear();
          backlog_bytes_ = 0;
        }
      } else {
        for (const auto& e : batch) Enqueue(e);
        overflow = OverflowLocked(queue_.size(), queued_bytes_);
        pump = true;
      }
      // A client that stopped reading holds its write open; events piling
      // up behind it end the stream once that has lasted write_timeout.
      if (!overflow && writing_ && absl::Now() - write_started_ > limits_.write_timeout) {
        overflow = Overflow{Limit::kStreamWriteTimeout,
                            Exhausted(absl::StrCat("the client took no event for ",
                                                   absl::FormatDuration(limits_.write_timeout)))};
      }
    }
    if (overflow) {
      if (TryFinish(overflow->status)) {
        stats_->dropped_total.fetch_add(1);
        LimitHits::Count(overflow->limit);
      }
    } else if (pump) {
      SchedulePump();
    }
  }

  void OnHubStopped() override {
    int64_t last;
    {
      absl::MutexLock lock(&mu_);
      last = last_written_id_;
    }
    FinishOnce(
        grpc::Status(grpc::StatusCode::UNAVAILABLE,
                     absl::StrCat("server shutting down; resume with after_event_id=", last)));
  }

  void OnWriteDone(bool ok) override {
    bool replay_more = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!queue_.empty()) {
        if (ok) {
          last_written_id_ = queue_.front()->event.id();
          stats_->delivered_total.fetch_add(1);
        }
        queued_bytes_ -= queue_.front()->bytes;
        queue_.pop_front();
        stats_->queued.fetch_sub(1);
      }
      // Resume a replay that paused on a full queue once half has drained.
      if (ok && replay_paused_ && static_cast<int>(queue_.size()) <= capacity_ / 2 &&
          queued_bytes_ <= limits_.queue_bytes / 2) {
        replay_paused_ = false;
        replay_more = true;
      }
    }
    if (!ok) {
      FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    if (replay_more) ScheduleTask([this] { ReplayChunk(); });
    Pump();
  }

  ~EventStream() override {
    {
      absl::MutexLock lock(&mu_);
      stats_->queued.fetch_sub(static_cast<int64_t>(queue_.size()));
      stats_->open.fetch_sub(1);
    }
    if (release_) release_();
  }

  void OnCancel() override {
    FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client"));
  }

  void OnDone() override {
    hub_->Remove(this);  // after this the hub never calls us again
    bool last;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      last = tasks_ == 0;
    }
    if (last) delete this;
  }

 private:
  // ScheduleTask runs `task` on `queue` (default: the replay queue); the
  // stream outlives it.
  void ScheduleTask(std::function<void()> task, WorkQueue::Lane lane = WorkQueue::kContinue,
                    WorkQueue* queue = nullptr) {
    {
      absl::MutexLock lock(&mu_);
      ++tasks_;
    }
    (queue != nullptr ? queue : work_)->Schedule([this, task = std::move(task)] {
      task();
      bool last;
      {
        absl::MutexLock lock(&mu_);
        --tasks_;
        last = done_ && tasks_ == 0;
      }
      if (last) delete this;
    });
  }

  // Runs on the work queue: cursor checks, membership, registration.
  void Begin() {
    absl::StatusOr<StreamStart> begun =
        StartStream(*store_, request_, absl::Now() + limits_.call_timeout);
    if (!begun.ok()) return FinishOnce(ToGrpcStatus(begun.status()));
    const int64_t start = begun->after;
    std::optional<EventFilter> filter = std::move(begun->filter);
    {
      absl::MutexLock lock(&mu_);
      filter_ = std::move(filter);
      if (finished_) return;
      // Sent before any event and before registering: a caller that has it
      // gets every event committed from then on, and a stream that breaks
      // before its first event still says where to resume. (Under mu_:
      // Finish cannot start until this has.)
      context_->AddInitialMetadata(kStartAfterMetadata, std::to_string(start));
      StartSendInitialMetadata();
    }
    absl::StatusOr<int64_t> position = hub_->Add(this);
    if (!position.ok()) return FinishOnce(ToGrpcStatus(position.status()));
    bool ended;
    {
      absl::MutexLock lock(&mu_);
      ended = finished_;
    }
    if (ended) {
      // The call ended while we were registering: OnDone's Remove may have
      // run before our Add. (Never call the hub holding mu_: the hub calls
      // OnEvents holding its own lock.)
      hub_->Remove(this);
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      replay_cursor_ = start;
      // (OnEvents may already have moved it past the hub's position.)
      replay_end_ = std::max(replay_end_, *position);
      skip_through_ = replay_cursor_;
      last_written_id_ = replay_cursor_;
    }
    ReplayChunk();
  }

  // Runs on the work queue: one read of stored events, at most the free
  // queue space (in events and bytes), then the next chunk is scheduled
  // behind the other streams' work — or the replay pauses (queue full) or
  // switches to live events.
  void ReplayChunk() {
    int64_t cursor, end, byte_room;
    int room;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      cursor = replay_cursor_;
      end = replay_end_;
      const int64_t half = static_cast<int64_t>(limits_.queue_bytes / 2);
      byte_room = half - static_cast<int64_t>(queued_bytes_);
      room = byte_room <= 0 ? 0 : capacity_ - static_cast<int>(queue_.size());
      if (cursor >= end || end_after_queue_) {
        // Replay done: the live events held back come next, filtered now.
        replaying_ = false;
        for (const auto& e : live_backlog_) Enqueue(e);
        live_backlog_.clear();
        backlog_bytes_ = 0;
        room = -1;
      } else if (room <= 0) {
        replay_paused_ = true;
      }
    }
    if (room > 0) {
      absl::StatusOr<std::vector<StoredEvent>> events = store_->Read(
          cursor, std::min(room, kReplayBatch), byte_room, absl::Now() + limits_.call_timeout);
      if (!events.ok()) return FinishOnce(ToGrpcStatus(events.status()));
      {
        absl::MutexLock lock(&mu_);
        if (events->empty()) replay_cursor_ = end;  // nothing stored up to the hub position
        for (StoredEvent& e : *events) {
          if (e.event.id() > end) {
            replay_cursor_ = end;
            break;
          }
          replay_cursor_ = e.event.id();
          Enqueue(std::make_shared<const StoredEvent>(std::move(e)));
        }
      }
      // One read per task: the next one waits its turn, so a far-behind
      // replay shares the workers instead of holding one to the end.
      ScheduleTask([this] { ReplayChunk(); });
    }
    Pump();
  }

  void Enqueue(const std::shared_ptr<const StoredEvent>& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // The caller has these already; the filter's starting membership is
    // newer than them too.
    if (e->event.id() <= skip_through_ || end_after_queue_) return;
    if (filter_->Matches(*e)) {
      queue_.push_back(e);
      queued_bytes_ += e->bytes;
      stats_->queued.fetch_add(1);
    }
    if (filter_->lost_access()) {
      // Delivered what took the access (the viewer's leave, the deletion);
      // nothing after it, and a status the client must not resume after.
      end_after_queue_ =
          grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                       absl::StrCat("viewer_id: may no longer read channel ", e->event.channel_id(),
                                    " (left, removed or deleted) after event ", e->event.id()));
    }
  }

  // Overflow: the limit a stream hit and the status that ends it.
  struct Overflow {
    Limit limit;
    grpc::Status status;
  };

  // OverflowLocked says which bound a backlog of `events` and `bytes`
  // passes, and how the stream would end, if it does.
  std::optional<Overflow> OverflowLocked(size_t events, size_t bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (static_cast<int>(events) > capacity_) {
      return Overflow{Limit::kStreamQueueEvents,
                      Exhausted(absl::StrCat("more than ", capacity_, " events waiting"))};
    }
    if (bytes > limits_.queue_bytes) {
      return Overflow{Limit::kStreamQueueBytes,
                      Exhausted(absl::StrCat("more than ", limits_.queue_bytes, " bytes waiting"))};
    }
    return std::nullopt;
  }
  grpc::Status Exhausted(absl::string_view why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("subscriber too slow: ", why,
                                     "; resume with after_event_id=", last_written_id_));
  }

  // SchedulePump has a fan-out thread start the next write, unless one is
  // in progress (its OnWriteDone continues) or already scheduled. Called
  // by OnEvents on the hub's thread, which so only queues: a gRPC write
  // costs ~20 us, and written inline one stream's would hold up every
  // stream after it, all on the hub's one core.
  void SchedulePump() {
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || writing_ || pump_scheduled_) return;
      pump_scheduled_ = true;
    }
    ScheduleTask(
        [this] {
          {
            absl::MutexLock lock(&mu_);
            pump_scheduled_ = false;
          }
          Pump();
        },
        WorkQueue::kContinue, fanout_);
  }

  void Pump() {
    const v1::Event* next = nullptr;
    std::optional<grpc::Status> end;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || writing_) return;
      if (queue_.empty()) {
        if (!end_after_queue_) return;
        end = end_after_queue_;
      } else {
        writing_ = true;
        write_started_ = absl::Now();
        next = &queue_.front()->event;
      }
    }
    if (end) return FinishOnce(*end);
    StartWrite(next);
  }

  // TryFinish finishes the stream; false if it was already finished.
  bool TryFinish(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return false;
      finished_ = true;
    }
    Finish(status);
    return true;
  }
  void FinishOnce(const grpc::Status& status) { TryFinish(status); }

  grpc::CallbackServerContext* const context_;
  EventHub* const hub_;
  EventStore* const store_;
  WorkQueue* const work_;
  WorkQueue* const fanout_;
  const EventStreamLimits limits_;
  const int capacity_;
  EventStreamStats* const stats_;
  const v1::SubscribeRequest request_;

  absl::Mutex mu_;
  std::optional<EventFilter> filter_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<const StoredEvent>> queue_ ABSL_GUARDED_BY(mu_);
  EventBatch live_backlog_ ABSL_GUARDED_BY(mu_);
  bool replaying_ ABSL_GUARDED_BY(mu_) = true;
  bool replay_paused_ ABSL_GUARDED_BY(mu_) = false;
  int64_t replay_cursor_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t replay_end_ ABSL_GUARDED_BY(mu_) = 0;
  // Events through this id are not delivered: the cursor, which can be
  // ahead of the hub.
  int64_t skip_through_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_written_id_ ABSL_GUARDED_BY(mu_) = 0;
  const std::function<void()> release_;
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;   // of queue_
  size_t backlog_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // of live_backlog_
  absl::Time write_started_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // Set once the filter lost the viewer's access: finish with it when the
  // queue has drained.
  std::optional<grpc::Status> end_after_queue_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  int tasks_ ABSL_GUARDED_BY(mu_) = 0;
  bool pump_scheduled_ ABSL_GUARDED_BY(mu_) = false;  // a SchedulePump task is pending
};

}  // namespace

grpc::ServerWriteReactor<v1::Event>* NewEventStream(
    grpc::CallbackServerContext* context, EventHub* hub, EventStore* store, WorkQueue* work,
    WorkQueue* fanout, const EventStreamLimits& limits, EventStreamStats* stats,
    const v1::SubscribeRequest& request, const EndUserAuth* end_users, const absl::Status& admitted,
    std::function<void()> release) {
  return new EventStream(context, hub, store, work, fanout, limits, stats, request, end_users,
                         admitted, std::move(release));
}

void AppendStreamMetrics(const EventStreamStats& stats, std::string* out) {
  AppendGauge(out, "chatgenius_events_subscribers", "Open Subscribe streams.", stats.open.load());
  AppendGauge(out, "chatgenius_events_queued", "Events waiting in stream queues.",
              stats.queued.load());
  AppendCounter(out, "chatgenius_events_delivered_total", "Events written to subscribers.",
                stats.delivered_total.load());
  AppendCounter(out, "chatgenius_events_dropped_streams_total",
                "Streams closed RESOURCE_EXHAUSTED because the subscriber was too slow.",
                stats.dropped_total.load());
}

}  // namespace chatgenius
