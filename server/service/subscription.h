// subscription.h
//
// What a SubscribeRequest means, before any event flows: ValidateSubscribe
// checks its shape (no database), StartStream resolves where the stream
// starts and what its reader may see (a few reads, no gRPC).
#ifndef CHATGENIUS_SERVER_SERVICE_SUBSCRIPTION_H_
#define CHATGENIUS_SERVER_SERVICE_SUBSCRIPTION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chatgenius/db/v1/event_service.pb.h"
#include "server/realtime/event_filter.h"
#include "server/store/event_store.h"

namespace chatgenius {

// kMaxSubscribeChannels bounds a channel-filtered subscription.
inline constexpr int kMaxSubscribeChannels = 1000;

// ValidateSubscribe: channel_ids (at most kMaxSubscribeChannels, with
// viewer_id) or user_id (viewer_id empty or the same), ids well formed,
// after_event_id not negative. INVALID_ARGUMENT naming the field otherwise.
absl::Status ValidateSubscribe(const db::v1::SubscribeRequest& request);

// StreamStart: the position a stream starts after, and its filter as of it.
struct StreamStart {
  int64_t after = 0;
  EventFilter filter;
};

// StartStream resolves a validated request within `deadline`. The cursor
// must lie within the log: OUT_OF_RANGE if retention pruned past it or it
// is beyond the latest event. after_event_id 0 ("live only") starts after
// every event committed by now (EventStore::LiveStart), so a caller
// subscribing right after a write is not sent that write. The reader (the
// user_id, or the viewer_id of a channel stream) must be a live user, and
// may read every requested channel (NOT_FOUND / PERMISSION_DENIED
// otherwise, as EventStore::StreamAccessOf says).
absl::StatusOr<StreamStart> StartStream(EventStore& store, const db::v1::SubscribeRequest& request,
                                        absl::Time deadline);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_SERVICE_SUBSCRIPTION_H_
