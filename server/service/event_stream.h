// event_stream.h
//
// EventStream: one EventService.Subscribe stream, a gRPC callback reactor
// (1,000 open streams are 1,000 small objects, not 1,000 blocked threads),
// and the limits and statistics every stream shares. A stream:
//  1. checks the cursor against the log's bounds and sends initial
//     metadata naming the id it starts after (S: the after_event_id, or for
//     "live only" the latest event in the database);
//  2. registers with the EventHub, learning the position P the hub has
//     fanned out through; later events arrive from the hub;
//  3. replays stored events in (S, P] from the database on the work
//     queue, in chunks that respect its queue bound, while live events
//     wait;
//  4. then streams live events — no gap (the hub position splits replay and
//     live exactly), no duplicate, in id order, each through its
//     EventFilter (what this reader may see, event by event).
// Each stream's queue is bounded in events and bytes; a subscriber that
// cannot keep up, or takes no event for write_timeout, is finished with
// RESOURCE_EXHAUSTED naming the id to resume after, and never delays the
// others. A cursor older than what retention kept, or beyond the latest
// stored event, is OUT_OF_RANGE; one the hub has not read yet is fine (the
// hub's events through S are dropped). Shutdown finishes streams with
// UNAVAILABLE. Every database call a stream makes is bounded by
// call_timeout. The request's meaning (validation, start, filter) is
// subscription.h's.
//
// Lifetime: created by EventServiceImpl::Subscribe, deleted when gRPC is
// done with it (OnDone) and no task on the work queue still refers to it,
// whichever comes last.
#ifndef CHATGENIUS_SERVER_SERVICE_EVENT_STREAM_H_
#define CHATGENIUS_SERVER_SERVICE_EVENT_STREAM_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "chatgenius/db/v1/event_service.grpc.pb.h"
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
  // Bounds each database call a stream makes (cursor checks, membership,
  // each replay read): a stream has no deadline of its own, so, as for any
  // call without one, STATEMENT_TIMEOUT_MS.
  absl::Duration call_timeout = absl::Seconds(30);
};

// NewEventStream starts a stream for `request` (validated here: a bad
// request, or `admitted` not OK, finishes it at once). It replays stored
// events on `work`; live events from the hub are queued on the hub's
// thread and written on `fanout`, so one stream's write does not wait for
// the others'. Pointers must outlive it; `release` runs when it is gone.
// gRPC owns the result.
grpc::ServerWriteReactor<db::v1::Event>* NewEventStream(
    grpc::CallbackServerContext* context, EventHub* hub, EventStore* store, WorkQueue* work,
    WorkQueue* fanout, const EventStreamLimits& limits, EventStreamStats* stats,
    const db::v1::SubscribeRequest& request, const EndUserAuth* end_users,
    const absl::Status& admitted, std::function<void()> release);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_SERVICE_EVENT_STREAM_H_
