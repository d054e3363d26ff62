// event_filter.h
//
// EventFilter decides which events one Subscribe stream delivers, seeing
// every event in id order (live from the hub, or replayed from the log),
// and applies the channel access rule (server/store/channel_access.h) to
// each of them as of that event:
// - a user's stream: the events of every channel the user belongs to,
//   following their joins and leaves as the events arrive, plus status
//   changes of the user and of anyone sharing one of those channels;
// - a channel stream on behalf of a viewer: the events of the requested
//   channels that the viewer may read at that event — public channels
//   always, private and direct ones while a member (a replay from before
//   the viewer joined starts at their MEMBER_JOINED). When the viewer
//   leaves a private or direct channel, or a requested channel is deleted,
//   that event is delivered and lost_access() turns true: the stream ends.
// Pure logic, one stream's state: not thread-safe.
#ifndef CHATGENIUS_SERVER_REALTIME_EVENT_FILTER_H_
#define CHATGENIUS_SERVER_REALTIME_EVENT_FILTER_H_

#include <optional>
#include <set>
#include <string>

#include "server/store/event_store.h"

namespace chatgenius {

class EventFilter {
 public:
  // ForUser: `member_of` is the user's membership at the stream's start.
  static EventFilter ForUser(std::string user_id, std::set<std::string> member_of);
  // ForChannels: `channels` are the requested ones, `public_channels` those
  // of them anyone may read, `member_of` the viewer's membership at the
  // stream's start (any channels; only requested ones matter).
  static EventFilter ForChannels(std::string viewer_id, std::set<std::string> channels,
                                 std::set<std::string> public_channels,
                                 std::set<std::string> member_of);

  // Matches returns whether to deliver `e`, moving the membership forward
  // on the user's own joins and leaves and on channel deletion.
  bool Matches(const StoredEvent& e);

  // MayMatch is false only for an event that Matches would refuse whatever
  // events come before it: for a channel stream, one in none of the
  // requested channels (a user stream's membership can grow with any join
  // still to be replayed, so there it is always true). Lets a stream drop
  // such events from its live backlog while it replays, without changing
  // what it delivers.
  bool MayMatch(const StoredEvent& e) const;

  // lost_access is true once a channel stream delivered the event that
  // took the viewer's access to one of its channels; nothing after it may
  // be delivered.
  bool lost_access() const { return lost_access_; }

 private:
  EventFilter(std::string user_id, std::optional<std::set<std::string>> requested,
              std::set<std::string> public_channels, std::set<std::string> member_of);
  bool Readable(const std::string& channel) const;

  std::string user_id_;  // the subscribing user, or the channel stream's viewer
  // Channel streams only: the channels asked for.
  std::optional<std::set<std::string>> requested_;
  std::set<std::string> public_;    // requested public channels
  std::set<std::string> channels_;  // the user's membership as of the last event
  bool lost_access_ = false;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_REALTIME_EVENT_FILTER_H_
