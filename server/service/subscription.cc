#include "server/service/subscription.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/validation.h"

namespace chatgenius {

namespace v1 = ::chatgenius::db::v1;

absl::Status ValidateSubscribe(const v1::SubscribeRequest& r) {
  if (r.channel_ids().empty() && r.user_id().empty()) {
    return absl::InvalidArgumentError(
        "channel_ids: set channel_ids (with viewer_id) or user_id; neither was set");
  }
  if (!r.channel_ids().empty() && !r.user_id().empty()) {
    return absl::InvalidArgumentError("channel_ids: set channel_ids or user_id, not both");
  }
  if (r.channel_ids_size() > kMaxSubscribeChannels) {
    return absl::InvalidArgumentError(
        absl::StrCat("channel_ids: at most ", kMaxSubscribeChannels, " channels"));
  }
  for (int i = 0; i < r.channel_ids_size(); ++i) {
    if (absl::Status s = ValidateId(absl::StrCat("channel_ids[", i, "]"), r.channel_ids(i));
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = ValidateId("user_id", r.user_id(), /*required=*/false); !s.ok()) return s;
  // A channel stream reads on behalf of someone: the access rule applies.
  if (!r.channel_ids().empty()) {
    if (absl::Status s = ValidateId("viewer_id", r.viewer_id()); !s.ok()) return s;
  } else if (!r.viewer_id().empty() && r.viewer_id() != r.user_id()) {
    return absl::InvalidArgumentError(
        "viewer_id: a user stream reads as its user_id; leave viewer_id empty");
  }
  if (r.after_event_id() < 0) {
    return absl::InvalidArgumentError("after_event_id: must not be negative");
  }
  return absl::OkStatus();
}

absl::StatusOr<StreamStart> StartStream(EventStore& store, const v1::SubscribeRequest& request,
                                        absl::Time deadline) {
  // The cursor must lie within the log; a live-only stream starts at its
  // latest event. (The database's, not the hub's position: the hub may
  // not have read the newest commits yet, and a cursor may come from
  // another replica. The hub's events through `start` are skipped.)
  const int64_t after = request.after_event_id();
  absl::StatusOr<EventLogBounds> bounds = store.Bounds(deadline);
  if (!bounds.ok()) return bounds.status();
  if (after > 0 && after < bounds->pruned_through) {
    return absl::OutOfRangeError(
        absl::StrCat("after_event_id: events up to ", bounds->pruned_through,
                     " were pruned by retention; resync and subscribe with after_event_id=0"));
  }
  if (after > bounds->latest) {
    return absl::OutOfRangeError(
        absl::StrCat("after_event_id: ", after, " is beyond the latest event ", bounds->latest));
  }
  int64_t start = after;
  if (after == 0) {
    // "Live only" starts after everything committed so far: a caller
    // subscribing right after a write is not sent that write.
    absl::StatusOr<int64_t> live = store.LiveStart(absl::Seconds(1), deadline);
    if (!live.ok()) return live.status();
    start = *live;
  }
  // A user's channels as of `start`: the replayed and live events after
  // it then move the filter's membership forward one by one. (Read after
  // the bounds: a live-only stream's snapshot must cover every join and
  // leave through `start`, whose events the filter never sees.)
  // Who reads, and what they may read: checked now, then the filter
  // applies the rule to each event as of that event.
  const std::string& reader = request.user_id().empty() ? request.viewer_id() : request.user_id();
  absl::StatusOr<std::vector<std::string>> member_of = store.ChannelsOf(
      request.user_id().empty() ? "viewer_id" : "user_id", reader, after, deadline);
  if (!member_of.ok()) return member_of.status();
  std::set<std::string> membership(member_of->begin(), member_of->end());
  if (!request.user_id().empty()) {
    return StreamStart{start, EventFilter::ForUser(reader, std::move(membership))};
  }
  const std::vector<std::string> requested(request.channel_ids().begin(),
                                           request.channel_ids().end());
  absl::StatusOr<StreamAccess> access = store.StreamAccessOf(reader, requested, deadline);
  if (!access.ok()) return access.status();
  return StreamStart{start, EventFilter::ForChannels(
                                reader, std::set<std::string>(requested.begin(), requested.end()),
                                std::move(access->public_channels), std::move(membership))};
}

}  // namespace chatgenius
