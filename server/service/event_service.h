// event_service.h
//
// EventServiceImpl: EventService.Subscribe on gRPC's callback API, so
// 1,000 open streams are 1,000 small reactor objects, not 1,000 blocked
// threads. Each stream:
//  1. checks the cursor against the log's bounds and sends initial
//     metadata naming the id it starts after (S: the after_event_id, or for
//     "live only" the latest event in the database);
//  2. registers with the EventHub, learning the position P the hub has
//     fanned out through; later events arrive from the hub;
//  3. replays stored events in (S, P] from the database on a
//     small worker pool, in chunks that respect its queue bound, while live
//     events wait;
//  4. then streams live events — no gap (the hub position splits replay and
//     live exactly), no duplicate, in id order.
// Each stream's queue is bounded; a subscriber that cannot keep up is
// finished with RESOURCE_EXHAUSTED naming the id to resume after, and never
// delays the others. A cursor older than what retention kept, or beyond
// the latest stored event, is OUT_OF_RANGE; one the hub has not read yet is
// fine (the hub's events through S are dropped). Shutdown finishes streams
// with UNAVAILABLE.
#ifndef CHATGENIUS_SERVER_SERVICE_EVENT_SERVICE_H_
#define CHATGENIUS_SERVER_SERVICE_EVENT_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <string>
#include "chatgenius/db/v1/event_service.grpc.pb.h"

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/auth/acting_user.h"
#include "server/common/work_queue.h"
#include "server/realtime/event_hub.h"
#include "server/store/event_store.h"

namespace chatgenius {

// kStartAfterMetadata is the initial-metadata key telling a Subscribe
// caller the event id its stream starts after (its after_event_id, or for
// "live only" the latest event when it started), sent before any event:
// once a caller has it, every later commit reaches the stream, and a stream
// that breaks before its first event resumes from it.
inline constexpr char kStartAfterMetadata[] = "chatgenius-start-after";

// kMaxSubscribeChannels bounds a channel-filtered subscription.
inline constexpr int kMaxSubscribeChannels = 1000;

// EventStreamStats counts Subscribe streams for metrics; updated lock-free
// by the streams.
struct EventStreamStats {
  std::atomic<int64_t> open{0};             // streams currently open
  std::atomic<int64_t> queued{0};           // events waiting in all stream queues
  std::atomic<int64_t> delivered_total{0};  // events written to clients
  std::atomic<int64_t> dropped_total{0};    // streams closed RESOURCE_EXHAUSTED
};

// AppendStreamMetrics renders `stats` (chatgenius_events_subscribers, _queued,
// _delivered_total, _dropped_streams_total).
void AppendStreamMetrics(const EventStreamStats& stats, std::string* out);

// EventStreamLimits bound what streams can hold (README "Configuration").
// Past a queue bound, or when the client has not taken the event being
// written for `write_timeout` while more arrive, a stream ends
// RESOURCE_EXHAUSTED naming the id to resume after; past a count, a new
// stream is refused RESOURCE_EXHAUSTED at once.
struct EventStreamLimits {
  int queue_events = 1000;                           // EVENT_STREAM_QUEUE
  size_t queue_bytes = 4 << 20;                      // EVENT_STREAM_QUEUE_BYTES
  absl::Duration write_timeout = absl::Seconds(30);  // EVENT_STREAM_WRITE_TIMEOUT_MS
  int max_streams = 20000;                           // MAX_EVENT_STREAMS
  int max_streams_per_caller = 10000;                // MAX_EVENT_STREAMS_PER_CALLER
};

class EventServiceImpl final : public db::v1::EventService::CallbackService {
 public:
  // Pointers must outlive the service. `end_users` (may be null: end-user
  // tokens off) checks each stream's reader against its x-end-user-token.
  EventServiceImpl(EventHub* hub, EventStore* store, WorkQueue* work, EventStreamLimits limits,
                   const EndUserAuth* end_users = nullptr);

  grpc::ServerWriteReactor<db::v1::Event>* Subscribe(
      grpc::CallbackServerContext* context, const db::v1::SubscribeRequest* request) override;

  const EventStreamStats& stats() const { return stats_; }

 private:
  // Admit counts a new stream of `caller` against the limits, or says why
  // not; Release undoes it when the stream is gone.
  absl::Status Admit(const std::string& caller);
  void Release(const std::string& caller);

  EventHub* const hub_;
  EventStore* const store_;
  WorkQueue* const work_;
  const EventStreamLimits limits_;
  const EndUserAuth* const end_users_;
  EventStreamStats stats_;
  absl::Mutex mu_;
  int streams_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, int> per_caller_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_SERVICE_EVENT_SERVICE_H_
