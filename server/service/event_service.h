// event_service.h
//
// EventServiceImpl: EventService.Subscribe on gRPC's callback API. It
// counts each new stream against MAX_EVENT_STREAMS and
// MAX_EVENT_STREAMS_PER_CALLER (RESOURCE_EXHAUSTED at once past either) and
// hands it to an EventStream (event_stream.h), which does the rest.
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
#include "server/service/event_stream.h"
#include "server/service/subscription.h"
#include "server/store/event_store.h"

namespace chatgenius {

class EventServiceImpl final : public db::v1::EventService::CallbackService {
 public:
  // Pointers must outlive the service. Streams replay stored events on
  // `work` and write live ones on `fanout`. `end_users` (may be null:
  // end-user tokens off) checks each stream's reader against its
  // x-end-user-token.
  EventServiceImpl(EventHub* hub, EventStore* store, WorkQueue* work, WorkQueue* fanout,
                   EventStreamLimits limits, const EndUserAuth* end_users = nullptr);

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
  WorkQueue* const fanout_;
  const EventStreamLimits limits_;
  const EndUserAuth* const end_users_;
  EventStreamStats stats_;
  absl::Mutex mu_;
  int streams_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, int> per_caller_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_SERVICE_EVENT_SERVICE_H_
